"""The weekly report reads every child in a fixed number of statements; history in two reads.

Statements are counted with a `before_cursor_execute` listener on the ORM engine (every SQL
statement the report sends passes through it), wire round trips with the counting proxy.
"""

from __future__ import annotations

import contextlib
import inspect
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database import asyncpg_dsn
from tests.support import api
from tests.support.parental import history, weekly_report

pytestmark = pytest.mark.anyio


@contextlib.contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


async def _resolved(value):  # type: ignore[no-untyped-def]
    return await value if inspect.isawaitable(value) else value


async def _seed_week(database_url: str, profile_ids: list[str], title_id: str) -> None:
    """20 ten-minute sessions a day for the 7 days up to Wednesday 4 March, and the balances."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        ids = [uuid.UUID(p) for p in profile_ids]
        await conn.execute("""
            INSERT INTO viewing_sessions (id, profile_id, title_id, device_id, device_type,
                is_educational, started_at, last_heartbeat_at, ended_at, total_seconds)
            SELECT gen_random_uuid(), p, $2, 'tv', 'tv', false, t, t, t + interval '10 minutes', 600
            FROM unnest($1::uuid[]) AS p,
                 generate_series(timestamptz '2026-02-26 07:00+00',
                                 timestamptz '2026-03-04 11:00+00', interval '1 day') AS d,
                 generate_series(d, d + interval '285 minutes', interval '15 minutes') AS t
        """, ids, uuid.UUID(title_id))
        await conn.execute("""
            INSERT INTO daily_balances (profile_id, reset_date, used_seconds, updated_at)
            SELECT p, d::date, 20 * 600, now()
            FROM unnest($1::uuid[]) AS p,
                 generate_series(date '2026-02-26', date '2026-03-04', interval '1 day') AS d
        """, ids)
    finally:
        await conn.close()


@pytest.mark.parametrize("children", [1, 10])
async def test_weekly_report_is_three_statements_whatever_the_number_of_children(
        proxied, database_url, children):
    proxy, client, container = proxied
    parent = await api.signed_up(client, f"report{children}@example.com")
    titles = await api.seed_titles(container)
    kids = [await parent.child(f"Kid {n}") for n in range(children)]
    await parent.adult()
    await _seed_week(database_url, kids, titles.cartoon)
    engine = await _resolved(container.engine())
    metrics = container.metrics()

    await weekly_report(parent)  # warm: the ORM's first-connection queries are not the report's
    reports_before, queries_before = metrics.reports, metrics.report_queries
    trips_before = proxy.round_trips
    with statements(engine) as seen:
        r = await weekly_report(parent)
    trips = proxy.round_trips - trips_before
    assert r.status_code == 200
    report = r.json()["profiles"]
    assert len(report) == children
    assert all(p["total_minutes"] == 7 * 20 * 10 for p in report)
    assert all(p["top_titles"][0]["total_minutes"] == 7 * 20 * 10 for p in report)
    assert len(seen) <= 3, seen
    assert metrics.reports - reports_before == 1
    assert metrics.report_queries - queries_before == len(seen)  # what /admin/metrics shows
    print(f"\nweekly report, {children} children: {len(seen)} statements, "
          f"{trips} wire round trips (incl. BEGIN/ROLLBACK)")


async def test_history_is_three_reads_and_a_planner_setting(proxied, database_url):
    """Sessions, day totals, and the limit changes that give past days their own limits."""
    proxy, client, container = proxied
    parent = await api.signed_up(client, "history@example.com")
    titles = await api.seed_titles(container)
    kid = await parent.child()
    await _seed_week(database_url, [kid], titles.cartoon)
    engine = await _resolved(container.engine())
    await history(parent, kid)  # warm the config cache and the ORM engine
    trips_before = proxy.round_trips
    with statements(engine) as seen:
        r = await history(parent, kid)
    trips = proxy.round_trips - trips_before
    assert r.status_code == 200 and len(r.json()["days"]) == 7
    assert [s.split()[0] for s in seen] == ["SET", "SELECT", "SELECT", "SELECT"], seen
    print(f"\nhistory: {len(seen)} statements (SET LOCAL + 3 reads), {trips} wire round trips "
          "(incl. BEGIN/ROLLBACK)")
