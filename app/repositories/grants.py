"""Grants of extra viewing time: the day's balance and the audit row, written together."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.domain.grants import DayAfterGrant, GrantRecord
from app.models import TimeGrant
from app.repositories.viewing_events import THRESHOLDS
from app.repositories.webhook_outbox import enqueue

# One statement: the balance upsert, the audit insert, the re-arming of the thresholds and the
# grant.created event commit or fail together, in one round trip. Grants never touch
# used_seconds, so history and reports keep the true watched time.
#
# Re-arming: a threshold's mark is deleted when this grant lifts the remaining time (as a
# heartbeat's answer counts it: the lesser of the limit's and the allowed hours') from at or
# below the threshold to above it, so the threshold fires again when next crossed.
# `:window_seconds` is the time left in the allowed hours (0 outside them, NULL: no end soon);
# `:limit_seconds` the day's limit (NULL: none). The day was unlimited before this grant when it
# is now and this grant is not the unlimited one.
GRANT = text(f"""
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
    ), lifted AS (
        SELECT least(CASE WHEN NOT (is_unlimited_override AND NOT :unlimited)
                          THEN CAST(:limit_seconds AS int) + granted_seconds - :seconds
                               - used_seconds END,
                     CAST(:window_seconds AS numeric)) AS before,
               least(CASE WHEN NOT is_unlimited_override
                          THEN CAST(:limit_seconds AS int) + granted_seconds - used_seconds END,
                     CAST(:window_seconds AS numeric)) AS after
        FROM bal
    ), rearmed AS (
        DELETE FROM threshold_marks m
        USING lifted l, (VALUES {THRESHOLDS}) AS t (threshold, seconds)
        WHERE m.profile_id = :profile_id AND m.viewing_day = :day AND m.threshold = t.threshold
          AND l.before <= t.seconds AND (l.after IS NULL OR l.after > t.seconds)
    ), granted AS (
        SELECT p.account_id, 'grant.created' AS event_type,
               jsonb_build_object(
                   'account_id', p.account_id, 'profile_id', p.id, 'profile_name', p.name,
                   'viewing_day', CAST(:day AS date),
                   'grant', jsonb_build_object(
                       'id', CAST(:id AS uuid), 'granted_minutes', CAST(:minutes AS int),
                       'is_remote', CAST(:is_remote AS boolean),
                       'granted_at', CAST(:granted_at AS text),
                       'granted_by', CAST(:granted_by AS uuid),
                       'request_id', CAST(:request_id AS uuid))) AS data,
               CAST(:now AS timestamptz) AS at
        FROM profiles p WHERE p.id = :profile_id
    ), outbox AS (
        {enqueue("granted")}
    )
    SELECT used_seconds, granted_seconds, is_unlimited_override FROM bal
""")


def _json_instant(instant: datetime) -> str:
    """An instant as the API's JSON writes it (pydantic: UTC with a `Z`)."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


class GrantRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *,
                 reads: async_sessionmaker[AsyncSession] | None = None) -> None:
        self._sessions = session_factory
        self._reads = reads or session_factory  # may lag a second: listings only

    async def add(self, *, profile_id: uuid.UUID, granted_by: uuid.UUID, day: date,
                  minutes: int | None, is_remote: bool, now: datetime,
                  limit_minutes: int | None,
                  window_seconds: Decimal | None) -> DayAfterGrant | None:
        """Add `minutes` (None: unlimited for the day) to viewing day `day`; None when the
        profile was deleted meanwhile. `limit_minutes` (the day's limit) and `window_seconds`
        (what is left of the allowed hours) say which thresholds the grant re-arms."""
        try:
            async with self._sessions.begin() as session:
                return await write_grant(session, grant_id=uuid.uuid4(), profile_id=profile_id,
                                         granted_by=granted_by, day=day, minutes=minutes,
                                         is_remote=is_remote, now=now,
                                         limit_minutes=limit_minutes,
                                         window_seconds=window_seconds)
        except IntegrityError:  # foreign key: the profile is gone
            return None

    async def list_for(self, profile_id: uuid.UUID, *, limit: int) -> list[GrantRecord]:
        async with self._reads() as session:
            result = await session.execute(
                select(TimeGrant).where(col(TimeGrant.profile_id) == profile_id)
                .order_by(col(TimeGrant.granted_at).desc(), col(TimeGrant.id).desc()).limit(limit))
            return [GrantRecord(id=g.id, granted_minutes=g.granted_minutes, is_remote=g.is_remote,
                                granted_at=g.granted_at, granted_by=g.granted_by,
                                request_id=g.request_id)
                    for g in result.scalars()]


async def write_grant(session: AsyncSession, *, grant_id: uuid.UUID, profile_id: uuid.UUID,
                      granted_by: uuid.UUID, day: date, minutes: int | None, is_remote: bool,
                      now: datetime, limit_minutes: int | None, window_seconds: Decimal | None,
                      request_id: uuid.UUID | None = None) -> DayAfterGrant:
    """GRANT in `session`'s transaction: an approved time request (`request_id`) writes its
    grant in the transaction that records the decision, so neither exists without the other."""
    params = {"id": grant_id, "profile_id": profile_id, "granted_by": granted_by,
              "day": day, "minutes": minutes, "seconds": (minutes or 0) * 60,
              "unlimited": minutes is None, "is_remote": is_remote, "now": now,
              "limit_seconds": None if limit_minutes is None else limit_minutes * 60,
              "window_seconds": window_seconds, "granted_at": _json_instant(now),
              "request_id": request_id}
    row = (await session.execute(GRANT, params)).one()
    return DayAfterGrant(row.used_seconds, row.granted_seconds, row.is_unlimited_override)
