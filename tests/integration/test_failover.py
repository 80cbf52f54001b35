"""Failover: the primary dies under steady heartbeats and its synchronous standby is promoted;
the app, on one DATABASE_URL naming both servers, finds the new primary by itself.

Children watch one title without pause, all beating at once every 30 s of a frozen clock (the
stale gap is an hour). Under docs/time-accounting.md a session's charge after a committed beat
at `t` is then `t + 30 s - t0` whatever happened to the beats before it, so each 200 answer
says whether its beat was applied exactly once. An acknowledged beat that the standby missed
would be healed by the next beat (which pays the gap), so losses are looked for where they
would show: on the standby, once the primary is dead and before the promotion, against the
answers already given.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest

from app.migrations import upgrade
from app.repositories.profile_facts import CONFIG_CHANNEL
from app.services.clock import FrozenClock
from tests.hardening.ledger import assert_balanced
from tests.support import api
from tests.support.apps import Running, running_app
from tests.support.db import fetch, with_database
from tests.support.parental import put_config
from tests.support.pg_cluster import Node, PgCluster, missing_binaries, pg_cluster, pg_template

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

CHILDREN = 30
INTERVAL = 30
DEAD_SECONDS = 1.5  # heartbeats hitting a dead primary before the standby is promoted
OTHERS = 4  # balance reads and profile lists per round, beside the beats
PAUSE = 0.05  # between two rounds of beats
BOUND = 60.0  # for the switch on a loaded machine: a bound on waiting, never a speed claim
DATABASE = "vts"
# Short timeouts so that a dead server costs a beat little; tokens outlive the frozen hours.
SETTINGS = dict(stale_gap_seconds=3600, jwt_lifetime_seconds=30 * 86400, db_pool_size=8,
                db_acquire_timeout_seconds=1.0, db_statement_timeout_seconds=2.0,
                db_retry_interval_seconds=0.2)
UNAVAILABLE = {"detail": "Database unavailable"}
BLOCKED = {"session_id": None, "enforcement": "blocked", "reason": "enforcement_unavailable"}
T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    kid: str
    at: datetime  # the frozen instant the beat was sent at
    sent: float  # time.monotonic()
    received: float
    status: int
    body: dict[str, Any]


@dataclass
class Watchers:
    """Children beating in rounds: every round advances the clock one interval."""

    running: Running
    parent: api.Parent
    title_id: str
    clock: FrozenClock
    kids: list[str]
    t0: datetime
    sessions: dict[str, str]
    answers: list[Answer] = field(default_factory=list)
    others: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    listening: list[tuple[float, bool]] = field(default_factory=list)

    def expected_seconds(self, at: datetime) -> Decimal:
        return Decimal((at - self.t0).total_seconds() + INTERVAL)

    async def _beat(self, kid: str, at: datetime, sent: float) -> Answer:
        r = await self.parent.beat(kid, self.title_id, self.sessions[kid])
        return Answer(kid, at, sent, time.monotonic(), r.status_code, r.json())

    async def _others(self) -> list[tuple[str, int, dict[str, Any]]]:
        """A parent's requests alongside the beats: a balance (the hot pool) and the profile
        list (the ORM engine)."""
        client, headers = self.parent.client, self.parent.headers
        got = await asyncio.gather(
            *(client.get(f"{api.API}/viewing-time/balance/{kid}", headers=headers)
              for kid in self.kids[:OTHERS]),
            *(client.get(f"{api.API}/profiles", headers=headers) for _ in range(OTHERS)))
        return [(r.request.url.path, r.status_code, r.json()) for r in got]

    async def round(self) -> list[Answer]:
        at = self.clock.advance(INTERVAL)
        sent = time.monotonic()
        answers, others = await asyncio.gather(
            asyncio.gather(*(self._beat(kid, at, sent) for kid in self.kids)), self._others())
        self.answers.extend(answers)
        self.others.extend(others)
        listener = await self.running.container.config_listener.async_()
        self.listening.append((time.monotonic(), listener.listening.is_set()))
        return answers

    async def beat_while(self, work: Awaitable[T]) -> T:
        """Rounds of beats, one after the other, until `work` is done; its result."""
        task = asyncio.ensure_future(work)
        while not task.done():
            await self.round()
            await asyncio.sleep(PAUSE)
        return await task

    async def beat_until_all_allowed(self, within: float = BOUND) -> None:
        deadline = time.monotonic() + within
        while {a.status for a in await self.round()} != {200}:
            assert time.monotonic() < deadline, f"heartbeats did not recover within {within} s"
            await asyncio.sleep(PAUSE)


async def _create_database(server: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()


def _migrate(server: str) -> None:
    """The app's database on `server`, migrated (Alembic, as `python -m app migrate`)."""
    asyncio.run(_create_database(server))
    upgrade(with_database(server, DATABASE))


async def _watchers(running: Running, clock: FrozenClock) -> Watchers:
    """An account with CHILDREN unlimited child profiles (only the charges matter), each in a
    session of its own after one first beat."""
    parent = await api.signed_up(running.client, "failover@example.com")
    titles = await api.seed_titles(running.container)
    kids = [await parent.child(f"Kid {i}") for i in range(CHILDREN)]
    for kid in kids:
        r = await put_config(parent, kid, weekday_limit_minutes=None, weekend_limit_minutes=None)
        assert r.status_code == 200, r.text
    t0 = clock.now()
    sessions = {}
    for kid in kids:
        r = await parent.beat(kid, titles.cartoon)
        assert r.status_code == 200 and r.json()["used_minutes"] == 0.5, r.text
        sessions[kid] = r.json()["session_id"]
    return Watchers(running, parent, titles.cartoon, clock, kids, t0, sessions)


async def _used(url: str) -> dict[str, Decimal]:
    """Each profile's charged seconds, as the server at `url` has them."""
    rows = await fetch(url, "SELECT profile_id, sum(used_seconds) AS used FROM daily_balances "
                            "GROUP BY profile_id")
    return {str(r["profile_id"]): r["used"] for r in rows}


def _seconds(answer: Answer) -> Decimal:
    return Decimal(str(answer.body["used_minutes"])) * 60


def _lost(w: Watchers, standby: dict[str, Decimal], before: float) -> list[Answer]:
    """The 200 answers received before `before` (the promotion: all of them committed on the old
    primary) whose charge the standby does not hold."""
    return [a for a in w.answers if a.status == 200 and a.received < before
            and _seconds(a) > standby.get(a.kid, Decimal(0))]


def _phantoms(w: Watchers, standby: dict[str, Decimal], before: float) -> list[str]:
    """Profiles whose charge on the standby no beat sent before `before` produced (a beat
    counted twice, or half of one)."""
    produced: dict[str, set[Decimal]] = {kid: set() for kid in w.kids}
    for a in w.answers:
        if a.sent < before:
            produced[a.kid].add(w.expected_seconds(a.at))
    return [kid for kid in w.kids if standby.get(kid) not in produced[kid]]


def _wrong_answers(w: Watchers) -> list[Answer]:
    """Every answer is either the exact charge of its beat in the profile's one session, or a
    fail-closed 503 with the blocked body: nothing else (no 500, no other status)."""
    wrong = []
    for a in w.answers:
        if a.status == 200:
            ok = (a.body["session_id"] == w.sessions[a.kid] and a.body["enforcement"] == "allowed"
                  and _seconds(a) == w.expected_seconds(a.at))
        else:
            ok = a.status == 503 and {k: a.body.get(k) for k in BLOCKED} == BLOCKED
        if not ok:
            wrong.append(a)
    return wrong


async def _assert_final_books(w: Watchers, url: str) -> None:
    """On the new primary: one open session per profile, the one it beat in, holding exactly
    what the profile's last answer (a 200) said; the day's balance the same."""
    last = {a.kid: a for a in w.answers}
    assert all(a.status == 200 for a in last.values())
    rows = await fetch(url, "SELECT profile_id, id, total_seconds, ended_at FROM viewing_sessions")
    sessions = {str(r["profile_id"]): r for r in rows}
    assert len(rows) == len(sessions) == CHILDREN, "a profile has more than one session"
    used = await _used(url)
    for kid, answer in last.items():
        row = sessions[kid]
        assert str(row["id"]) == w.sessions[kid] and row["ended_at"] is None, row
        assert row["total_seconds"] == used[kid] == _seconds(answer), (kid, row, used[kid])
    await assert_balanced(url)


async def _eventually(call: Callable[[], Awaitable[httpx.Response]],
                      within: float = BOUND) -> list[int]:
    """Statuses of `call()` (an HTTP request) until one is 200; each must be 200 or a 503."""
    statuses: list[int] = []
    deadline = time.monotonic() + within
    while not statuses or statuses[-1] != 200:
        assert time.monotonic() < deadline, statuses
        r = await call()
        assert r.status_code in (200, 503), r.text
        statuses.append(r.status_code)
        if r.status_code != 200:
            await asyncio.sleep(PAUSE)
    return statuses


async def _assert_rest_works(w: Watchers, new_primary: str) -> dict[str, int]:
    """After the switch: the ORM engine reads and writes, /readyz is ready, the LISTEN
    connection is back (a notification sent to the new primary reaches the cache) and a config
    change (unlimited to 15 minutes) reaches the next heartbeat. Returns how many 503s each
    answered before its 200."""
    container, parent, kid = w.running.container, w.parent, w.kids[0]
    listener = await container.config_listener.async_()
    assert not all(up for _, up in w.listening), "the LISTEN connection never went down"
    await asyncio.wait_for(listener.listening.wait(), BOUND)
    provider = await container.config_provider()
    before = provider.invalidations
    await fetch(new_primary, "SELECT pg_notify($1, $2)", CONFIG_CHANNEL, kid)
    deadline = time.monotonic() + BOUND
    while provider.invalidations == before:
        assert time.monotonic() < deadline, "no notification arrived through the new LISTEN"
        await asyncio.sleep(PAUSE)

    first_503s = {
        "readyz": len(await _eventually(lambda: w.running.client.get("/readyz"))) - 1,
        "profiles": len(await _eventually(
            lambda: parent.client.get(f"{api.API}/profiles", headers=parent.headers))) - 1,
        "config_put": len(await _eventually(
            lambda: put_config(parent, kid, weekday_limit_minutes=15,
                               weekend_limit_minutes=15))) - 1,
    }
    balance = await parent.balance(kid)
    assert Decimal(str(balance["used_minutes"])) * 60 == _seconds(
        [a for a in w.answers if a.kid == kid][-1])
    # At the last round's instant, so it pays nothing more: counted against the new limit.
    r = await parent.beat(kid, w.title_id, w.sessions[kid])
    assert r.status_code == 200, r.text
    assert r.json()["remaining_minutes"] == 15 - r.json()["used_minutes"], r.text
    return first_503s


@dataclass(frozen=True)
class Switch:
    """When the primary died and the standby was promoted; what the standby held before."""

    died: float
    promoting: float
    promoted: float
    on_standby: dict[str, Decimal]

    def lost(self, w: Watchers) -> list[Answer]:
        return _lost(w, self.on_standby, self.promoting)

    def figures(self, w: Watchers) -> dict[str, object]:
        """What the switch looked like, printed for the record (asserted: only the loss)."""
        after = [a for a in w.answers if a.sent > self.died]
        first_ok = min(a.received for a in after if a.status == 200)
        per_kid = {kid: min(a.received for a in after if a.kid == kid and a.status == 200)
                   for kid in w.kids}
        lost = self.lost(w)
        return {
            "death_to_first_200_s": round(first_ok - self.died, 3),
            "death_to_every_profile_200_s": round(max(per_kid.values()) - self.died, 3),
            "dead_before_promotion_s": round(self.promoting - self.died, 3),
            "promotion_s": round(self.promoted - self.promoting, 3),
            "promoted_to_first_200_s": round(first_ok - self.promoted, 3),
            "fail_closed_503": sum(a.status == 503 for a in w.answers),
            "answers": len(w.answers),
            "other_requests": len(w.others),
            "other_503": sum(o[1] == 503 for o in w.others),
            "acknowledged_lost": len(lost),
            "acknowledged_lost_seconds": sum((_seconds(a) for a in lost), Decimal(0)),
        }


async def _switch_over(w: Watchers, cluster: PgCluster,
                       after_kill: Callable[[], Awaitable[None]] | None = None) -> Switch:
    """Beats all along: kill the primary, keep beating at the dead one for DEAD_SECONDS, read
    what the standby holds, promote it, beat until every profile is answered 200 again."""
    died = await w.beat_while(cluster.kill_primary())
    if after_kill is not None:
        await w.beat_while(after_kill())
    await w.beat_while(asyncio.sleep(DEAD_SECONDS))
    await cluster.wait_replayed()
    on_standby = await _used(cluster.standby.url(DATABASE))  # nothing can commit anywhere now
    promoting = time.monotonic()
    await w.beat_while(cluster.promote())
    promoted = time.monotonic()
    await w.beat_until_all_allowed()
    return Switch(died, promoting, promoted, on_standby)


def _url(*nodes: Node) -> str:
    """One DATABASE_URL naming every node, in this order."""
    return f"postgresql://postgres@{','.join(f'127.0.0.1:{n.port}' for n in nodes)}/{DATABASE}"


@contextlib.asynccontextmanager
async def _watching(url: str, clock: FrozenClock) -> AsyncIterator[Watchers]:
    """The app on `url`, its LISTEN connection up, children beating steadily."""
    async with running_app(url, clock, **SETTINGS) as running:
        listener = await running.container.config_listener.async_()
        await asyncio.wait_for(listener.listening.wait(), BOUND)
        w = await _watchers(running, clock)
        for _ in range(3):
            assert {a.status for a in await w.round()} == {200}
        yield w


@pytest.fixture(scope="module")
def migrated() -> Iterator[Path]:
    """A migrated data directory, made once for every cluster of this module."""
    reason = missing_binaries()
    if reason is not None:
        pytest.skip(reason)
    with pg_template(_migrate) as template:
        yield template


@pytest.fixture
async def cluster(migrated: Path) -> AsyncIterator[PgCluster]:
    async with pg_cluster(migrated) as c:
        yield c


@pytest.mark.parametrize("order", ["primary-first", "standby-first"])
async def test_the_standby_takes_over_and_no_acknowledged_charge_is_lost(cluster, clock, order):
    new_primary = cluster.standby.url(DATABASE)
    nodes = (cluster.primary, cluster.standby)
    async with _watching(_url(*(nodes if order == "primary-first" else nodes[::-1])),
                         clock) as w:
        switch = await _switch_over(w, cluster)
        print(f"\nfailover ({order}): {switch.figures(w)}")
        first_503s = await _assert_rest_works(w, new_primary)
    print(f"failover ({order}): 503s before 200 after the switch: {first_503s}")
    assert switch.lost(w) == [], switch.lost(w)[:5]
    assert _phantoms(w, switch.on_standby, switch.promoting) == []
    assert _wrong_answers(w) == [], _wrong_answers(w)[:5]
    assert [o for o in w.others if o[1] != 200 and o[1:] != (503, UNAVAILABLE)] == []
    await _assert_final_books(w, new_primary)


async def test_the_check_sees_what_an_asynchronous_standby_loses(cluster, clock):
    """The control: replication made asynchronous and the standby stopped while the primary
    acknowledges beats alone, then started again once the primary is dead. The same books
    must count those acknowledged charges as lost; otherwise a 0 above would prove nothing."""
    async with _watching(_url(cluster.primary, cluster.standby), clock) as w:
        await cluster.set_synchronous(False)
        await cluster.stop_standby()
        for _ in range(3):
            assert {a.status for a in await w.round()} == {200}
        switch = await _switch_over(w, cluster, after_kill=cluster.start_standby)
        print(f"\nfailover (asynchronous control): {switch.figures(w)}")
    assert len(switch.lost(w)) >= 3 * CHILDREN
    assert _wrong_answers(w) == [], _wrong_answers(w)[:5]
