"""The books must balance: what the database holds after any amount of abuse.

For every child profile and viewing day, the day's balance (used + educational seconds) equals
the sum of the totals of the sessions whose charges went to that day, and a profile has at most
one open session. This holds whatever happened in between (cancelled requests, lost
connections, restarts) exactly when every heartbeat, end and supersession is all-or-nothing.
Sessions are attributed to the day of their last charge, so callers keep each session inside
one viewing day (a frozen clock, or a reset hour far from now).
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from app.database import asyncpg_dsn

BALANCES = """
SELECT b.profile_id, b.reset_date, b.used_seconds + b.educational_seconds AS charged
FROM daily_balances b JOIN profiles p ON p.id = b.profile_id WHERE p.is_kids
"""
SESSIONS = """
SELECT s.profile_id, s.last_charge_date AS reset_date, sum(s.total_seconds) AS charged
FROM viewing_sessions s JOIN profiles p ON p.id = s.profile_id
WHERE p.is_kids AND s.last_charge_date IS NOT NULL
GROUP BY s.profile_id, s.last_charge_date
"""
DOUBLE_OPEN = """
SELECT profile_id, count(*) AS open FROM viewing_sessions WHERE ended_at IS NULL
GROUP BY profile_id HAVING count(*) > 1
"""


async def audit(database_url: str) -> dict[str, object]:
    """Mismatched (profile, day) pairs, profiles with several open sessions, and the totals."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        balances = {(r["profile_id"], r["reset_date"]): r["charged"]
                    for r in await conn.fetch(BALANCES)}
        sessions = {(r["profile_id"], r["reset_date"]): r["charged"]
                    for r in await conn.fetch(SESSIONS)}
        double_open = [dict(r) for r in await conn.fetch(DOUBLE_OPEN)]
    finally:
        await conn.close()
    keys = set(balances) | set(sessions)
    mismatches = {k: (balances.get(k, Decimal(0)), sessions.get(k, Decimal(0))) for k in keys
                  if balances.get(k, Decimal(0)) != sessions.get(k, Decimal(0))}
    return {"mismatches": mismatches, "double_open": double_open,
            "charged_seconds": sum(balances.values(), Decimal(0)), "days": len(keys)}


async def assert_balanced(database_url: str) -> dict[str, object]:
    result = await audit(database_url)
    assert result["mismatches"] == {}, result["mismatches"]
    assert result["double_open"] == [], result["double_open"]
    return result
