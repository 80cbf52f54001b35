"""The hot path's SQL, run on raw asyncpg: one statement per heartbeat.

Why raw asyncpg and whole-operation statements: every heartbeat of every watching child lands
here. Each statement below does a whole operation (lock the session, compute the charge from the
paid window, update the session, upsert the day's balance, return both) so it costs exactly one
round trip, in autocommit: no BEGIN/COMMIT, no pool reset, no pre-ping. Concurrency is settled
by the row lock: a duplicate beat waits for the first, then sees its `counted_until` (PostgreSQL
re-reads a row locked FOR UPDATE after the wait), so it charges nothing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from app.database import HotPool
from app.domain.balance import EMPTY_BALANCE, Balance
from app.models import CHILD_STREAM
from app.repositories.profile_facts import LOAD_FACTS


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


# Continuing session. $1 session, $2 profile, $3 title, $4 now, $5 is_paused, $6 viewing day,
# $7 limit seconds (NULL = unlimited), $8 educational exempt, $9 interval, $10 pause grace,
# $11 stale gap, $12 is a child profile (adults record sessions but have no balance).
CONTINUE_SESSION = """
WITH cur AS (
    SELECT id, title_id, ended_at, is_educational, counted_until, paused_at, last_heartbeat_at,
           {t} AS t
    FROM viewing_sessions s
    WHERE id = $1 AND profile_id = $2
    FOR UPDATE
), before AS (
    SELECT used_seconds, granted_seconds, is_unlimited_override
    FROM daily_balances WHERE profile_id = $2 AND reset_date = $6
), step AS (
    SELECT cur.id, cur.t, cur.counted_until, cur.paused_at,
           cur.is_educational AND $8 AS to_edu,
           CASE
             WHEN $5 AND cur.paused_at IS NOT NULL AND cur.t - cur.paused_at > $10::interval
               THEN 'off'
             WHEN $12 AND $7::int IS NOT NULL AND NOT (cur.is_educational AND $8)
                  AND NOT coalesce(b.is_unlimited_override, false)
                  AND $7 + coalesce(b.granted_seconds, 0) - coalesce(b.used_seconds, 0) <= 0
               THEN 'blocked'
             WHEN cur.counted_until IS NULL
                  OR cur.t - cur.last_heartbeat_at > $11::interval
                  OR (NOT $5 AND cur.paused_at IS NOT NULL
                      AND cur.t - cur.paused_at > $10::interval)
               THEN 'open'
             ELSE 'continue'
           END AS mode
    FROM cur LEFT JOIN before b ON true
    WHERE cur.ended_at IS NULL AND cur.title_id = $3
), charge AS (
    SELECT id, t, to_edu, mode,
           CASE mode
             WHEN 'open' THEN extract(epoch FROM $9::interval)
             WHEN 'continue'
               THEN round(greatest(0, extract(epoch FROM t + $9::interval - counted_until)), 3)
             ELSE 0
           END AS seconds,
           CASE mode
             WHEN 'off' THEN counted_until
             WHEN 'blocked' THEN NULL
             WHEN 'open' THEN t + $9::interval
             ELSE greatest(counted_until, t + $9::interval)
           END AS counted_until,
           CASE WHEN $5 THEN coalesce(paused_at, t) END AS paused_at
    FROM step
), upd AS (
    UPDATE viewing_sessions s
    SET last_heartbeat_at = c.t,
        counted_until = c.counted_until,
        paused_at = c.paused_at,
        total_seconds = s.total_seconds + c.seconds,
        last_charge_date = CASE WHEN c.seconds > 0 THEN $6 ELSE s.last_charge_date END,
        last_charge_educational = CASE WHEN c.seconds > 0 THEN c.to_edu
                                       ELSE s.last_charge_educational END
    FROM charge c
    WHERE s.id = c.id
    RETURNING s.id
), bal AS (
    INSERT INTO daily_balances AS d
        (profile_id, reset_date, used_seconds, educational_seconds, updated_at)
    SELECT $2, $6, CASE WHEN c.to_edu THEN 0 ELSE c.seconds END,
           CASE WHEN c.to_edu THEN c.seconds ELSE 0 END, $4
    FROM charge c
    WHERE $12
    ON CONFLICT (profile_id, reset_date) DO UPDATE
    SET used_seconds = d.used_seconds + excluded.used_seconds,
        educational_seconds = d.educational_seconds + excluded.educational_seconds,
        updated_at = excluded.updated_at
    RETURNING used_seconds, educational_seconds, granted_seconds, is_unlimited_override
)
SELECT cur.title_id, cur.ended_at, cur.is_educational, (SELECT count(*) FROM upd) AS updated,
       bal.used_seconds, bal.educational_seconds, bal.granted_seconds, bal.is_unlimited_override
FROM cur LEFT JOIN bal ON true
""".format(t=session_instant("$4", "s"))

# First beat: open a session, end every other open session of the profile (refunding its unpaid
# window to the day and bucket that paid it), charge the first interval, all in one statement.
# $1 new id, $2 profile, $3 account, $4 title, $5 now, $6 is_paused, $7 viewing day,
# $8 limit seconds, $9 educational exempt, $10 interval, $11 device id, $12 device type,
# $13 is a child profile (one stream: its other open sessions end; adults watch on any number of
# devices), $14 stale gap. The new session starts no earlier than the last beat of those it ends.
OPEN_SESSION = """
WITH ok AS (
    SELECT t.is_educational
    FROM titles t
    WHERE t.id = $4 AND EXISTS (SELECT 1 FROM profiles p WHERE p.id = $2 AND p.account_id = $3)
), prior AS (
    SELECT s.id, s.last_charge_date, s.last_charge_educational, s.counted_until,
           s.last_heartbeat_at
    FROM viewing_sessions s
    WHERE $13 AND s.profile_id = $2 AND s.ended_at IS NULL AND EXISTS (SELECT 1 FROM ok)
    FOR UPDATE
), clock AS (
    SELECT greatest($5::timestamptz, (SELECT max(last_heartbeat_at) FROM prior)) AS t
), old AS (
    SELECT p.id, p.last_charge_date, p.last_charge_educational, e.at, {refund} AS refund
    FROM prior p CROSS JOIN clock
    CROSS JOIN LATERAL (SELECT {end_at} AS at) e
), ended AS (
    UPDATE viewing_sessions s
    SET ended_at = o.at, counted_until = least(s.counted_until, o.at),
        total_seconds = s.total_seconds - o.refund
    FROM old o
    WHERE s.id = o.id
    RETURNING o.last_charge_date AS day, o.last_charge_educational AS edu, o.refund
), before AS (
    SELECT coalesce(b.used_seconds, 0)
             - coalesce((SELECT sum(refund) FROM ended WHERE day = $7 AND NOT edu), 0) AS used,
           coalesce(b.granted_seconds, 0) AS granted,
           coalesce(b.is_unlimited_override, false) AS unlimited
    FROM (SELECT 1) AS one
    LEFT JOIN daily_balances b ON b.profile_id = $2 AND b.reset_date = $7
), step AS (
    SELECT ok.is_educational, ok.is_educational AND $9 AS to_edu,
           ($13 AND $8::int IS NOT NULL AND NOT (ok.is_educational AND $9) AND NOT before.unlimited
            AND $8 + before.granted - before.used <= 0) AS blocked
    FROM ok, before
), ins AS (
    INSERT INTO viewing_sessions
        (id, profile_id, title_id, device_id, device_type, is_educational, started_at,
         last_heartbeat_at, counted_until, paused_at, total_seconds, last_charge_date,
         last_charge_educational, stream_key)
    SELECT $1, $2, $4, $11, $12, st.is_educational, clock.t, clock.t,
           CASE WHEN st.blocked THEN NULL ELSE clock.t + $10::interval END,
           CASE WHEN $6 THEN clock.t END,
           CASE WHEN st.blocked THEN 0 ELSE extract(epoch FROM $10::interval) END,
           CASE WHEN st.blocked THEN NULL ELSE $7::date END,
           st.to_edu, CASE WHEN $13 THEN '{child}'::uuid ELSE $1 END
    FROM step st CROSS JOIN clock
    -- Reading `ended` first makes the old sessions end before this row meets the
    -- one-open-session-per-profile unique index.
    WHERE (SELECT count(*) FROM ended) >= 0
    RETURNING id, total_seconds AS charge, last_charge_educational AS to_edu
), deltas AS (
    SELECT $7::date AS day,
           CASE WHEN to_edu THEN 0 ELSE charge END AS used,
           CASE WHEN to_edu THEN charge ELSE 0 END AS edu
    FROM ins WHERE $13
    UNION ALL
    SELECT day, CASE WHEN edu THEN 0 ELSE -refund END, CASE WHEN edu THEN -refund ELSE 0 END
    FROM ended WHERE $13 AND day IS NOT NULL AND refund > 0
), bal AS (
    INSERT INTO daily_balances AS d
        (profile_id, reset_date, used_seconds, educational_seconds, updated_at)
    SELECT $2, day, sum(used), sum(edu), $5 FROM deltas GROUP BY day
    ON CONFLICT (profile_id, reset_date) DO UPDATE
    SET used_seconds = d.used_seconds + excluded.used_seconds,
        educational_seconds = d.educational_seconds + excluded.educational_seconds,
        updated_at = excluded.updated_at
    RETURNING reset_date, used_seconds, educational_seconds, granted_seconds,
              is_unlimited_override
)
SELECT ins.id, st.is_educational,
       bal.used_seconds, bal.educational_seconds, bal.granted_seconds, bal.is_unlimited_override
FROM ins CROSS JOIN step st LEFT JOIN bal ON bal.reset_date = $7
""".format(refund=refund("p", "e.at"), end_at=end_instant("clock.t", "p", "$14"),
           child=CHILD_STREAM)

# End a session at $3 (never before its last beat; at the end of its paid window when stale by
# the gap $4) and refund the unused part of its paid window; scoped to account $2.
END_SESSION = """
WITH found AS (
    SELECT s.id, s.ended_at, s.total_seconds, s.profile_id, s.last_charge_date,
           s.last_charge_educational, s.counted_until, e.at
    FROM viewing_sessions s
    JOIN profiles p ON p.id = s.profile_id
    CROSS JOIN LATERAL (SELECT {end_at} AS at) e
    WHERE s.id = $1 AND p.account_id = $2
    FOR UPDATE OF s
), cur AS (
    SELECT f.*, {refund} AS refund FROM found f
), ended AS (
    UPDATE viewing_sessions s
    SET ended_at = c.at, counted_until = least(s.counted_until, c.at),
        total_seconds = s.total_seconds - c.refund
    FROM cur c
    WHERE s.id = c.id AND c.ended_at IS NULL
    RETURNING s.id, s.total_seconds, s.ended_at, c.profile_id, c.last_charge_date,
              c.last_charge_educational, c.refund
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
""".format(end_at=end_instant(session_instant("$3", "s"), "s", "$4"), refund=refund("f", "f.at"))

READ_BALANCE = """
SELECT used_seconds, educational_seconds, granted_seconds, is_unlimited_override
FROM daily_balances WHERE profile_id = $1 AND reset_date = $2
"""

# A session silent for longer than the stale gap counts as ended at the end of its paid window
# (not at its last beat: paused beats past the grace paid nothing), or at its last beat when
# nothing was paid.
SWEEP_STALE = """
UPDATE viewing_sessions
SET ended_at = coalesce(counted_until, last_heartbeat_at)
WHERE ended_at IS NULL AND last_heartbeat_at < $1
"""


HOT_STATEMENTS = (CONTINUE_SESSION, OPEN_SESSION, END_SESSION, READ_BALANCE)


def _parameter_count(sql: str) -> int:
    return max(int(n) for n in re.findall(r"\$(\d+)", sql))


async def prepare_hot_statements(conn: asyncpg.Connection) -> None:
    """Run each hot statement once with NULL parameters (matches no row, changes nothing) on a
    new pool connection, so asyncpg has it prepared and cached before the first heartbeat:
    otherwise the first use on each connection pays an extra Parse/Describe round trip."""
    for sql in (*HOT_STATEMENTS, LOAD_FACTS):
        await conn.fetchrow(sql, *([None] * _parameter_count(sql)))


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
    """What a heartbeat statement did. `found` False: no such session for this profile."""

    found: bool
    ended: bool = False
    title_mismatch: bool = False
    is_educational: bool = False
    balance: Balance = EMPTY_BALANCE


@dataclass(frozen=True, slots=True)
class EndedSession:
    session_id: uuid.UUID
    total_seconds: Decimal
    ended_at: datetime


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
            return balance_of(await conn.fetchrow(READ_BALANCE, profile_id, day))

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
                               is_kids: bool) -> BeatOutcome:
        row = await self._conn.fetchrow(
            CONTINUE_SESSION, session_id, profile_id, title_id, now, is_paused, day,
            limit_seconds, educational_exempt, self._interval, self._grace, self._stale,
            is_kids,
        )
        if row is None:
            return BeatOutcome(found=False)
        if row["updated"] == 0:
            return BeatOutcome(found=True, ended=row["ended_at"] is not None,
                               title_mismatch=row["title_id"] != title_id)
        return BeatOutcome(found=True, is_educational=row["is_educational"],
                           balance=balance_of(row))

    async def open_session(self, *, session_id: uuid.UUID, profile_id: uuid.UUID,
                           account_id: uuid.UUID, title_id: uuid.UUID, now: datetime,
                           is_paused: bool, day: date, limit_seconds: int | None,
                           educational_exempt: bool, device_id: str, device_type: str,
                           is_kids: bool, serialized: bool = False) -> BeatOutcome:
        """Raises asyncpg.UniqueViolationError when a concurrent first beat of the same child
        profile won the race for its one open session. The caller then retries `serialized`:
        under a per-profile advisory lock, so racing devices take turns and each retry's fresh
        snapshot sees (and ends) the session that won."""
        args = (session_id, profile_id, account_id, title_id, now, is_paused, day, limit_seconds,
                educational_exempt, self._interval, device_id, device_type, is_kids, self._stale)
        if serialized:
            async with self._conn.transaction():
                await self._conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(profile_id))
                row = await self._conn.fetchrow(OPEN_SESSION, *args)
        else:
            row = await self._conn.fetchrow(OPEN_SESSION, *args)
        if row is None:
            return BeatOutcome(found=False)
        return BeatOutcome(found=True, is_educational=row["is_educational"],
                           balance=balance_of(row))

    async def end_session(self, *, session_id: uuid.UUID, account_id: uuid.UUID,
                          now: datetime) -> EndedSession | None:
        row = await self._conn.fetchrow(END_SESSION, session_id, account_id, now, self._stale)
        if row is None:
            return None
        return EndedSession(row["id"], row["total_seconds"], row["ended_at"])
