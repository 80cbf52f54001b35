"""The heartbeat statements against their reference model (app/domain/charging.py).

Random sequences of what players and parents do to one child profile go through the real API,
and so through the real statements on PostgreSQL, and through a small in-memory ledger built on
the pure model: beats with gaps around every boundary of the rules (the interval, the pause
grace, the stale gap, the 06:00 reset between two viewing days), pauses and resumes, duplicates
and parallel duplicates, a second device taking over (which ends the first device's session),
ends, a parent stopping a session (its player learns it on its next beat), grants of extra or
unlimited time, limit changes, a parent's lock (open-ended, or ending mid-sequence) and unlock,
schedules (a limit for one weekday, allowed hours that end, begin, touch or are empty around the
steps' instants: every beat's pay capped at the window's end), a regular and an educational
title. After every step every session row, every day's balance and the answer the player got must be
what the model says. This is the contract for every change to the heartbeat SQL.

Examples: CHARGING_EXAMPLES (default 25 in `make test`; `make test-slow` runs 250).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import asyncpg
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.database import asyncpg_dsn
from app.domain.balance import Balance
from app.domain.charging import Limit, Rules, SessionState, charge, end, first_charge
from app.domain.control import Lock
from app.domain.heartbeat import Moment, beat_answer
from app.domain.schedules import AllowedHours, parse_schedule
from app.responses import ORJSONResponse
from tests.support.parental import PC, grant, put_config

pytestmark = pytest.mark.anyio

START = datetime(2026, 3, 4, 5, 40, tzinfo=UTC)  # 20 minutes before the 06:00 reset (UTC zone)
RESET = timedelta(hours=6)
RULES = Rules(interval=timedelta(seconds=30), pause_grace=timedelta(seconds=300),
              stale_gap=timedelta(seconds=300))
FIRST_LIMIT = 15
DEVICES = ("tv", "tablet")  # the tv plays the cartoon, the tablet the (educational) documentary

# Seconds between steps, around every boundary of the rules (some with milliseconds); 0 is a
# duplicate; the long ones cross the stale gap and, from START, the reset.
GAPS = st.one_of(
    st.sampled_from([0, 0.001, 10, 29.999, 30, 30.001, 60, 299, 300, 300.001, 330, 900, 1500]),
    st.integers(0, 330))
STEPS = st.lists(st.one_of(
    st.tuples(st.just("beat"), GAPS, st.booleans(), st.sampled_from(DEVICES)),
    st.tuples(st.just("beat"), GAPS, st.booleans(), st.just("tv")),
    st.tuples(st.just("twice"), GAPS, st.booleans(), st.sampled_from(DEVICES)),
    st.tuples(st.just("end"), st.sampled_from(DEVICES)),
    st.tuples(st.just("stop"), st.sampled_from(DEVICES)),  # the player beats on, then learns
    st.tuples(st.just("grant"), st.sampled_from([15, 30, None])),
    st.tuples(st.just("limit"), st.sampled_from([15, 30, 60])),
    st.tuples(st.just("lock"), st.sampled_from([None, 60, 299.5, 600])),  # until: s from now
    st.tuples(st.just("unlock")),
    st.tuples(st.just("schedule"), st.integers(0, 5)),  # an index into SCHEDULES
), min_size=1, max_size=14)
# Schedules around START (Wednesday 05:40 UTC; its viewing day is Tuesday's until 06:00): windows
# that end mid-sequence (an odd second of the interval included), begin later, touch (one
# allowance) and an empty day; and limits for the two viewing days the steps cross.
SCHEDULES = [
    {},
    {"allowed_hours": {"wed": [{"start": "00:00", "end": "05:47"}]}},
    {"allowed_hours": {"wed": [{"start": "05:45", "end": "06:10"},
                               {"start": "06:30", "end": "07:00"}]},
     "limits": {"wed": 30}},
    {"allowed_hours": {"wed": [{"start": "05:00", "end": "05:52"},
                               {"start": "05:52", "end": "06:05"}]}},
    {"allowed_hours": {"wed": []}, "limits": {"tue": 30}},
    {"limits": {"tue": None, "wed": 15}},
]
# Seconds already watched on each of the two viewing days before the steps begin, so that a few
# beats reach the limit (15 minutes at first) and the blocked paths are taken.
USED_BEFORE = st.sampled_from([Decimal(0), Decimal(780), Decimal(870), Decimal("899.5")])


def _examples(default: int) -> int:
    return int(os.environ.get("CHARGING_EXAMPLES", default))


def viewing_day(instant: datetime) -> date:
    return (instant - RESET).date()


@dataclass
class Session:
    state: SessionState
    total: Decimal
    ended_at: datetime | None = None
    charge_day: date | None = None  # the day its last charge went to (refunds go back there)
    charge_educational: bool = False


@dataclass
class Day:
    used: Decimal = Decimal(0)
    educational: Decimal = Decimal(0)
    granted: int = 0
    unlimited: bool = False

    def balance(self) -> Balance:
        return Balance(self.used, self.educational, self.granted, self.unlimited)

    def add(self, seconds: Decimal, educational: bool) -> None:
        if educational:
            self.educational += seconds
        else:
            self.used += seconds


@dataclass
class Ledger:
    """What the database should hold, computed with the pure model only."""

    limit_minutes: int
    sessions: dict[str, Session] = field(default_factory=dict)
    days: dict[date, Day] = field(default_factory=dict)
    lock: Lock | None = None
    day_limits: dict[int, int | None] = field(default_factory=dict)  # by weekday: the schedule's
    hours: AllowedHours | None = None  # None: allowed at any hour

    def limit_of(self, day: date) -> int | None:
        return self.day_limits.get(day.weekday(), self.limit_minutes)

    def limit(self, day: date, now: datetime) -> Limit:
        locked = self.lock is not None and self.lock.holds_at(now)
        allowance = None if self.hours is None else self.hours.at(now, UTC)
        outside = allowance is not None and not allowance.inside
        return Limit(True, self.limit_of(day), True, self.days.get(day, Day()).balance(),
                     locked or outside, None if allowance is None else allowance.ends_at)

    def opens_at(self, instant: datetime) -> datetime | None:
        assert self.hours is not None
        allowance = self.hours.at(instant, UTC)
        return instant if allowance.inside else allowance.next_start

    def end(self, session: Session, now: datetime) -> None:
        ending = end(session.state, now=now, rules=RULES)
        session.ended_at = ending.at
        session.total -= ending.refund
        session.state = replace(session.state, counted_until=ending.counted_until)
        if session.charge_day is not None and ending.refund > 0:
            self.days[session.charge_day].add(-ending.refund, session.charge_educational)

    def open(self, session_id: str, now: datetime, paused: bool, is_educational: bool) -> None:
        for other in self.sessions.values():  # a child has one stream: a new one ends the rest
            if other.ended_at is None:
                self.end(other, now)
        day = viewing_day(now)
        c = first_charge(at=now, paused=paused, is_educational=is_educational,
                         limit=self.limit(day, now), rules=RULES)
        self.days.setdefault(day, Day()).add(c.seconds, c.educational)
        self.sessions[session_id] = Session(
            SessionState(c.at, c.counted_until, c.paused_at, is_educational), c.seconds,
            charge_day=None if c.counted_until is None else day, charge_educational=c.educational)

    def beat(self, session: Session, now: datetime, paused: bool) -> None:
        day = viewing_day(now)
        c = charge(session.state, now=now, paused=paused, limit=self.limit(day, now),
                   rules=RULES)
        self.days.setdefault(day, Day()).add(c.seconds, c.educational)
        session.state = replace(session.state, last_heartbeat_at=c.at,
                                counted_until=c.counted_until, paused_at=c.paused_at)
        session.total += c.seconds
        if c.seconds > 0:
            session.charge_day, session.charge_educational = day, c.educational

    def answer(self, session_id: str, now: datetime, is_educational: bool) -> dict[str, object]:
        """What the player is told after a beat at `now`."""
        next_reset = datetime.combine(viewing_day(now) + timedelta(days=1), time(), UTC) + RESET
        allowance = None if self.hours is None else self.hours.at(now, UTC)
        answer = beat_answer(uuid.UUID(session_id), is_kids=True,
                             limit_minutes=self.limit_of(viewing_day(now)),
                             balance=self.days[viewing_day(now)].balance(),
                             is_educational=is_educational, educational_exempt=True,
                             moment=Moment(now, next_reset, self.lock, allowance,
                                           None if self.hours is None else self.opens_at))
        return orjson.loads(ORJSONResponse(answer).body)


class World:
    """The child profile as the API and the database see it, and the model beside it."""

    def __init__(self, parent, titles, clock, conn, kid: str) -> None:  # type: ignore[no-untyped-def]
        self.parent, self.clock, self.conn, self.kid = parent, clock, conn, kid
        self.titles = {"tv": titles.cartoon, "tablet": titles.documentary}
        self.playing: dict[str, str] = {}  # device → the session id its player holds
        self.stopped: set[str] = set()  # sessions a parent stopped
        self.ledger = Ledger(FIRST_LIMIT)
        self.signed_in_at = clock.now()

    async def advance(self, gap: float) -> None:
        self.clock.advance(gap)
        if self.clock.now() - self.signed_in_at > timedelta(minutes=50):  # tokens last 60
            await self.parent.login()
            self.signed_in_at = self.clock.now()

    async def step(self, op: tuple) -> str:  # type: ignore[type-arg]
        kind = op[0]
        if kind in ("beat", "twice"):
            _, gap, paused, device = op
            await self.advance(gap)
            return await self.beat(device, paused, parallel=kind == "twice")
        if kind == "end":
            return await self.end(op[1])
        if kind == "stop":
            return await self.stop(op[1])
        if kind == "grant":
            return await self.grant(op[1])
        if kind == "lock":
            return await self.lock(op[1])
        if kind == "unlock":
            return await self.unlock()
        if kind == "schedule":
            return await self.set_schedule(SCHEDULES[op[1]])
        return await self.change_limit(op[1])

    async def beat(self, device: str, paused: bool, parallel: bool) -> str:
        now, title = self.clock.now(), self.titles[device]
        is_educational = device == "tablet"
        session_id = self.playing.get(device)
        if session_id is None:  # a first beat: opens a session (and ends the other device's)
            r = await self.parent.beat(self.kid, title, is_paused=paused, device_id=device)
            assert r.status_code == 200, r.text
            session_id = r.json()["session_id"]
            self.ledger.open(session_id, now, paused, is_educational)
            self.playing[device] = session_id
            answers = [r.json()]
        else:
            session = self.ledger.sessions[session_id]
            copies = 2 if parallel else 1
            rs = await asyncio.gather(*(
                self.parent.beat(self.kid, title, session_id, is_paused=paused, device_id=device)
                for _ in range(copies)))
            if session.ended_at is not None:  # taken over by the other device, or stopped
                assert [r.status_code for r in rs] == [409] * copies, [r.text for r in rs]
                reason = "stopped_by_parent" if session_id in self.stopped else None
                assert [r.json().get("reason") for r in rs] == [reason] * copies
                del self.playing[device]
                return f"{device}: 409"
            assert [r.status_code for r in rs] == [200] * copies, [r.text for r in rs]
            for _ in range(copies):  # the row lock serialises duplicates: the second pays 0
                self.ledger.beat(session, now, paused)
            answers = [r.json() for r in rs]
        expected = self.ledger.answer(session_id, now, is_educational)
        for answer in answers:
            assert answer == expected
        return f"{device}: {answers[-1]['enforcement']}"

    async def end(self, device: str) -> str:
        session_id = self.playing.pop(device, None)
        if session_id is None:
            return f"{device}: nothing to end"
        session = self.ledger.sessions[session_id]
        if session.ended_at is None:
            self.ledger.end(session, self.clock.now())
        r = await self.parent.end(session_id)
        assert r.status_code == 200, r.text
        assert Decimal(str(r.json()["total_seconds"])) == session.total, (r.json(), session)
        return f"{device}: ended"

    async def stop(self, device: str) -> str:
        """The parent stops what the device plays; the player learns it on its next beat."""
        session_id = self.playing.get(device)
        if session_id is None:
            return f"{device}: nothing to stop"
        session = self.ledger.sessions[session_id]
        if session.ended_at is None:
            self.ledger.end(session, self.clock.now())
            self.stopped.add(session_id)
        r = await self.parent.client.post(f"{PC}/sessions/{session_id}/stop",
                                          headers=self.parent.headers)
        assert r.status_code == 200, r.text
        assert Decimal(str(r.json()["total_seconds"])) == session.total, (r.json(), session)
        return f"{device}: stopped"

    async def grant(self, grant_minutes: int | None) -> str:
        r = await grant(self.parent, self.kid, minutes=grant_minutes)
        assert r.status_code == 200, r.text
        day = self.ledger.days.setdefault(viewing_day(self.clock.now()), Day())
        if grant_minutes is None:
            day.unlimited = True
        else:
            day.granted += grant_minutes * 60
        return f"granted {grant_minutes}"

    async def lock(self, seconds: float | None) -> str:
        until = None if seconds is None else self.clock.now() + timedelta(seconds=seconds)
        r = await self.parent.client.put(
            f"{PC}/profiles/{self.kid}/lock", headers=self.parent.headers,
            json={"until": None if until is None else until.isoformat()})
        assert r.status_code == 200, r.text
        assert r.json()["locked"] is True
        self.ledger.lock = Lock(until)
        return f"locked until {until}"

    async def unlock(self) -> str:
        r = await self.parent.client.delete(f"{PC}/profiles/{self.kid}/lock",
                                            headers=self.parent.headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"profile_id": self.kid, "locked": False, "until": None}
        self.ledger.lock = None
        return "unlocked"

    async def set_schedule(self, body: dict) -> str:  # type: ignore[type-arg]
        r = await self.parent.client.put(f"{PC}/profiles/{self.kid}/schedule",
                                         headers=self.parent.headers, json=body)
        assert r.status_code == 200, r.text
        schedule = parse_schedule(body.get("limits"), body.get("allowed_hours"))
        self.ledger.day_limits, self.ledger.hours = dict(schedule.limits), schedule.hours
        return f"schedule {body}"

    async def change_limit(self, limit_minutes: int) -> str:
        r = await put_config(self.parent, self.kid, weekday_limit_minutes=limit_minutes,
                             weekend_limit_minutes=limit_minutes)
        assert r.status_code == 200, r.text
        self.ledger.limit_minutes = limit_minutes
        return f"limit {limit_minutes}"

    async def check_rows(self, trail: list[str]) -> None:
        for session_id, session in self.ledger.sessions.items():
            row = await self.conn.fetchrow(
                "SELECT last_heartbeat_at, counted_until, paused_at, total_seconds, ended_at "
                "FROM viewing_sessions WHERE id = $1", uuid.UUID(session_id))
            expected = {"last_heartbeat_at": session.state.last_heartbeat_at,
                        "counted_until": session.state.counted_until,
                        "paused_at": session.state.paused_at, "total_seconds": session.total,
                        "ended_at": session.ended_at}
            assert dict(row) == expected, (trail, session_id)
        rows = await self.conn.fetch(
            "SELECT reset_date, used_seconds, educational_seconds, granted_seconds, "
            "is_unlimited_override FROM daily_balances WHERE profile_id = $1",
            uuid.UUID(self.kid))
        seen = {r["reset_date"]: Day(r["used_seconds"], r["educational_seconds"],
                                     r["granted_seconds"], r["is_unlimited_override"])
                for r in rows}
        assert seen == self.ledger.days, trail


async def _check(parent, titles, clock, database_url, steps, used_before) -> World:  # type: ignore[no-untyped-def]
    clock.set(START)
    await parent.login()
    kid = await parent.child(f"kid-{uuid.uuid4().hex[:8]}")
    r = await put_config(parent, kid, weekday_limit_minutes=FIRST_LIMIT,
                         weekend_limit_minutes=FIRST_LIMIT)
    assert r.status_code == 200, r.text
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        world = World(parent, titles, clock, conn, kid)
        for day, used in zip((viewing_day(START), viewing_day(START + RESET)), used_before,
                             strict=True):
            await conn.execute(
                "INSERT INTO daily_balances (profile_id, reset_date, used_seconds, updated_at) "
                "VALUES ($1, $2, $3, $4)", uuid.UUID(kid), day, used, START)
            world.ledger.days[day] = Day(used=used)
        trail: list[str] = []
        for op in steps:
            trail.append(f"{op} → {await world.step(op)}")
            await world.check_rows(trail)
    finally:
        await conn.close()
    return world


async def test_a_session_that_paid_nothing_ends_with_nothing_paid(parent, titles, clock,
                                                                  database_url):
    """Found by the model: a blocked first beat pays nothing (counted_until NULL); when another
    device took over, the statement ended it with counted_until = its end, as if paid."""
    await _check(parent, titles, clock, database_url,
                 [("beat", 0, False, "tv"), ("beat", 0, False, "tablet")],
                 (Decimal(900), Decimal(0)))


async def test_repeating_the_beat_that_used_the_day_up_changes_nothing(parent, titles, clock,
                                                                       database_url):
    """Found by the model: the repeat of the beat that paid the last seconds was a new beat
    (blocked: it dropped the paid window), and a parallel repeat, which reads the balance as it
    was before the first, was not: the two disagreed. A repeat now changes nothing, either way."""
    world = await _check(parent, titles, clock, database_url,
                         [("beat", 0, False, "tv"), ("twice", 1500, False, "tv"),
                          ("beat", 0, False, "tv")], (Decimal(0), Decimal(870)))
    (session,) = [s for s in world.ledger.sessions.values()]
    paid_until = START + timedelta(seconds=1530)
    assert (session.state.counted_until, session.total) == (paid_until, Decimal(60))
    assert world.ledger.days[viewing_day(paid_until)].used == 900


@settings(max_examples=_examples(25), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS, used_before=st.tuples(USED_BEFORE, USED_BEFORE))
async def test_the_statements_charge_what_the_model_charges(parent, titles, clock, database_url,
                                                             steps, used_before):
    await _check(parent, titles, clock, database_url, steps, used_before)


@pytest.mark.slow
@settings(max_examples=_examples(250), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS, used_before=st.tuples(USED_BEFORE, USED_BEFORE))
async def test_the_statements_charge_what_the_model_charges_longer(parent, titles, clock,
                                                                    database_url, steps,
                                                                    used_before):
    await _check(parent, titles, clock, database_url, steps, used_before)
