"""The sign-in throttle's failure rows (table sign_in_failures, functions of migration 0011).

Each call is one statement outside any explicit transaction (AUTOCOMMIT: no BEGIN, no COMMIT
on the wire), so a check is one round trip; the functions take the keys' advisory locks, which
the statement's own transaction releases when it ends. The instant is always a parameter (the
service's clock), never the database's now().
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncEngine

ATTEMPT = text("""
    SELECT blocked_since, ids
    FROM sign_in_attempt(CAST(:keys AS text[]), :at, :window, :max)
""")

TAKE_BACK = text("SELECT sign_in_take_back(CAST(:keys AS text[]), CAST(:ids AS bigint[]), "
                 "CAST(:clear_key AS text))")

# Read-only: the latest of the keys' max-th newest failures within the window (no lock needed).
BLOCKED_SINCE = text("""
    SELECT max((SELECT f.at FROM sign_in_failures f
                WHERE f.key = k AND f.at > CAST(:at AS timestamptz) - make_interval(secs => :window)
                ORDER BY f.at DESC OFFSET :max - 1 LIMIT 1))
    FROM unnest(CAST(:keys AS text[])) AS k
""")

# SKIP LOCKED: rows a sign-in check is deleting for its key are left to it, so the sweep never
# waits on (or deadlocks with) a check, on any replica.
PURGE = text("""
    DELETE FROM sign_in_failures WHERE id IN (
        SELECT id FROM sign_in_failures WHERE at <= :cutoff FOR UPDATE SKIP LOCKED)
""")


@dataclass(frozen=True, slots=True)
class Checked:
    """A check's outcome: refused (`blocked_since` set, nothing counted) or counted (`ids`)."""

    blocked_since: datetime | None
    ids: tuple[int, ...]


class SignInFailureRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def attempt(self, keys: tuple[str, ...], *, at: datetime, window_seconds: float,
                      max_failures: int) -> Checked:
        """Under the keys' locks: refuse if any key is at its limit, else count one failure per
        key at `at`. Drops the keys' rows that have left the window on the way."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(ATTEMPT, {"keys": list(keys), "at": at,
                                                "window": float(window_seconds),
                                                "max": max_failures})).one()
        return Checked(row.blocked_since, tuple(row.ids or ()))

    async def take_back(self, keys: tuple[str, ...], ids: tuple[int, ...], *,
                        clear_key: str | None) -> None:
        """Delete an attempt's rows (`ids`) and, with `clear_key`, every row of that key."""
        async with self._engine.connect() as conn:
            await conn.execute(TAKE_BACK, {"keys": list(keys), "ids": list(ids),
                                           "clear_key": clear_key})

    async def blocked_since(self, keys: tuple[str, ...], *, at: datetime, window_seconds: float,
                            max_failures: int) -> datetime | None:
        async with self._engine.connect() as conn:
            return cast(datetime | None, await conn.scalar(
                BLOCKED_SINCE, {"keys": list(keys), "at": at, "window": float(window_seconds),
                                "max": max_failures}))

    async def purge_before(self, cutoff: datetime) -> int:
        """Delete failures at or before `cutoff` (out of every window); the number deleted."""
        async with self._engine.connect() as conn:
            # A DELETE's result is a CursorResult (it has a row count).
            result = cast(CursorResult[Any], await conn.execute(PURGE, {"cutoff": cutoff}))
        return result.rowcount
