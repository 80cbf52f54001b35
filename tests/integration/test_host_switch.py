"""The primary changes under a running app whose DATABASE_URL names two hosts.

"Killed": the first host (a proxy to the test server) goes away; the app must move to the
second host by itself, answering 503 (fail closed) at most while it switches. "Fenced": the
server the app is connected to starts refusing writes without dropping its connections; the
pools must drop those connections and connect anew rather than keep failing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from app import dburl
from app.services.clock import FrozenClock
from tests.support import api
from tests.support.apps import Running, running_with_proxy
from tests.support.parental import put_config
from tests.support.pgproxy import RoundTripProxy

pytestmark = pytest.mark.anyio


def hosts(*urls: str) -> str:
    """One URL naming the hosts of `urls` in turn (same user and database)."""
    first = dburl.parse(urls[0])
    listed = tuple(h for url in urls for h in dburl.parse(url).hosts)
    return dburl.DatabaseUrl(first.scheme, first.userinfo, listed, first.path, ()).libpq()


async def settles(call: Callable[[], Awaitable[httpx.Response]], attempts: int = 50) -> int:
    """Repeat `call` until it answers 200; each answer before must be 503. Returns how many."""
    for failures in range(attempts):
        r = await call()
        if r.status_code == 200:
            return failures
        assert r.status_code == 503, r.text
        await asyncio.sleep(0.1)
    raise AssertionError("never recovered")


@pytest.fixture
async def two_hosts(database_url: str, tcp_database_url: str,
                    clock: FrozenClock) -> AsyncIterator[tuple[RoundTripProxy, Running]]:
    """An app on "the proxy, then the test server", LISTENing (through the proxy)."""
    async with running_with_proxy(database_url, clock, lambda proxy: {
            "database_url": hosts(proxy, tcp_database_url)}) as (proxy, running):
        listener = await running.container.config_listener.async_()
        await asyncio.wait_for(listener.listening.wait(), 5)
        yield proxy, running


async def watching(running: Running, email: str) -> tuple[api.Parent, api.Titles, str, str]:
    """A parent, the titles, a child and the session of the child's first heartbeat."""
    parent = await api.signed_up(running.client, email)
    titles = await api.seed_titles(running.container)
    kid = await parent.child()
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    return parent, titles, kid, session


async def test_a_killed_first_host_is_left_for_the_second(two_hosts, clock) -> None:
    first, running = two_hosts
    parent, titles, kid, session = await watching(running, "failover@example.com")
    assert first.round_trips > 0  # the app was on the first host

    await first.down()
    after = first.round_trips
    clock.advance(30)
    await settles(lambda: parent.beat(kid, titles.cartoon, session))
    await settles(lambda: put_config(parent, kid, weekday_limit_minutes=45))
    await settles(lambda: running.client.get("/readyz"))
    listener = await running.container.config_listener.async_()
    await asyncio.wait_for(listener.listening.wait(), 5)  # LISTENing again, on the second host
    assert first.round_trips == after  # and nothing went to the dead one


async def fence(pool_connections: list[Any], orm: Running) -> None:
    """Make the app's open sessions read-only, as ALTER SYSTEM + reload would on a fenced
    primary (new sessions, from a pool's reconnect, start writable again)."""
    for conn in pool_connections:
        await conn.execute("SET default_transaction_read_only = on")
    engine = await orm.container.engine.async_()
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SET default_transaction_read_only = on")
        await conn.commit()


async def test_a_fenced_server_is_dropped_not_written_to_forever(two_hosts, clock) -> None:
    _, running = two_hosts
    parent, titles, kid, session = await watching(running, "fenced@example.com")

    hot = await running.container.hot_pool.async_()
    assert hot.pool is not None
    held = [await hot.pool.acquire() for _ in range(hot.pool.get_max_size())]
    try:
        await fence(held, running)
    finally:
        for conn in held:
            await hot.pool.release(conn)

    clock.advance(30)
    assert await settles(lambda: parent.beat(kid, titles.cartoon, session)) == 1
    assert await settles(lambda: put_config(parent, kid, weekday_limit_minutes=45)) == 1


async def test_a_listener_on_a_read_only_server_moves(database_url, monkeypatch) -> None:
    """NOTIFYs happen on the primary only: a LISTEN session left on a fenced (or demoted)
    server would hear nothing, so its ping checks for read-only and it reconnects."""
    from app.database import connect
    from app.repositories import profile_facts

    sessions = 0

    async def fenced_then_writable(*args: Any, **kwargs: Any) -> Any:
        nonlocal sessions
        sessions += 1
        conn = await connect(*args, **kwargs)
        if sessions == 1:
            await conn.execute("SET default_transaction_read_only = on")
        return conn

    monkeypatch.setattr(profile_facts, "connect", fenced_then_writable)
    reconnected = asyncio.Event()
    listener = profile_facts.ConfigChangeListener(
        database_url, on_change=lambda _id: None, on_reconnect=reconnected.set,
        retry_seconds=0.05, ping_seconds=0.05)
    listener.start()
    try:
        await asyncio.wait_for(reconnected.wait(), 5)
        await asyncio.sleep(0.2)  # and it stays on the writable session
        assert sessions == 2 and listener.listening.is_set()
    finally:
        await listener.stop()
