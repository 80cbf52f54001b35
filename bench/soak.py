"""The soak scenario's measurements: what a long steady load leaves behind.

Throughput per minute only says *that* something changes; these say where to look: the hot
tables' sizes (heap, indexes, total: bloat), their dead tuples and (auto)vacuum counts
(pg_stat_user_tables), checkpoints and who wrote the buffers (pg_stat_bgwriter: the whole
server's, so another database's CREATE DATABASE shows as a requested checkpoint), and the
service's RSS (a structure growing in the process). CPU per request of the server and of its
PostgreSQL backends, per minute, tells a slower service (it rises) from a busier machine (it
stays, req/s falls): the cores are shared with other sessions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import asyncpg

HOT_TABLES = ("viewing_sessions", "daily_balances", "threshold_marks", "webhook_outbox")

TABLES_SQL = """
    SELECT c.relname AS name, pg_relation_size(c.oid) AS heap, pg_indexes_size(c.oid) AS indexes,
           pg_total_relation_size(c.oid) AS total, s.n_live_tup AS live, s.n_dead_tup AS dead,
           s.autovacuum_count AS autovacuums, s.autoanalyze_count AS autoanalyzes,
           s.n_tup_upd AS updates, s.n_tup_hot_upd AS hot_updates
    FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
    WHERE c.relname = ANY($1::text[]) ORDER BY array_position($1::text[], c.relname::text)
"""

BGWRITER_SQL = """
    SELECT checkpoints_timed + checkpoints_req AS checkpoints, checkpoints_req,
           buffers_checkpoint, buffers_clean, buffers_backend, buffers_alloc
    FROM pg_stat_bgwriter
"""

# The server's settings that decide what a long run leaves behind: printed with the soak, since
# a development server may run without autovacuum (then only HOT pruning reclaims dead rows).
SETTINGS = ("autovacuum", "autovacuum_naptime", "autovacuum_vacuum_threshold",
            "autovacuum_vacuum_scale_factor", "checkpoint_timeout", "max_wal_size",
            "shared_buffers", "bgwriter_lru_maxpages")


async def settings_line(conn: asyncpg.Connection) -> str:
    """The SETTINGS as SHOW prints them (with their units), one line."""
    rows = await conn.fetch("SELECT name, current_setting(name) AS value FROM pg_settings "
                            "WHERE name = ANY($1::text[]) ORDER BY name", list(SETTINGS))
    return "  server: " + ", ".join(f"{r['name']}={r['value']}" for r in rows)


@dataclass(frozen=True)
class Snapshot:
    """The database's and the service's state at one instant of the soak."""

    tables: dict[str, asyncpg.Record]
    bgwriter: asyncpg.Record
    rss_mb: float

    def dead(self) -> int:
        return sum(int(t["dead"]) for t in self.tables.values())

    def autovacuums(self) -> int:
        return sum(int(t["autovacuums"]) for t in self.tables.values())


async def snapshot(conn: asyncpg.Connection, rss_mb: float) -> Snapshot:
    """Fresh statistics (the counters are cached per transaction: cleared first)."""
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = await conn.fetch(TABLES_SQL, list(HOT_TABLES))
    bgwriter = await conn.fetchrow(BGWRITER_SQL)
    assert bgwriter is not None  # the view has exactly one row
    return Snapshot({r["name"]: r for r in rows}, bgwriter, rss_mb)


@dataclass
class Minute:
    """One minute of load and what changed in it."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float
    db_cpu_us: float
    after: Snapshot
    load_average: float = field(default_factory=lambda: os.getloadavg()[0])


def _kb(size: int) -> str:
    return f"{size / 1024:,.0f} kB"


def minute_line(i: int, minute: Minute, before: Snapshot) -> str:
    """One line a minute: throughput and latency, then what the database and process did."""
    a = minute.after
    return (f"  minute {i:>3}: {minute.rps:>7,.0f} req/s  p50 {minute.p50_ms:6.1f}  p99 "
            f"{minute.p99_ms:6.1f} ms  CPU {minute.cpu_us:4.0f}/{minute.db_cpu_us:4.0f} µs/req  "
            f"RSS {a.rss_mb:4.0f} MB  dead tuples {a.dead():>7,}  autovacuums "
            f"+{a.autovacuums() - before.autovacuums()}  checkpoints "
            f"+{a.bgwriter['checkpoints'] - before.bgwriter['checkpoints']}  load "
            f"{minute.load_average:.1f}  errors {minute.errors}")


def table_lines(label: str, snap: Snapshot) -> list[str]:
    """Sizes, tuples and vacuum counts of each hot table, and the process's RSS."""
    out = [f"  {label}: service RSS {snap.rss_mb:.0f} MB; cluster-wide checkpoints "
           f"{snap.bgwriter['checkpoints']} ({snap.bgwriter['checkpoints_req']} requested), "
           f"buffers written by checkpoints {snap.bgwriter['buffers_checkpoint']:,}, bgwriter "
           f"{snap.bgwriter['buffers_clean']:,}, backends {snap.bgwriter['buffers_backend']:,}"]
    for name in HOT_TABLES:
        t = snap.tables.get(name)
        if t is None:
            out.append(f"    {name:<17} (no such table)")
            continue
        out.append(f"    {name:<17} heap {_kb(t['heap']):>10}  indexes {_kb(t['indexes']):>10}  "
                   f"total {_kb(t['total']):>10}  live {t['live']:>9,}  dead {t['dead']:>7,}  "
                   f"autovacuums {t['autovacuums']}  autoanalyzes {t['autoanalyzes']}")
    return out


def growth_lines(start: Snapshot, end: Snapshot) -> list[str]:
    """How much each size grew between the two snapshots, and the process's RSS."""
    out = [f"  growth: service RSS {end.rss_mb - start.rss_mb:+.1f} MB"]
    for name in HOT_TABLES:
        a, b = start.tables.get(name), end.tables.get(name)
        if a is None or b is None:
            continue
        parts = [f"{kind} {_kb(b[kind] - a[kind])} ({_pct(a[kind], b[kind])})"
                 for kind in ("heap", "indexes", "total")]
        updates = b["updates"] - a["updates"]
        hot = (b["hot_updates"] - a["hot_updates"]) / updates if updates else 0.0
        out.append(f"    {name:<17} " + "  ".join(parts)
                   + f"  ({updates:,} row updates, {hot:.0%} HOT)")
    return out


def _pct(before: int, after: int) -> str:
    return f"{after / before - 1:+.0%}" if before else "from 0"


def findings(minutes: list[Minute], start: Snapshot, end: Snapshot) -> list[str]:
    """Last minute ÷ first, and the measurements that would explain a decline."""
    first, last = minutes[0], minutes[-1]
    ratio = last.rps / first.rps if first.rps else 0.0
    out = [f"  throughput last minute / first minute: {ratio:.2f} (target >= 0.9)",
           f"  CPU per request first -> last minute: service {first.cpu_us:.0f} -> "
           f"{last.cpu_us:.0f} µs, PostgreSQL {first.db_cpu_us:.0f} -> {last.db_cpu_us:.0f} µs; "
           f"load average {first.load_average:.1f} -> {last.load_average:.1f}"]
    vacuumed = [i + 1 for i, m in enumerate(minutes)
                if m.after.autovacuums() > (minutes[i - 1].after if i else start).autovacuums()]
    checkpointed = [i + 1 for i, m in enumerate(minutes) if m.after.bgwriter["checkpoints"]
                    > (minutes[i - 1].after if i else start).bgwriter["checkpoints"]]
    out.append(f"  autovacuum ran in minutes: {_minutes(vacuumed)}; checkpoints in minutes: "
               f"{_minutes(checkpointed)}")
    if ratio < 0.9:
        out.append("  declined: " + _suspect(first, last, start, end))
    return out


def _minutes(indexes: list[int]) -> str:
    return " ".join(map(str, indexes)) if indexes else "none"


def _suspect(first: Minute, last: Minute, start: Snapshot, end: Snapshot) -> str:
    """Which of the measured causes moved with the decline (a hint, not a verdict)."""
    signs = []
    if last.db_cpu_us > 1.15 * first.db_cpu_us:
        signs.append("PostgreSQL CPU per request rose (bloat? see the table growth)")
    if last.cpu_us > 1.15 * first.cpu_us:
        signs.append("service CPU per request rose (a growing structure? see RSS)")
    if end.rss_mb > 1.2 * start.rss_mb:
        signs.append(f"RSS grew {end.rss_mb - start.rss_mb:+.0f} MB")
    if last.load_average > 1.2 * first.load_average:
        signs.append("the machine's load average rose: other processes took the cores")
    return "; ".join(signs) or ("CPU per request, RSS and load average held: look at the "
                                "per-minute lines for the minutes of autovacuum or checkpoints")
