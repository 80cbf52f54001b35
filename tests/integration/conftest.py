"""An app whose database connections (but its LISTEN session) pass through a counting, cuttable
proxy."""

from __future__ import annotations

import pytest

from app.services.clock import FrozenClock
from tests.support.apps import QUIET_BACKGROUND, running_app
from tests.support.db import truncate_all
from tests.support.pgproxy import RoundTripProxy, tcp_front


@pytest.fixture
async def proxied(database_url, clock: FrozenClock):  # type: ignore[no-untyped-def]
    await truncate_all(database_url)
    proxy = RoundTripProxy(database_url)
    await proxy.up()
    try:
        # The config listener goes straight to the database: its LISTEN at start-up and its
        # ping every 30 s would otherwise land inside a counted beat now and then.
        async with running_app(proxy.url, clock, database_listen_url=database_url,
                               **QUIET_BACKGROUND) as running:
            yield proxy, running.client, running.container
    finally:
        await proxy.close()


@pytest.fixture
async def tcp_database_url(database_url: str):  # type: ignore[no-untyped-def]
    """The test database at a TCP host:port (tests/support/pgproxy.py `tcp_front`)."""
    async with tcp_front(database_url) as url:
        yield url
