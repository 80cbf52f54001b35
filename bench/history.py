"""The history endpoint's statements timed inside PostgreSQL, not over HTTP.

The client-side figure of the report scenario includes HTTP, auth, the ORM and JSON; the target
(< 20 ms) is about the database. So this runs the repository's own statements
(`app.repositories.reports`: the planner setting, sessions, day totals, limit changes) with the
parameters the service computes for the same request (`app.services.reports`: the child's
viewing days turned into instants by its own zone and reset hour), through the app's ORM
driver, each wrapped in `EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON)`: planning plus
execution time as PostgreSQL measures it, without the per-node clock reads of TIMING ON.
EXPLAIN plans with the bound values (a custom plan); the repository call timed next to it runs
the statements as the app does, through its driver's prepared-statement cache, so a generic
plan that differed would show there.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.database import sqlalchemy_url
from app.domain.configs import limits_of
from app.repositories import reports
from app.repositories.viewing_configs import ViewingConfigRepository
from app.services.reports import HISTORY_MAX_SESSIONS, day_start
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) "


@dataclass
class Timings:
    """Per run of the three statements: PostgreSQL's own milliseconds and the repository call's
    wall-clock milliseconds in this process (driver and ORM included, no HTTP)."""

    server_ms: list[float]
    call_ms: list[float]
    empty_ms: list[float]  # a session with one `SELECT 1`: the round trips' fixed cost here
    statement_ms: dict[str, list[float]]  # each statement's share of server_ms
    plan: list[str]  # the sessions statement's plan, one line per node


async def measure(db_url: str, *, owner: uuid.UUID, profile_id: uuid.UUID, first: date,
                  last: date, runs: int = 30, warm: int = 5) -> Timings:
    """`runs` timed repetitions after `warm` untimed ones (plans cached, pages in memory)."""
    engine = create_async_engine(sqlalchemy_url(db_url), pool_size=1, max_overflow=0)
    try:
        factory = async_sessionmaker(engine, expire_on_commit=False)
        params = await _parameters(factory, owner, profile_id, first, last)
        timings = Timings([], [], [], {name: [] for name, _, _ in _statements(params)}, [])
        repository = reports.ReportRepository(factory)
        for i in range(warm + runs):
            plans = await _explained(factory, params)
            started = time.perf_counter()
            await repository.history(**params)
            call_ms = (time.perf_counter() - started) * 1000
            empty_ms = await _empty_session(factory)
            if i >= warm:
                timings.call_ms.append(call_ms)
                timings.empty_ms.append(empty_ms)
                timings.server_ms.append(sum(_ms(plan) for plan in plans.values()))
                for name, plan in plans.items():
                    timings.statement_ms[name].append(_ms(plan))
        timings.plan = list(_nodes(plans["sessions"]["Plan"]))
        return timings
    finally:
        await engine.dispose()


async def _parameters(factory: async_sessionmaker[AsyncSession], owner: uuid.UUID,
                      profile_id: uuid.UUID, first: date, last: date) -> dict[str, Any]:
    """What `ReportService.history` passes to the repository for first..last."""
    found = await ViewingConfigRepository(factory).get_owned(profile_id=profile_id,
                                                             account_id=owner)
    if found is None:
        raise LookupError(f"profile {profile_id} is not a child of account {owner}")
    limits = limits_of(found[1])
    return {"profile_id": profile_id, "start": day_start(limits, first),
            "end": day_start(limits, last + timedelta(days=1)), "first": first, "last": last,
            "limit": HISTORY_MAX_SESSIONS + 1}


def _statements(p: dict[str, Any]) -> list[tuple[str, TextClause, dict[str, Any]]]:
    """The repository's three statements with the binds `ReportRepository.history` gives them."""
    return [
        ("sessions", reports.HISTORY_SESSIONS, {k: p[k] for k in (
            "profile_id", "start", "end", "limit")}),
        ("day totals", reports.DAY_TOTALS, {"profile_ids": [p["profile_id"]],
                                            "first": p["first"], "last": p["last"]}),
        ("limit changes", reports.LIMIT_CHANGES, {"profile_id": p["profile_id"],
                                                  "since": p["start"]}),
    ]


async def _explained(factory: async_sessionmaker[AsyncSession],
                     params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each statement's EXPLAIN ANALYZE, in one transaction after the same SET LOCAL as the
    repository's (it changes the plan: see HISTORY_PLANNER_COSTS)."""
    plans = {}
    async with factory() as session:
        await session.execute(reports.HISTORY_PLANNER_COSTS)
        for name, statement, binds in _statements(params):
            result = await session.execute(text(EXPLAIN + statement.text), binds)
            plans[name] = result.scalar_one()[0]
    return plans


async def _empty_session(factory: async_sessionmaker[AsyncSession]) -> float:
    """Milliseconds of a session that runs `SELECT 1` (BEGIN, the statement, ROLLBACK): on a
    busy machine each round trip waits for the backend to be scheduled, and the history call
    makes six of them (BEGIN, SET LOCAL, three statements, ROLLBACK)."""
    started = time.perf_counter()
    async with factory() as session:
        await session.execute(text("SELECT 1"))
    return (time.perf_counter() - started) * 1000


def _ms(plan: dict[str, Any]) -> float:
    return float(plan["Planning Time"]) + float(plan["Execution Time"])


def _nodes(node: dict[str, Any], depth: int = 0) -> Iterator[str]:
    """One line per plan node: type, relation and index, rows, shared buffers hit and read."""
    where = " ".join(filter(None, (node.get("Relation Name"), node.get("Index Name") and
                                   f"using {node['Index Name']}")))
    yield (f"{'  ' * depth}{node['Node Type']}{' on ' + where if where else ''}: "
           f"{node.get('Actual Rows', 0):,.0f} rows x {node.get('Actual Loops', 1):,.0f}, "
           f"buffers hit {node.get('Shared Hit Blocks', 0):,} read "
           f"{node.get('Shared Read Blocks', 0):,}")
    for child in node.get("Plans", []):
        yield from _nodes(child, depth + 1)


def quantiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) in ms."""
    return statistics.median(samples), statistics.quantiles(samples, n=20)[18]


def lines(timings: Timings) -> list[str]:
    """The report's lines: the server-side figure, per statement, and the sessions plan."""
    p50, p95 = quantiles(timings.server_ms)
    c50, c95 = quantiles(timings.call_ms)
    out = [f"  history in PostgreSQL (EXPLAIN ANALYZE, planning + execution of its 3 statements, "
           f"{len(timings.server_ms)} runs): p50 {p50:6.2f} ms   p95 {p95:6.2f} ms "
           f"(target < 20 ms)",
           f"  history repository call in-process (asyncpg + SQLAlchemy, no HTTP): "
           f"p50 {c50:6.2f} ms   p95 {c95:6.2f} ms (a session with just SELECT 1: p50 "
           f"{statistics.median(timings.empty_ms):.2f} ms)"]
    out.append("    per statement, p50: " + ", ".join(
        f"{name} {statistics.median(ms):.2f} ms" for name, ms in timings.statement_ms.items()))
    out.append("    sessions plan (last run):")
    out += [f"      {line}" for line in timings.plan]
    return out
