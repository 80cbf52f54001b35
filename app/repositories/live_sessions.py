"""A profile's sessions as a parent watches them live: who is watching what, on which device."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.balance import minutes
from app.domain.control import LiveSession

# Newest first, on the (profile_id, started_at) index; a paired device's name where the
# session's device_id is a paired device's id.
SESSIONS = text("""
SELECT s.id AS session_id, s.title_id, t.title AS title_name, s.device_id, s.device_type,
       d.name AS device_name, s.started_at, s.last_heartbeat_at, s.ended_at,
       s.paused_at IS NOT NULL AND s.ended_at IS NULL AS is_paused, s.total_seconds
FROM viewing_sessions s
JOIN profiles p ON p.id = s.profile_id
JOIN titles t ON t.id = s.title_id
LEFT JOIN devices d ON d.id::text = s.device_id AND d.profile_id = s.profile_id
WHERE s.profile_id = :profile_id AND p.account_id = :account_id
  AND (NOT :open_only OR s.ended_at IS NULL)
ORDER BY s.started_at DESC, s.id DESC
LIMIT :limit
""")


class LiveSessionRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def list_for(self, *, account_id: uuid.UUID, profile_id: uuid.UUID, open_only: bool,
                       limit: int) -> list[LiveSession]:
        async with self._sessions() as session:
            rows = (await session.execute(SESSIONS, {
                "account_id": account_id, "profile_id": profile_id, "open_only": open_only,
                "limit": limit})).mappings()
            return [LiveSession(**{k: v for k, v in row.items() if k != "total_seconds"},
                                watched_minutes=minutes(row["total_seconds"])) for row in rows]
