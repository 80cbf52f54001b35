"""An app whose database connections pass through a counting, cuttable proxy."""

from __future__ import annotations

import asyncio

import pytest

from app.services.clock import FrozenClock
from tests.support.apps import QUIET_BACKGROUND, running_app
from tests.support.db import truncate_all
from tests.support.pgproxy import RoundTripProxy


@pytest.fixture
async def proxied(database_url, clock: FrozenClock):  # type: ignore[no-untyped-def]
    await truncate_all(database_url)
    proxy = RoundTripProxy(database_url)
    await proxy.up()
    try:
        async with running_app(proxy.url, clock, **QUIET_BACKGROUND) as running:
            # The config listener connects and sends its LISTEN once, in the background: done
            # before the test counts anything.
            listener = await running.container.config_listener.async_()
            await asyncio.wait_for(listener.listening.wait(), 5)
            yield proxy, running.client, running.container
    finally:
        await proxy.close()
