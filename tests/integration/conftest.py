"""An app whose database connections pass through a counting, cuttable proxy."""

from __future__ import annotations

import pytest

from app.services.clock import FrozenClock
from tests.conftest import make_settings
from tests.support.db import truncate_all
from tests.support.pgproxy import RoundTripProxy
from tests.support.running import running_app


@pytest.fixture
async def proxied(database_url, clock: FrozenClock):  # type: ignore[no-untyped-def]
    await truncate_all(database_url)
    proxy = RoundTripProxy(database_url)
    await proxy.up()
    try:
        async with running_app(make_settings(proxy.url), clock) as (client, container):
            yield proxy, client, container
    finally:
        await proxy.close()
