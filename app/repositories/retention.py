"""Data minimisation: delete viewing history older than the retention period.

What goes: ended sessions, daily balances and grant audit rows whose viewing day is before the
cutoff day. Open sessions never go (the stale sweep ends them first). A session goes with the
day its last charge went to, so a day's balance and the sessions that make it up leave together.

Deletes run in batches, each its own short transaction, so the first purge of a big table holds
no lock for long and writes no WAL burst; each batch is an index-free scan of a table, which is
why this runs from `sweep` (a daily job) and not on every heartbeat or page view. Each batch
first takes a transaction-level advisory lock without waiting: when several replicas purge at
once, one does the work and the others stop, instead of deleting the same rows in different
orders (a deadlock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

BATCH = 5000
LOCK_KEY = 0x76_74_73_70_75_72_67_65  # "vtspurge"
TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)")

PURGE = {
    "sessions": text("""
        DELETE FROM viewing_sessions WHERE id IN (
            SELECT id FROM viewing_sessions
            WHERE ended_at IS NOT NULL AND coalesce(last_charge_date, started_at::date) < :day
            LIMIT :batch)
    """),
    "balances": text("""
        DELETE FROM daily_balances WHERE (profile_id, reset_date) IN (
            SELECT profile_id, reset_date FROM daily_balances WHERE reset_date < :day
            LIMIT :batch)
    """),
    "grants": text("""
        DELETE FROM time_grants WHERE id IN (
            SELECT id FROM time_grants WHERE reset_date < :day LIMIT :batch)
    """),
}


@dataclass(frozen=True, slots=True)
class Purged:
    sessions: int
    balances: int
    grants: int


class RetentionRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *,
                 batch: int = BATCH) -> None:
        self._sessions = session_factory
        self._batch = batch

    async def _purge(self, statement: str, day: date) -> int:
        deleted = 0
        while True:
            async with self._sessions.begin() as session:
                if not await session.scalar(TRY_LOCK, {"key": LOCK_KEY}):
                    return deleted  # another replica is purging
                # A DELETE's result is a CursorResult (it has a row count); execute() is typed
                # for any statement.
                result = cast(CursorResult[Any], await session.execute(
                    PURGE[statement], {"day": day, "batch": self._batch}))
            deleted += result.rowcount
            if result.rowcount < self._batch:
                return deleted

    async def purge_before(self, day: date) -> Purged:
        """Delete the history of viewing days before `day`; the counts of deleted rows."""
        return Purged(sessions=await self._purge("sessions", day),
                      balances=await self._purge("balances", day),
                      grants=await self._purge("grants", day))
