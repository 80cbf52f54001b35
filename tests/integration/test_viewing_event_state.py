"""The heartbeat statement's idea of a beat's state (app/repositories/viewing_events.py, which
decides the viewing.* events) against the answer the player gets (app/domain/heartbeat.py):
the same enforcement and the same remaining minutes for any balance, limit, lock and allowed
hours. The events' once-only and re-arming rules are in tests/api/test_viewing_events.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.database import asyncpg_dsn
from app.domain.balance import Balance
from app.domain.control import Lock
from app.domain.heartbeat import Moment, beat_answer
from app.domain.schedules import Allowance
from app.repositories.named_sql import bind
from app.repositories.viewing_events import beat_state
from app.services.viewing_time import _halt_reason

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)


class Case(NamedTuple):
    used: Decimal
    granted: int
    unlimited: bool
    exempt: bool
    halt_reason: str | None
    limit_seconds: int | None
    window_end: datetime | None
    now: datetime
    is_kids: bool


STATE = bind("""
WITH src AS (
    SELECT :used::numeric AS used_seconds, :granted::int AS granted_seconds,
           :unlimited::boolean AS is_unlimited_override, :exempt::boolean AS exempt
), """ + beat_state("src b", "b.exempt") + """
SELECT coalesce(state, 'allowed') AS state, shown FROM beat
""", Case)

CASES = st.tuples(
    st.integers(0, 8000),  # used seconds
    st.sampled_from([0, 900, 1800, 3600]),  # granted
    st.booleans(), st.booleans(), st.booleans(), st.booleans(),  # unlimited, exempt, outside, lock
    st.one_of(st.none(), st.sampled_from([15, 30, 60, 120])),  # the day's limit, minutes
    st.one_of(st.none(), st.integers(1, 7200)))  # seconds to the end of the allowed hours


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=CASES)
async def test_the_statement_sees_the_state_the_answer_gives(database_url, case):
    used, granted, unlimited, exempt, outside, locked, limit, window = case
    allowance = (Allowance(False, None, None) if outside
                 else None if window is None else Allowance(True, NOW + timedelta(seconds=window),
                                                            None))
    balance = Balance(Decimal(used), Decimal(0), granted, unlimited)
    answer = beat_answer(uuid.uuid4(), is_kids=True, limit_minutes=limit, balance=balance,
                         is_educational=exempt, educational_exempt=True,
                         moment=Moment(NOW, NOW + timedelta(hours=18),
                                       Lock(None) if locked else None, allowance))
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        row = await conn.fetchrow(STATE, *Case(
            Decimal(used), granted, unlimited, exempt,
            _halt_reason(outside=outside, locked=locked),
            None if limit is None else limit * 60,
            allowance.ends_at if allowance is not None else None, NOW, True))
    finally:
        await conn.close()
    assert row["state"] == answer.enforcement.value
    shown = None if row["shown"] is None else float(row["shown"])
    assert shown == answer.remaining_minutes
