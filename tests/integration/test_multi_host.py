"""A DATABASE_URL naming several hosts: a dead one first, then the test server. Every client
(the hot pool, the ORM engine, the LISTEN session, Alembic) must skip the dead host; and a URL
whose only live server refuses writes must not be used at all (503, never a write there)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from app import dburl
from app.migrations import head_revision, upgrade
from app.repositories.profile_facts import CONFIG_CHANNEL
from app.settings import Settings
from tests.support import api
from tests.support.apps import make_settings, running_app
from tests.support.db import _admin, fetch, scratch_database
from tests.support.parental import grant, grants, history, pin_token, put_config, set_pin
from tests.support.pgproxy import tcp_front
from tests.support.served import free_port

pytestmark = pytest.mark.anyio


def behind_a_dead_host(url: str) -> str:
    """`url` with a host nothing listens on listed before its own."""
    parsed = dburl.parse(url)
    assert len(parsed.hosts) == 1, "the test server's URL names one host"
    dead = dburl.Host("127.0.0.1", free_port())
    return dburl.DatabaseUrl(parsed.scheme, parsed.userinfo, (dead, *parsed.hosts),
                             parsed.path, parsed.query).libpq()


@pytest.fixture
def settings(tcp_database_url: str) -> Settings:
    return make_settings(behind_a_dead_host(tcp_database_url))


async def test_heartbeats_and_the_orm_skip_the_dead_host(client, parent, titles) -> None:
    kid = await parent.child()
    first = await parent.beat(kid, titles.cartoon)
    assert first.status_code == 200, first.text
    assert (await put_config(parent, kid, weekday_limit_minutes=45)).status_code == 200
    await set_pin(parent)
    token = await pin_token(parent)
    r = await grant(parent, kid, minutes=15, pin_token=token)
    assert r.status_code in (200, 201), r.text
    assert (await grants(parent, kid)).status_code == 200
    assert (await history(parent, kid)).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


async def test_the_listener_connects_past_the_dead_host(container, app, database_url) -> None:
    listener = await container.config_listener.async_()
    await asyncio.wait_for(listener.listening.wait(), 5)
    configs = await container.config_provider.async_()
    before = configs.invalidations
    await _admin(database_url, f"NOTIFY {CONFIG_CHANNEL}, '{uuid.uuid4()}'")
    for _ in range(100):
        if configs.invalidations > before:
            break
        await asyncio.sleep(0.02)
    assert configs.invalidations == before + 1


async def test_migrations_run_past_the_dead_host() -> None:
    # The scratch database and Alembic run event loops of their own: off this one, which serves
    # the TCP front.
    scratch = scratch_database()
    url = await asyncio.to_thread(scratch.__enter__)
    try:
        async with tcp_front(url) as tcp:
            await asyncio.to_thread(upgrade, behind_a_dead_host(tcp))
        rows = await fetch(url, "SELECT version_num FROM alembic_version")
        assert [r["version_num"] for r in rows] == [head_revision()]
    finally:
        await asyncio.to_thread(scratch.__exit__, None, None, None)


@contextlib.asynccontextmanager
async def silent_host() -> AsyncIterator[dburl.Host]:
    """A host that accepts connections and then never says a word (a frozen server)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield dburl.Host("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.transport.abort()
        server.close()


async def test_a_host_that_never_answers_costs_its_timeout_not_the_connection(
        tcp_database_url) -> None:
    parsed = dburl.parse(tcp_database_url)
    async with silent_host() as silent:
        url = dburl.DatabaseUrl(parsed.scheme, parsed.userinfo, (silent, *parsed.hosts),
                                parsed.path, ()).libpq()
        async with running_app(url, db_host_timeout_seconds=0.3) as running:
            listener = await running.container.config_listener.async_()
            await asyncio.wait_for(listener.listening.wait(), 5)
            for _ in range(50):  # the hot pool opens in the background at start-up
                if (await running.container.hot_pool.async_()).pool is not None:
                    break
                await asyncio.sleep(0.1)
            assert (await running.client.get("/readyz")).status_code == 200
            parent = await api.signed_up(running.client, "silent@example.com")
            titles = await api.seed_titles(running.container)
            r = await parent.beat(await parent.child(), titles.cartoon)
            assert r.status_code == 200, r.text
        await asyncio.to_thread(upgrade, url)  # Alembic too (its env runs a loop of its own)


@pytest.fixture
def read_only_database() -> Iterator[str]:
    """A migrated database every session of which starts read-only. PostgreSQL (14 and later)
    reports default_transaction_read_only at connect, which is what asyncpg's read-write check
    looks at first (a standby reports in_hot_standby, and fails the same check)."""
    with scratch_database(migrated=True) as url:
        name = dburl.parse(url).path.lstrip("/")
        asyncio.run(_admin(url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        yield url


@pytest.mark.parametrize("form", ["dead-then-read-only", "read-only-twice", "attrs-in-url"])
async def test_a_server_that_refuses_writes_is_never_used(read_only_database, form) -> None:
    async with tcp_front(read_only_database) as read_only:
        await _refused_everywhere(read_only, form)


async def _refused_everywhere(read_only: str, form: str) -> None:
    parsed = dburl.parse(read_only)
    url = {"dead-then-read-only": behind_a_dead_host(read_only),
           "read-only-twice": dburl.DatabaseUrl(parsed.scheme, parsed.userinfo,
                                                parsed.hosts * 2, parsed.path, ()).libpq(),
           "attrs-in-url": f"{read_only}?target_session_attrs=read-write"}[form]
    async with running_app(url) as running:
        client = running.client
        assert (await client.get("/readyz")).status_code == 503
        r = await client.post(f"{api.API}/auth/register",
                              json={"email": "p@example.com", "password": "long-enough-pw"})
        assert r.status_code == 503, r.text
        hot = await running.container.hot_pool.async_()
        assert hot.pool is None  # still retrying: no pool connection to the read-only server
