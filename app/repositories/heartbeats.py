"""The hot path's SQL, run on raw asyncpg: one statement per heartbeat.

Why raw asyncpg and whole-operation statements: every heartbeat of every watching child lands
here. Each statement below does a whole operation (lock the session, compute the charge from the
paid window, update the session, upsert the day's balance, return both) so it costs exactly one
round trip, in autocommit: no BEGIN/COMMIT, no pool reset, no pre-ping. Concurrency is settled
by the row lock: a duplicate beat waits for the first, then sees its `counted_until` (PostgreSQL
re-reads a row locked FOR UPDATE after the wait), so it charges nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

import asyncpg

from app.database import HotPool
from app.domain.balance import EMPTY_BALANCE, Balance
from app.domain.heartbeat import EndedSession
from app.models import CHILD_STREAM
from app.repositories.devices import LOAD_DEVICE, LoadDevice
from app.repositories.named_sql import bind, nulls
from app.repositories.profile_facts import LOAD_FACTS, LoadFacts
from app.repositories.viewing_events import VIEWING_EVENTS_READ, threshold_ctes, write_events


# A session's clock only moves forward: a statement's instant is never earlier than the last
# heartbeat it already recorded (a delayed duplicate, or a request that read the clock and then
# waited behind a later one, acts at the session's latest instant).
def session_instant(now: str, s: str) -> str:
    return f"greatest({now}::timestamptz, {s}.last_heartbeat_at)"


# Where a session ends when it is ended at instant `at`: a stale session (silent for longer than
# the stale gap) counts as ended at the end of its last paid window (or its last beat, when
# nothing is paid); any other at `at`.
def end_instant(at: str, s: str, stale_gap: str) -> str:
    return (f"CASE WHEN {at} - {s}.last_heartbeat_at > {stale_gap}::interval "
            f"THEN coalesce({s}.counted_until, {s}.last_heartbeat_at) ELSE {at} END")


# The unused part of the paid window when the session ends at `at` (seconds, never negative).
def refund(s: str, at: str) -> str:
    return f"round(greatest(0, coalesce(extract(epoch FROM {s}.counted_until - {at}), 0)), 3)"


# Blocked: halted (`:halt_reason` is set: a parent's lock holds, or outside the allowed hours),
# or the day's time is used up (the remaining-time formula of app/domain/balance.py): only for a
# child, only with a limit, never for an exempt educational title or on an unlimited day.
def blocked(educational: str, granted: str, used: str, unlimited: str) -> str:
    return (f":halt_reason::text IS NOT NULL OR (:is_kids AND :limit_seconds::int IS NOT NULL\n"
            f"  AND NOT ({educational} AND :educational_exempt) AND NOT {unlimited}\n"
            f"  AND :limit_seconds + {granted} - {used} <= 0)")


# How far a beat at `t` pays (app/domain/charging.py's `reach`): one interval ahead, but never
# past the end of the allowed hours (`least` skips a NULL :window_end: no end soon).
def reach(t: str) -> str:
    return f"greatest({t}, least({t} + :interval::interval, :window_end::timestamptz))"


# End the sessions of `source` (rows with `id`, `at`, `refund`) at `at`, giving back the unpaid
# part of their window. A session that paid nothing keeps counted_until NULL (`least` would
# skip the NULL and answer `at`).
def end_and_refund(source: str, returning: str, where: str = "", reason: str = "NULL") -> str:
    return f"""UPDATE viewing_sessions s
    SET ended_at = o.at, end_reason = {reason},
        counted_until = CASE WHEN s.counted_until > o.at THEN o.at ELSE s.counted_until END,
        total_seconds = s.total_seconds - o.refund
    FROM {source} o
    WHERE s.id = o.id{where}
    RETURNING {returning}"""


# Add charged (or refunded, negative) seconds to a day's balance, creating the day's row.
def add_to_balance(select: str, returning: str) -> str:
    return f"""INSERT INTO daily_balances AS d
        (profile_id, reset_date, used_seconds, educational_seconds, updated_at)
    {select}
    ON CONFLICT (profile_id, reset_date) DO UPDATE
    SET used_seconds = d.used_seconds + excluded.used_seconds,
        educational_seconds = d.educational_seconds + excluded.educational_seconds,
        updated_at = excluded.updated_at
    RETURNING {returning}"""


BALANCE_COLUMNS = "used_seconds, educational_seconds, granted_seconds, is_unlimited_override"


class ContinueSession(NamedTuple):
    """A beat on a session the player already has."""

    session_id: uuid.UUID
    profile_id: uuid.UUID
    title_id: uuid.UUID
    now: datetime
    is_paused: bool
    day: date  # the viewing day that pays
    limit_seconds: int | None  # the day's limit; None: unlimited
    educational_exempt: bool
    is_kids: bool  # adults record sessions but have no balance
    # why a beat is halted (blocked, nothing charged): 'locked_by_parent' or
    # 'outside_allowed_hours' (app/domain/control.Reason); None: it is not
    halt_reason: str | None
    window_end: datetime | None  # when the allowed hours end (None: not soon)
    interval: timedelta
    pause_grace: timedelta
    stale_gap: timedelta


CONTINUE_SESSION = bind("""
WITH cur AS (
    SELECT id, title_id, ended_at, end_reason, is_educational, counted_until, paused_at,
           last_heartbeat_at, t, {reach} AS reach
    FROM viewing_sessions s
    CROSS JOIN LATERAL (SELECT {t} AS t) clock
    WHERE id = :session_id AND profile_id = :profile_id
    FOR UPDATE OF s
), before AS (
    SELECT used_seconds, granted_seconds, is_unlimited_override
    FROM daily_balances WHERE profile_id = :profile_id AND reset_date = :day
), step AS (
    SELECT cur.id, cur.t, cur.reach, cur.counted_until, cur.paused_at,
           cur.is_educational AND :educational_exempt AS to_edu,
           CASE
             WHEN :is_paused AND cur.paused_at IS NOT NULL
                  AND cur.t - cur.paused_at > :pause_grace::interval
               THEN 'off'
             -- nothing new to pay (a duplicate, a retry): idempotent, even when the day's time
             -- is used up (a parallel duplicate reads the balance as it was before the first)
             WHEN cur.counted_until >= cur.reach THEN 'continue'
             WHEN {blocked} THEN 'blocked'
             WHEN cur.counted_until IS NULL
                  OR cur.t - cur.last_heartbeat_at > :stale_gap::interval
                  OR (NOT :is_paused AND cur.paused_at IS NOT NULL
                      AND cur.t - cur.paused_at > :pause_grace::interval)
               THEN 'open'
             ELSE 'continue'
           END AS mode
    FROM cur LEFT JOIN before b ON true
    WHERE cur.ended_at IS NULL AND cur.title_id = :title_id
), charge AS (
    SELECT id, t, to_edu, mode,
           CASE mode
             WHEN 'open' THEN round(extract(epoch FROM reach - t), 3)
             WHEN 'continue' THEN round(greatest(0, extract(epoch FROM reach - counted_until)), 3)
             ELSE 0
           END AS seconds,
           CASE mode
             WHEN 'off' THEN counted_until
             WHEN 'blocked' THEN NULL
             WHEN 'open' THEN reach
             ELSE greatest(counted_until, reach)
           END AS counted_until,
           CASE WHEN :is_paused THEN coalesce(paused_at, t) END AS paused_at
    FROM step
), upd AS (
    UPDATE viewing_sessions s
    SET last_heartbeat_at = c.t,
        counted_until = c.counted_until,
        paused_at = c.paused_at,
        total_seconds = s.total_seconds + c.seconds,
        last_charge_date = CASE WHEN c.seconds > 0 THEN :day ELSE s.last_charge_date END,
        last_charge_educational = CASE WHEN c.seconds > 0 THEN c.to_edu
                                       ELSE s.last_charge_educational END
    FROM charge c
    WHERE s.id = c.id
    RETURNING s.id
), bal AS (
    {add_charge}
), {thresholds}
SELECT cur.title_id, cur.ended_at, cur.end_reason, cur.is_educational,
       (SELECT count(*) FROM upd) AS updated, {events_read},
       bal.used_seconds, bal.educational_seconds, bal.granted_seconds, bal.is_unlimited_override
FROM cur LEFT JOIN bal ON true
""".format(
    t=session_instant(":now", "s"), reach=reach("clock.t"),
    blocked=blocked("cur.is_educational", "coalesce(b.granted_seconds, 0)",
                    "coalesce(b.used_seconds, 0)", "coalesce(b.is_unlimited_override, false)"),
    add_charge=add_to_balance("""SELECT :profile_id, :day,
           CASE WHEN c.to_edu THEN 0 ELSE c.seconds END,
           CASE WHEN c.to_edu THEN c.seconds ELSE 0 END, :now
    FROM charge c
    WHERE :is_kids""", BALANCE_COLUMNS),
    thresholds=threshold_ctes(source="charge c LEFT JOIN bal b ON true", exempt="c.to_edu"),
    events_read=VIEWING_EVENTS_READ,
), ContinueSession)

# First beat: open a session, end every other open session of the profile (refunding its unpaid
# window to the day and bucket that paid it), charge the first interval, all in one statement.
# A child has one stream: its other open sessions end; adults watch on any number of devices.
# The new session starts no earlier than the last beat of those it ends.
class OpenSession(NamedTuple):
    session_id: uuid.UUID  # the new session's id
    profile_id: uuid.UUID
    account_id: uuid.UUID  # the caller: the profile must be theirs
    title_id: uuid.UUID
    now: datetime
    is_paused: bool
    day: date
    limit_seconds: int | None
    educational_exempt: bool
    is_kids: bool
    halt_reason: str | None
    window_end: datetime | None
    device_id: str
    device_type: str
    interval: timedelta
    stale_gap: timedelta


OPEN_SESSION = bind("""
WITH ok AS (
    SELECT t.is_educational, p.name
    FROM titles t
    JOIN profiles p ON p.id = :profile_id AND p.account_id = :account_id
    WHERE t.id = :title_id
), prior AS (
    SELECT s.id, s.device_id, s.last_charge_date, s.last_charge_educational, s.counted_until,
           s.last_heartbeat_at
    FROM viewing_sessions s
    WHERE :is_kids AND s.profile_id = :profile_id AND s.ended_at IS NULL
      AND EXISTS (SELECT 1 FROM ok)
    FOR UPDATE
), clock AS (
    SELECT t, {reach} AS reach
    FROM (SELECT greatest(:now::timestamptz, (SELECT max(last_heartbeat_at) FROM prior)) AS t) c
), old AS (
    SELECT p.id, p.device_id, p.last_charge_date, p.last_charge_educational, e.at,
           {refund} AS refund,
           clock.t - p.last_heartbeat_at > :stale_gap::interval AS stale
    FROM prior p CROSS JOIN clock
    CROSS JOIN LATERAL (SELECT {end_at} AS at) e
), ended AS (
    {end_old}
), before AS (
    SELECT coalesce(b.used_seconds, 0)
             - coalesce((SELECT sum(refund) FROM ended WHERE day = :day AND NOT edu), 0) AS used,
           coalesce(b.granted_seconds, 0) AS granted,
           coalesce(b.is_unlimited_override, false) AS unlimited
    FROM (SELECT 1) AS one
    LEFT JOIN daily_balances b ON b.profile_id = :profile_id AND b.reset_date = :day
), step AS (
    SELECT ok.is_educational, ok.is_educational AND :educational_exempt AS to_edu,
           ({blocked}) AS blocked
    FROM ok, before
), ins AS (
    INSERT INTO viewing_sessions
        (id, profile_id, title_id, device_id, device_type, is_educational, started_at,
         last_heartbeat_at, counted_until, paused_at, total_seconds, last_charge_date,
         last_charge_educational, stream_key)
    SELECT :session_id, :profile_id, :title_id, :device_id, :device_type, st.is_educational,
           clock.t, clock.t,
           CASE WHEN st.blocked THEN NULL ELSE clock.reach END,
           CASE WHEN :is_paused THEN clock.t END,
           CASE WHEN st.blocked THEN 0 ELSE round(extract(epoch FROM clock.reach - clock.t), 3) END,
           CASE WHEN st.blocked THEN NULL ELSE :day::date END,
           st.to_edu, CASE WHEN :is_kids THEN '{child}'::uuid ELSE :session_id END
    FROM step st CROSS JOIN clock
    -- Reading `ended` first makes the old sessions end before this row meets the
    -- one-open-session-per-profile unique index.
    WHERE (SELECT count(*) FROM ended) >= 0
    RETURNING id, total_seconds AS charge, last_charge_educational AS to_edu
), deltas AS (
    SELECT :day::date AS day,
           CASE WHEN to_edu THEN 0 ELSE charge END AS used,
           CASE WHEN to_edu THEN charge ELSE 0 END AS edu
    FROM ins WHERE :is_kids
    UNION ALL
    SELECT day, CASE WHEN edu THEN 0 ELSE -refund END, CASE WHEN edu THEN -refund ELSE 0 END
    FROM ended WHERE :is_kids AND day IS NOT NULL AND refund > 0
), bal AS (
    {add_deltas}
), {thresholds}, superseded AS (
    -- another device took over: each session this beat ended that was still being watched
    -- on another device (a stale one was not; the same device moved on to another title)
    SELECT :account_id::uuid AS account_id, 'session.superseded' AS event_type,
           jsonb_build_object(
               'account_id', :account_id::uuid, 'profile_id', :profile_id::uuid,
               'profile_name', ok.name, 'viewing_day', :day::date, 'session_id', e.id,
               'device_id', e.device_id, 'new_session_id', ins.id,
               'new_device_id', :device_id::text) AS data,
           :now::timestamptz AS at
    FROM ended e CROSS JOIN ins CROSS JOIN ok
    WHERE NOT e.stale AND e.device_id <> :device_id
), outbox AS (
    {outbox}
)
SELECT ins.id, st.is_educational, {events_read},
       bal.used_seconds, bal.educational_seconds, bal.granted_seconds, bal.is_unlimited_override
FROM ins CROSS JOIN step st LEFT JOIN bal ON bal.reset_date = :day
""".format(
    reach=reach("c.t"), refund=refund("p", "e.at"),
    end_at=end_instant("clock.t", "p", ":stale_gap"),
    child=CHILD_STREAM,
    end_old=end_and_refund("old", "o.id, o.device_id, o.stale, o.last_charge_date AS day, "
                                  "o.last_charge_educational AS edu, o.refund"),
    blocked=blocked("ok.is_educational", "before.granted", "before.used", "before.unlimited"),
    add_deltas=add_to_balance("SELECT :profile_id, day, sum(used), sum(edu), :now "
                              "FROM deltas GROUP BY day", f"reset_date, {BALANCE_COLUMNS}"),
    thresholds=threshold_ctes(source="ins CROSS JOIN step st LEFT JOIN bal b "
                                     "ON b.reset_date = :day",
                              exempt="st.to_edu"),
    events_read=VIEWING_EVENTS_READ,
    outbox=write_events("superseded"),
), OpenSession)

# End a session at `now` (never before its last beat; at the end of its paid window when stale)
# and refund the unused part of its paid window; scoped to the caller's account.
class EndSession(NamedTuple):
    session_id: uuid.UUID
    account_id: uuid.UUID
    profile_id: uuid.UUID | None  # a device token's profile: its sessions only
    end_reason: str | None  # 'stopped_by_parent', or None (the player ended it)
    now: datetime
    stale_gap: timedelta


END_SESSION = bind("""
WITH found AS (
    SELECT s.id, s.ended_at, s.total_seconds, s.profile_id, s.last_charge_date,
           s.last_charge_educational, s.counted_until, e.at
    FROM viewing_sessions s
    JOIN profiles p ON p.id = s.profile_id
    CROSS JOIN LATERAL (SELECT {end_at} AS at) e
    WHERE s.id = :session_id AND p.account_id = :account_id
      AND (:profile_id::uuid IS NULL OR s.profile_id = :profile_id)
    FOR UPDATE OF s
), cur AS (
    SELECT f.*, {refund} AS refund FROM found f
), ended AS (
    {end_it}
), refunded AS (
    UPDATE daily_balances d
    SET used_seconds = d.used_seconds
                       - CASE WHEN e.last_charge_educational THEN 0 ELSE e.refund END,
        educational_seconds = d.educational_seconds
                              - CASE WHEN e.last_charge_educational THEN e.refund ELSE 0 END,
        updated_at = e.ended_at
    FROM ended e
    WHERE d.profile_id = e.profile_id AND d.reset_date = e.last_charge_date AND e.refund > 0
)
SELECT c.id, coalesce(e.total_seconds, c.total_seconds) AS total_seconds,
       coalesce(e.ended_at, c.ended_at) AS ended_at
FROM cur c LEFT JOIN ended e ON true
""".format(
    end_at=end_instant(session_instant(":now", "s"), "s", ":stale_gap"),
    refund=refund("f", "f.at"),
    end_it=end_and_refund("cur", "s.id, s.total_seconds, s.ended_at, o.profile_id, "
                                 "o.last_charge_date, o.last_charge_educational, o.refund",
                          where=" AND o.ended_at IS NULL", reason=":end_reason"),
), EndSession)

class ReadBalance(NamedTuple):
    profile_id: uuid.UUID
    day: date


READ_BALANCE = bind(f"""
SELECT {BALANCE_COLUMNS}
FROM daily_balances WHERE profile_id = :profile_id AND reset_date = :day
""", ReadBalance)

# A session silent for longer than the stale gap counts as ended at the end of its paid window
# (not at its last beat: paused beats past the grace paid nothing), or at its last beat when
# nothing was paid.
SWEEP_STALE = """
UPDATE viewing_sessions
SET ended_at = coalesce(counted_until, last_heartbeat_at)
WHERE ended_at IS NULL AND last_heartbeat_at < $1
"""


HOT_STATEMENTS: tuple[tuple[str, type[NamedTuple]], ...] = (
    (CONTINUE_SESSION, ContinueSession), (OPEN_SESSION, OpenSession), (END_SESSION, EndSession),
    (READ_BALANCE, ReadBalance), (LOAD_FACTS, LoadFacts), (LOAD_DEVICE, LoadDevice),
)


async def prepare_hot_statements(conn: asyncpg.Connection) -> None:
    """Run each hot statement once with NULL parameters (matches no row, changes nothing) on a
    new pool connection, so asyncpg has it prepared and cached before the first heartbeat:
    otherwise the first use on each connection pays an extra Parse/Describe round trip."""
    for sql, params in HOT_STATEMENTS:
        await conn.fetchrow(sql, *nulls(params))


def _lock_key(profile_id: uuid.UUID) -> int:
    return int.from_bytes(profile_id.bytes[:8], "big", signed=True)


def balance_of(row: asyncpg.Record | None) -> Balance:
    """A statement's balance columns (all NULL when the day has no row yet)."""
    if row is None or row["used_seconds"] is None:
        return EMPTY_BALANCE
    return Balance(row["used_seconds"], row["educational_seconds"], row["granted_seconds"],
                   row["is_unlimited_override"])


@dataclass(frozen=True, slots=True)
class BeatOutcome:
    """What a heartbeat statement did. `found` False: no such session for this profile.
    `raced`: a concurrent first beat of the same child won; try again `serialized`."""

    found: bool
    ended: bool = False
    end_reason: str | None = None  # why it ended: 'stopped_by_parent', or None
    title_mismatch: bool = False
    is_educational: bool = False
    balance: Balance = EMPTY_BALANCE
    raced: bool = False
    round_trips: int = 1  # what it cost on the wire


RACED = BeatOutcome(found=True, raced=True)
SERIALIZED_ROUND_TRIPS = 4  # BEGIN, the advisory lock, the statement, COMMIT


class HeartbeatRepository:
    """Statements of the hot path. Each is exactly one round trip, run on a connection the
    caller holds (`connected()`), so the caller reads the clock once it has one: time spent
    waiting for the pool never puts a statement's instant behind a request that came later."""

    def __init__(self, pool: HotPool, *, interval: timedelta, pause_grace: timedelta,
                 stale_gap: timedelta) -> None:
        self._pool = pool
        self._interval = interval
        self._grace = pause_grace
        self._stale = stale_gap

    def connected(self) -> _Connected:
        return _Connected(self._pool.acquire(), self)

    async def balance(self, *, profile_id: uuid.UUID, day: date) -> Balance:
        async with self._pool.acquire() as conn:
            return balance_of(await conn.fetchrow(READ_BALANCE, *ReadBalance(profile_id, day)))

    async def sweep_stale(self, *, now: datetime) -> int:
        async with self._pool.acquire() as conn:
            status = await conn.execute(SWEEP_STALE, now - self._stale)
        return int(status.split()[-1])


class _Connected:
    """`async with repository.connected() as beats`: a pooled connection and the statements."""

    __slots__ = ("_acquire", "_repository")

    def __init__(self, acquire: Any, repository: HeartbeatRepository) -> None:
        self._acquire = acquire
        self._repository = repository

    async def __aenter__(self) -> HeartbeatStatements:
        return HeartbeatStatements(await self._acquire.__aenter__(), self._repository)

    async def __aexit__(self, *exc: Any) -> None:
        await self._acquire.__aexit__(*exc)


class HeartbeatStatements:
    __slots__ = ("_conn", "_interval", "_grace", "_stale")

    def __init__(self, conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record],
                 repository: HeartbeatRepository) -> None:
        self._conn = conn
        self._interval = repository._interval
        self._grace = repository._grace
        self._stale = repository._stale

    async def continue_session(self, *, session_id: uuid.UUID, profile_id: uuid.UUID,
                               title_id: uuid.UUID, now: datetime, is_paused: bool, day: date,
                               limit_seconds: int | None, educational_exempt: bool,
                               is_kids: bool, halt_reason: str | None,
                               window_end: datetime | None) -> BeatOutcome:
        row = await self._conn.fetchrow(CONTINUE_SESSION, *ContinueSession(
            session_id, profile_id, title_id, now, is_paused, day, limit_seconds,
            educational_exempt, is_kids, halt_reason, window_end, self._interval, self._grace,
            self._stale))
        if row is None:
            return BeatOutcome(found=False)
        if row["updated"] == 0:
            return BeatOutcome(found=True, ended=row["ended_at"] is not None,
                               end_reason=row["end_reason"],
                               title_mismatch=row["title_id"] != title_id)
        return BeatOutcome(found=True, is_educational=row["is_educational"],
                           balance=balance_of(row))

    async def open_session(self, *, session_id: uuid.UUID, profile_id: uuid.UUID,
                           account_id: uuid.UUID, title_id: uuid.UUID, now: datetime,
                           is_paused: bool, day: date, limit_seconds: int | None,
                           educational_exempt: bool, device_id: str, device_type: str,
                           is_kids: bool, halt_reason: str | None, window_end: datetime | None,
                           serialized: bool = False) -> BeatOutcome:
        """`raced` when a concurrent first beat of the same child profile won the race for its
        one open session. The caller then retries `serialized`: under a per-profile advisory
        lock, so racing devices take turns and each retry's fresh snapshot sees (and ends) the
        session that won."""
        args = OpenSession(session_id, profile_id, account_id, title_id, now, is_paused, day,
                           limit_seconds, educational_exempt, is_kids, halt_reason, window_end,
                           device_id, device_type, self._interval, self._stale)
        round_trips = SERIALIZED_ROUND_TRIPS if serialized else 1
        try:
            if serialized:
                async with self._conn.transaction():
                    await self._conn.execute("SELECT pg_advisory_xact_lock($1)",
                                             _lock_key(profile_id))
                    row = await self._conn.fetchrow(OPEN_SESSION, *args)
            else:
                row = await self._conn.fetchrow(OPEN_SESSION, *args)
        except asyncpg.UniqueViolationError:
            return replace(RACED, round_trips=round_trips)
        if row is None:
            return BeatOutcome(found=False, round_trips=round_trips)
        return BeatOutcome(found=True, is_educational=row["is_educational"],
                           balance=balance_of(row), round_trips=round_trips)

    async def end_session(self, *, session_id: uuid.UUID, account_id: uuid.UUID,
                          profile_id: uuid.UUID | None, now: datetime,
                          end_reason: str | None = None) -> EndedSession | None:
        row = await self._conn.fetchrow(END_SESSION,
                                        *EndSession(session_id, account_id, profile_id,
                                                    end_reason, now, self._stale))
        if row is None:
            return None
        return EndedSession(row["id"], row["total_seconds"], row["ended_at"])
