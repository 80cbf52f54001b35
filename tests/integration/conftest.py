"""An app whose database connections pass through a counting, cuttable proxy."""

from __future__ import annotations

import pytest

from app.services.clock import FrozenClock
from tests.support.apps import running_app
from tests.support.db import truncate_all
from tests.support.pgproxy import RoundTripProxy


@pytest.fixture
async def proxied(database_url, clock: FrozenClock):  # type: ignore[no-untyped-def]
    await truncate_all(database_url)
    proxy = RoundTripProxy(database_url)
    await proxy.up()
    try:
        async with running_app(proxy.url, clock) as running:
            yield proxy, running.client, running.container
    finally:
        await proxy.close()
