"""The history statement is an index range scan on (profile_id, started_at DESC): no sequential
scan of viewing_sessions and no sort, on a table with many sessions of many profiles.

The statement EXPLAINed is the repository's own text, sent through the app's driver path
(SQLAlchemy + asyncpg, bound parameters); the generic plan (what a prepared statement may
switch to after five runs) is checked as well.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import asyncpg_dsn, sqlalchemy_url
from app.repositories.reports import HISTORY_PLANNER_COSTS, HISTORY_SESSIONS, TOP_TITLES
from tests.support.db import truncate_all

pytestmark = pytest.mark.anyio

INDEX = "ix_viewing_sessions_profile_id_started_at"
NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


def _assert_index_range_scan(plan: dict[str, Any]) -> None:
    nodes = _nodes(plan)
    kinds = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in nodes]
    assert ("Index Scan", "viewing_sessions", INDEX) in kinds, kinds
    assert not any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "viewing_sessions"
                   for n in nodes), kinds
    assert not any("Sort" in n["Node Type"] for n in nodes), kinds


async def _seed(database_url: str, *, sessions: int, profiles: int) -> uuid.UUID:
    """`sessions` rows spread over `profiles` child profiles and 200 days; returns the profile
    whose history is read (it has its share, 1/profiles of the rows)."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        account = uuid.uuid4()
        await conn.execute("INSERT INTO accounts (id, email, password_hash, created_at) "
                           "VALUES ($1, 'plan@example.com', 'x', now())", account)
        await conn.execute("""
            INSERT INTO titles (id, title, is_educational)
            SELECT gen_random_uuid(), 'Title ' || n, n % 4 = 0 FROM generate_series(1, 50) AS n
        """)
        ids = [uuid.uuid4() for _ in range(profiles)]
        await conn.execute("""
            INSERT INTO profiles (id, account_id, name, is_kids, created_at)
            SELECT p, $2, 'Kid', true, now() FROM unnest($1::uuid[]) AS p
        """, ids, account)
        await conn.execute("""
            WITH t AS (SELECT array_agg(id) AS ids FROM titles)
            INSERT INTO viewing_sessions (id, profile_id, title_id, device_id, device_type,
                is_educational, started_at, last_heartbeat_at, ended_at, total_seconds)
            SELECT gen_random_uuid(), ($1::uuid[])[1 + n % $2], t.ids[1 + n % 50], 'tv', 'tv',
                   false, s, s, s + interval '20 minutes', 1200
            FROM t, generate_series(1, $3) AS n,
                 LATERAL (SELECT $4::timestamptz - (interval '200 days' * n / $3) AS s) AS x
        """, ids, profiles, sessions, NOW)
        await conn.execute("ANALYZE")
        return ids[0]
    finally:
        await conn.close()


async def _explain(database_url: str, profile_id: uuid.UUID, days: int) -> tuple[dict, float]:
    engine = create_async_engine(sqlalchemy_url(database_url))
    params = {"profile_id": profile_id, "start": NOW - timedelta(days=days), "end": NOW,
              "limit": 501}
    try:
        async with engine.connect() as conn:  # in a transaction, like the repository's read
            await conn.execute(HISTORY_PLANNER_COSTS)
            explain = text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + HISTORY_SESSIONS.text)
            [[result]] = (await conn.execute(explain, params)).all()
            plan = result[0]
            # The plan a prepared statement may settle on after five runs: the generic one.
            raw = (await conn.get_raw_connection()).driver_connection
            positional = (HISTORY_SESSIONS.text.replace(":profile_id", "$1")
                          .replace(":start", "$2").replace(":end", "$3").replace(":limit", "$4"))
            await raw.execute("PREPARE history_plan (uuid, timestamptz, timestamptz, int) AS "
                              + positional)
            await raw.execute("SET plan_cache_mode = force_generic_plan")
            # (EXECUTE takes no bound parameters; the values do not shape a generic plan.)
            generic = await raw.fetchval(
                "EXPLAIN (FORMAT JSON) EXECUTE history_plan("
                f"'{profile_id}', '{params['start'].isoformat()}', '{NOW.isoformat()}', 501)")
            generic = json.loads(generic) if isinstance(generic, str) else generic
            _assert_index_range_scan(generic[0]["Plan"])
    finally:
        await engine.dispose()
    return plan["Plan"], plan["Execution Time"]


@pytest.fixture
async def empty_database(database_url):  # type: ignore[no-untyped-def]
    await truncate_all(database_url)
    yield database_url
    await truncate_all(database_url)  # leave no 50k rows behind for the next tests


@pytest.mark.parametrize("days", [90, 7])
async def test_history_uses_the_index_on_50k_sessions(empty_database, days):
    profile = await _seed(empty_database, sessions=50_000, profiles=25)
    plan, ms = await _explain(empty_database, profile, days)
    _assert_index_range_scan(plan)
    print(f"\nhistory {days} days, 50k sessions: {ms:.2f} ms in PostgreSQL")


@pytest.mark.slow
async def test_history_uses_the_index_on_a_million_sessions(empty_database):
    started = time.perf_counter()
    profile = await _seed(empty_database, sessions=1_000_000, profiles=500)
    seeded = time.perf_counter() - started
    plan, ms = await _explain(empty_database, profile, 90)
    _assert_index_range_scan(plan)
    print(f"\nhistory 90 days, 1M sessions (seeded in {seeded:.0f} s): {ms:.2f} ms in PostgreSQL")
    assert ms < 20


async def test_weekly_top_titles_read_index_ranges(empty_database):
    """The report's sessions statement reads each child's week through the same index."""
    await _seed(empty_database, sessions=50_000, profiles=25)
    conn = await asyncpg.connect(asyncpg_dsn(empty_database))
    try:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM profiles LIMIT 10")]
        sql = (TOP_TITLES.text.replace(":profile_ids", "$1").replace(":starts", "$2")
               .replace(":ends", "$3").replace(":top", "$4"))
        plan = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, ids,
                                   [NOW - timedelta(days=7)] * 10, [NOW] * 10, 3)
    finally:
        await conn.close()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes = _nodes(plan[0]["Plan"])
    assert any(n.get("Index Name") == INDEX for n in nodes)
    assert not any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "viewing_sessions"
                   for n in nodes)
    print(f"\nweekly top titles, 10 children, 50k sessions: {plan[0]['Execution Time']:.2f} ms")
