"""DATABASE_READ_URL: the lag-tolerant reads (history, weekly report, grants list, titles) go to
it; the heartbeat, writes and /readyz never do. The read URL here is a counting proxy to the
same database, so every query that reaches it shows up in its round-trip count."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from app.services.clock import FrozenClock
from tests.support import api
from tests.support.apps import Running, running_with_proxy
from tests.support.parental import grant, grants, history, pin_token, set_pin, weekly_report
from tests.support.pgproxy import RoundTripProxy

pytestmark = pytest.mark.anyio


@pytest.fixture
async def split(database_url: str,
                clock: FrozenClock) -> AsyncIterator[tuple[RoundTripProxy, Running]]:
    async with running_with_proxy(database_url, clock,
                                  lambda proxy: {"database_read_url": proxy}) as both:
        yield both


async def reads_of(proxy: RoundTripProxy, call: Callable[[], Awaitable[httpx.Response]]) -> int:
    """Round trips `call` sent to the read URL; it must succeed."""
    before = proxy.round_trips
    r = await call()
    assert r.status_code < 300, r.text
    return proxy.round_trips - before


async def test_lagging_reads_use_the_read_url_and_nothing_else_does(split) -> None:
    reads, running = split
    client = running.client
    parent = await api.signed_up(client, "parent@example.com")
    titles = await api.seed_titles(running.container)
    kid = await parent.child()
    await set_pin(parent)
    token = await pin_token(parent)
    assert await reads_of(reads, lambda: parent.beat(kid, titles.cartoon)) == 0
    assert await reads_of(reads, lambda: grant(parent, kid, minutes=15, pin_token=token)) == 0
    assert await reads_of(reads, lambda: client.get("/readyz")) == 0
    assert await reads_of(reads, lambda: grants(parent, kid)) > 0
    assert await reads_of(reads, lambda: history(parent, kid)) > 0
    assert await reads_of(reads, lambda: weekly_report(parent)) > 0
    assert await reads_of(reads, lambda: client.get(f"{api.API}/titles",
                                                    headers=parent.headers)) > 0


async def test_the_read_pool_has_its_own_gauges(split) -> None:
    reads, running = split
    parent = await api.signed_up(running.client, "parent@example.com")
    await running.client.get(f"{api.API}/titles", headers=parent.headers)
    text = (await running.client.get("/metrics")).text
    assert 'vts_db_pool_connections{pool="orm_read"}' in text


async def test_unset_reads_share_the_primary_engine(container) -> None:
    engine = await container.engine.async_()
    try:
        assert await container.read_engine.async_() is engine
    finally:
        await container.shutdown_resources()
