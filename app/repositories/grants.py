"""Grants of extra viewing time: the day's balance and the audit row, written together."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.domain.grants import DayAfterGrant, GrantRecord
from app.models import TimeGrant

# One statement: the balance upsert and the audit insert commit or fail together, in one round
# trip. Grants never touch used_seconds, so history and reports keep the true watched time.
GRANT = text("""
    WITH bal AS (
        INSERT INTO daily_balances AS d
            (profile_id, reset_date, granted_seconds, is_unlimited_override, updated_at)
        VALUES (:profile_id, :day, :seconds, :unlimited, :now)
        ON CONFLICT (profile_id, reset_date) DO UPDATE
        SET granted_seconds = d.granted_seconds + excluded.granted_seconds,
            is_unlimited_override = d.is_unlimited_override OR excluded.is_unlimited_override,
            updated_at = excluded.updated_at
        RETURNING used_seconds, granted_seconds, is_unlimited_override
    ), audit AS (
        INSERT INTO time_grants
            (id, profile_id, granted_by, granted_minutes, is_remote, reset_date, granted_at,
             request_id)
        VALUES (:id, :profile_id, :granted_by, :minutes, :is_remote, :day, :now, :request_id)
    )
    SELECT used_seconds, granted_seconds, is_unlimited_override FROM bal
""")


class GrantRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def add(self, *, profile_id: uuid.UUID, granted_by: uuid.UUID, day: date,
                  minutes: int | None, is_remote: bool, now: datetime) -> DayAfterGrant | None:
        """Add `minutes` (None: unlimited for the day) to viewing day `day`; None when the
        profile was deleted meanwhile."""
        try:
            async with self._sessions.begin() as session:
                return await write_grant(session, grant_id=uuid.uuid4(), profile_id=profile_id,
                                         granted_by=granted_by, day=day, minutes=minutes,
                                         is_remote=is_remote, now=now)
        except IntegrityError:  # foreign key: the profile is gone
            return None

    async def list_for(self, profile_id: uuid.UUID, *, limit: int) -> list[GrantRecord]:
        async with self._sessions() as session:
            result = await session.execute(
                select(TimeGrant).where(col(TimeGrant.profile_id) == profile_id)
                .order_by(col(TimeGrant.granted_at).desc(), col(TimeGrant.id).desc()).limit(limit))
            return [GrantRecord(id=g.id, granted_minutes=g.granted_minutes, is_remote=g.is_remote,
                                granted_at=g.granted_at, granted_by=g.granted_by,
                                request_id=g.request_id)
                    for g in result.scalars()]


async def write_grant(session: AsyncSession, *, grant_id: uuid.UUID, profile_id: uuid.UUID,
                      granted_by: uuid.UUID, day: date, minutes: int | None, is_remote: bool,
                      now: datetime, request_id: uuid.UUID | None = None) -> DayAfterGrant:
    """GRANT in `session`'s transaction: an approved time request (`request_id`) writes its
    grant in the transaction that records the decision, so neither exists without the other."""
    params = {"id": grant_id, "profile_id": profile_id, "granted_by": granted_by,
              "day": day, "minutes": minutes, "seconds": (minutes or 0) * 60,
              "unlimited": minutes is None, "is_remote": is_remote, "now": now,
              "request_id": request_id}
    row = (await session.execute(GRANT, params)).one()
    return DayAfterGrant(row.used_seconds, row.granted_seconds, row.is_unlimited_override)
