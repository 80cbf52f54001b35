"""PostgreSQL's own CPU per continuing-heartbeat statement, one variant after another on one
backend, with nothing else running on it: where the database's share of a heartbeat goes.

    python -m bench.statement_cost

Variants: the service's statement as it is; the same without the viewing-event CTEs (what a
beat that reaches no threshold still evaluates for them); the two row changes alone (the floor
for a statement that keeps a session row and a balance row); the ceiling's single upsert on
`daily_balances`; and a statement that only takes the same parameters (the fixed cost). CPU
is the backend's utime + stime from /proc/PID/stat (10 ms ticks: each variant runs a few
thousand statements), so this needs the server on this machine. Serial, so lock waits and
contention (present under `make bench`) are not in it.
"""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson
import uvloop
from app.database import asyncpg_dsn
from app.repositories.heartbeats import CONTINUE_SESSION, ContinueSession
from app.services.clock import FrozenClock
from tests.support import api
from tests.support.apps import QUIET_BACKGROUND, running_app
from tests.support.db import scratch_database

from bench.inprocess import _beat

TICK_US = 10_000  # /proc's clock ticks are 1/100 s


def _without_events(statement: str) -> str:
    """The statement without its viewing-event CTEs (`beat`, `viewing_events`) and their read."""
    start = statement.index("), beat AS (")
    end = statement.index("\nSELECT cur.title_id")
    return (statement[:start] + ")" + statement[end:]).replace(
        "(SELECT sum(written) FROM viewing_events) AS events_written", "NULL AS events_written")


# The ceiling's upsert, taking (and ignoring) the service statement's other parameters.
UPSERT = """INSERT INTO daily_balances AS d (profile_id, reset_date, used_seconds, updated_at)
VALUES ($2, $6, 30, $4) ON CONFLICT (profile_id, reset_date) DO UPDATE
SET used_seconds = d.used_seconds + excluded.used_seconds, updated_at = excluded.updated_at
RETURNING used_seconds, granted_seconds, is_unlimited_override, $1::uuid, $3::uuid, $5::bool,
          $7::int, $8::bool, $9::bool, $10::text, $11::timestamptz, $12::interval,
          $13::interval, $14::interval"""

# The same parameters, typed, and nothing done with them: a statement's fixed cost (protocol,
# executor start, autocommit) before it touches a row.
PARAMETERS = ("$1::uuid, $2::uuid, $3::uuid, $4::timestamptz, $5::bool, $6::date, $7::int, "
              "$8::bool, $9::bool, $10::text, $11::timestamptz, $12::interval, $13::interval, "
              "$14::interval")
NOTHING = f"SELECT {PARAMETERS}"

# The two row changes a continuing beat must make (its session, its day's balance), with none
# of the rules: the floor under any one-statement heartbeat that keeps both rows.
TWO_CHANGES = f"""WITH u AS (
    UPDATE viewing_sessions
    SET last_heartbeat_at = $4, counted_until = $4::timestamptz + $12::interval,
        total_seconds = total_seconds + 30
    WHERE id = $1 AND profile_id = $2 RETURNING id
), b AS (
    INSERT INTO daily_balances AS d
        (profile_id, reset_date, used_seconds, educational_seconds, updated_at)
    SELECT $2, $6, 30, 0, $4 FROM u
    ON CONFLICT (profile_id, reset_date) DO UPDATE
    SET used_seconds = d.used_seconds + excluded.used_seconds, updated_at = excluded.updated_at
    RETURNING used_seconds, granted_seconds, is_unlimited_override
)
SELECT b.*, {PARAMETERS} FROM b"""

VARIANTS = {"the heartbeat statement": CONTINUE_SESSION,
            "without the event CTEs": _without_events(CONTINUE_SESSION),
            "the two changes alone": TWO_CHANGES,
            "the ceiling's upsert": UPSERT,
            "a statement doing nothing": NOTHING}


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def _sessions(url: str, clock: FrozenClock, profiles: int) -> tuple[str, dict[str, str]]:
    """A title and `profiles` children, each in an open session (opened through the app)."""
    async with running_app(url, clock, log_level="WARNING", **QUIET_BACKGROUND) as running:
        parent = await api.signed_up(running.client, "statement-cost@example.com")
        titles = await api.seed_titles(running.container)
        headers = [(b"authorization", parent.headers["Authorization"].encode())]
        sessions = {}
        for i in range(profiles):
            kid = await parent.child(f"Kid {i}")
            _, answer = await _beat(running.app, headers,
                                    {"profile_id": kid, "title_id": titles.cartoon,
                                     "device_id": "tv"})
            sessions[kid] = orjson.loads(answer)["session_id"]
    return titles.cartoon, sessions


async def measure(url: str, *, profiles: int, rounds: int, repeats: int) -> None:
    clock = FrozenClock(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))
    title, sessions = await _sessions(url, clock, profiles)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        now = clock.now()
        for _ in range(repeats):
            for name, sql in VARIANTS.items():
                statement = await conn.prepare(sql)
                started, count = _cpu_ticks(pid), 0
                for _ in range(rounds):
                    now += timedelta(seconds=30)
                    for kid, session in sessions.items():
                        await statement.fetchrow(*ContinueSession(
                            uuid.UUID(session), uuid.UUID(kid), uuid.UUID(title), now, False,
                            now.date(), 36_000, False, True, None, None,
                            timedelta(seconds=30), timedelta(seconds=120),
                            timedelta(seconds=300)))
                        count += 1
                used = (_cpu_ticks(pid) - started) * TICK_US / count
                print(f"{name:26s} {used:5.0f} µs of PostgreSQL CPU per statement ({count:,})")
    finally:
        await conn.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profiles", type=int, default=200)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    with scratch_database(migrated=True) as url:
        uvloop.run(measure(url, profiles=args.profiles, rounds=args.rounds,
                           repeats=args.repeats))


if __name__ == "__main__":
    main()
