"""The service behind a real transaction-mode PgBouncer, configured as deploy/README.md says:
DB_STATEMENT_CACHE_SIZE=0, LISTEN on a direct connection.

PgBouncer's pool is smaller than the app's pools, so the app's connections really share server
connections; a control case shows that this breaks the default (named, cached) statements.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from app.database import asyncpg_dsn
from app.services.clock import FrozenClock
from containers import Container
from tests.deploy.pgbouncer import PgBouncer, find_pgbouncer
from tests.support import api
from tests.support.apps import QUIET_BACKGROUND, running_app
from tests.support.pgproxy import RoundTripProxy

SERVER_POOL = 2  # server connections PgBouncer may open to the database
APP_POOL = 6  # client connections in each of the app's pools
CHILDREN = 12
Bounced = tuple[httpx.AsyncClient, Container, RoundTripProxy]

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def pgbouncer(deploy_database_url: str) -> Iterator[PgBouncer]:
    binary = find_pgbouncer()
    if binary is None:
        pytest.skip("pgbouncer not found: install Debian's pgbouncer package (.ci/run does)")
    bouncer = PgBouncer(binary, deploy_database_url, pool_size=SERVER_POOL).start()
    try:
        yield bouncer
    finally:
        bouncer.stop()


async def _statement_outlives_its_server(url: str, *, statement_cache_size: int) -> None:
    """Run a statement, keep its server connection busy elsewhere, run the statement again."""
    a = await asyncpg.connect(asyncpg_dsn(url), statement_cache_size=statement_cache_size)
    b = await asyncpg.connect(asyncpg_dsn(url), statement_cache_size=statement_cache_size)
    try:
        assert await a.fetchval("SELECT $1::int + 1", 1) == 2  # prepared on server X
        async with b.transaction():  # b now holds X, the only idle server connection
            assert await a.fetchval("SELECT $1::int + 1", 2) == 3  # runs on a new server Y
    finally:
        await a.close()
        await b.close()


async def test_control_cached_statements_break_behind_transaction_pooling(
        pgbouncer: PgBouncer) -> None:
    # Proof that the pooler really reassigns server connections between transactions: a
    # statement prepared (and cached by name) on one server connection is missing on the next.
    with pytest.raises(asyncpg.PostgresError, match="prepared statement .* does not exist"):
        await _statement_outlives_its_server(pgbouncer.url(), statement_cache_size=100)
    await _statement_outlives_its_server(pgbouncer.url(), statement_cache_size=0)


@pytest.fixture
async def bounced(pgbouncer: PgBouncer, deploy_database_url: str,
                  clock: FrozenClock) -> AsyncIterator[Bounced]:
    """The app configured for the pooler; its pooled connections pass a round-trip counter."""
    proxy = RoundTripProxy(pgbouncer.url())
    await proxy.up()
    try:
        async with running_app(proxy.url, clock, db_statement_cache_size=0,
                               database_listen_url=deploy_database_url,
                               db_pool_size=APP_POOL, **QUIET_BACKGROUND) as running:
            yield running.client, running.container, proxy
    finally:
        await proxy.close()


async def _server_connections(database_url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query NOT ILIKE 'LISTEN%'")
    finally:
        await conn.close()


async def test_heartbeats_through_pgbouncer(bounced: Bounced, deploy_database_url: str,
                                            clock: FrozenClock) -> None:
    client, container, proxy = bounced
    parent = await api.signed_up(client, f"bouncer-{uuid.uuid4().hex[:8]}@example.com")
    titles = await api.seed_titles(container)
    children = [await parent.child(f"Kid {i}") for i in range(CHILDREN)]

    sessions: dict[str, str | None] = dict.fromkeys(children)
    for _ in range(4):  # a first beat, then three continuing ones, all children at once
        beats = await asyncio.gather(*(parent.beat(child, titles.cartoon, sessions[child])
                                       for child in children))
        for child, r in zip(children, beats):
            assert r.status_code == 200, r.text
            sessions[child] = r.json()["session_id"]
        clock.advance(30)

    for child in children:
        balance = await parent.balance(child)
        assert balance["used_minutes"] == 2.0  # opened (30 s) + three 30 s continuations

    # The price of the statement cache being off, as deploy/README.md states it: a continuing
    # heartbeat costs 2 round trips instead of 1 (Parse/Describe, then Parse/Bind/Execute).
    before = proxy.round_trips
    r = await parent.beat(children[0], titles.cartoon, sessions[children[0]])
    assert r.status_code == 200, r.text
    assert proxy.round_trips - before == 2
    r = await parent.end(sessions[children[0]])
    assert r.status_code == 200, r.text
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text

    # The app holds 2 × APP_POOL client connections; PostgreSQL saw only PgBouncer's few.
    assert await _server_connections(deploy_database_url) <= SERVER_POOL
