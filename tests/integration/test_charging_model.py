"""The heartbeat statement against its reference model (app/domain/charging.py).

Random sequences of continuing beats (gaps inside and past the interval, the pause grace and the
stale gap; pauses and resumes; duplicates; a 15-minute limit that runs out; an educational or a
regular title) go through the real API and the real statement on PostgreSQL, and through the
pure model; after every beat the session row, the charge and the enforcement must agree.

FUZZ_EXAMPLES-style knob: CHARGING_EXAMPLES (default 25; `make test-slow` runs 250).
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.database import asyncpg_dsn
from app.domain.balance import Balance, enforcement_for, remaining_seconds
from app.domain.charging import Limit, Mode, Rules, SessionState, charge
from tests.support.parental import put_config

pytestmark = pytest.mark.anyio

START = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a weekday, far from the 06:00 reset
RULES = Rules(interval=timedelta(seconds=30), pause_grace=timedelta(seconds=300),
              stale_gap=timedelta(seconds=300))
LIMIT_MINUTES = 15

# Gaps picked around every boundary of the rules (seconds, some with milliseconds); 0 is a
# duplicate. Ten beats of at most 330 s stay inside one viewing day and one token lifetime.
GAPS = st.one_of(st.sampled_from([0, 0.001, 10, 29.999, 30, 30.001, 60, 299, 300, 300.001, 330]),
                 st.integers(0, 330))
BEATS = st.lists(st.tuples(GAPS, st.booleans()), min_size=1, max_size=10)


def _examples(default: int) -> int:
    return int(os.environ.get("CHARGING_EXAMPLES", default))


async def _row(conn: asyncpg.Connection, session_id: str) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT last_heartbeat_at, counted_until, paused_at, total_seconds, ended_at "
        "FROM viewing_sessions WHERE id = $1", uuid.UUID(session_id))


async def _check(parent, titles, clock, database_url, beats, educational):  # type: ignore[no-untyped-def]
    clock.set(START)
    await parent.login()
    kid = await parent.child(f"kid-{uuid.uuid4().hex[:8]}")
    assert (await put_config(parent, kid, weekday_limit_minutes=LIMIT_MINUTES,
                             weekend_limit_minutes=LIMIT_MINUTES)).status_code == 200
    title = titles.documentary if educational else titles.cartoon
    first = await parent.beat(kid, title)
    assert first.status_code == 200, first.text
    session_id = first.json()["session_id"]
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        row = await _row(conn, session_id)
        state = SessionState(row["last_heartbeat_at"], row["counted_until"], row["paused_at"],
                             educational)
        used = Decimal(0) if educational else Decimal(30)
        total = row["total_seconds"]
        for gap, paused in beats:
            clock.advance(gap)
            balance = Balance(used, Decimal(0), 0, False)
            limit = Limit(True, LIMIT_MINUTES, True, balance)
            expected = charge(state, now=clock.now(), paused=paused, limit=limit, rules=RULES)
            r = await parent.beat(kid, title, session_id, is_paused=paused)
            assert r.status_code == 200, r.text
            row = await _row(conn, session_id)
            step = f"gap {gap}, paused {paused}: expected {expected}, row {dict(row)}"
            assert row["ended_at"] is None, step
            assert row["counted_until"] == expected.counted_until, step
            assert row["paused_at"] == expected.paused_at, step
            assert row["last_heartbeat_at"] == expected.at, step
            assert row["total_seconds"] - total == expected.seconds, step
            if not expected.educational:
                used += expected.seconds
            after = Balance(used, Decimal(0), 0, False)
            shown = "allowed" if expected.educational else enforcement_for(
                remaining_seconds(LIMIT_MINUTES, after)).value
            if expected.mode is Mode.blocked:
                shown = "blocked"
            assert r.json()["enforcement"] == shown, step
            state = SessionState(row["last_heartbeat_at"], row["counted_until"],
                                 row["paused_at"], educational)
            total = row["total_seconds"]
    finally:
        await conn.close()


@settings(max_examples=_examples(25), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(beats=BEATS, educational=st.booleans())
async def test_the_statement_charges_what_the_model_charges(parent, titles, clock, database_url,
                                                            beats, educational):
    await _check(parent, titles, clock, database_url, beats, educational)


@pytest.mark.slow
@settings(max_examples=_examples(250), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(beats=BEATS, educational=st.booleans())
async def test_the_statement_charges_what_the_model_charges_longer(parent, titles, clock,
                                                                   database_url, beats,
                                                                   educational):
    await _check(parent, titles, clock, database_url, beats, educational)
