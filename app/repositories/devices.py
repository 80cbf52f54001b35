"""Paired devices: pairing, listing and deleting them (the parent's), and the lookup a device
token's check needs (the registry's, on raw asyncpg like the rest of the hot path)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.database import HotPool
from app.domain.devices import Device
from app.domain.errors import ProfileNotFound
from app.models import Device as DeviceRow
from app.models import Profile
from app.repositories.named_sql import bind


class LoadDevice(NamedTuple):
    device_id: uuid.UUID


# Prepared on every hot-pool connection with the heartbeat's statements (a device token's first
# beat on a replica loads its device).
LOAD_DEVICE = bind("""
SELECT id, profile_id, account_id, name, device_type, created_at, last_seen_at
FROM devices WHERE id = :device_id
""", LoadDevice)

# One statement for every device seen since the last flush.
TOUCH_SEEN = text("""
UPDATE devices d SET last_seen_at = greatest(coalesce(d.last_seen_at, s.at), s.at)
FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS s(id, at)
WHERE d.id = s.id
""")


def _device(row: DeviceRow) -> Device:
    return Device(id=row.id, profile_id=row.profile_id, account_id=row.account_id, name=row.name,
                  device_type=row.device_type, created_at=row.created_at,
                  last_seen_at=row.last_seen_at)


class DeviceRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], pool: HotPool) -> None:
        self._sessions = session_factory
        self._pool = pool

    async def add(self, *, account_id: uuid.UUID, profile_id: uuid.UUID, name: str,
                  device_type: str, now: datetime) -> Device:
        """ProfileNotFound unless the profile is the account's."""
        row = DeviceRow(id=uuid.uuid4(), profile_id=profile_id, account_id=account_id, name=name,
                        device_type=device_type, created_at=now)
        async with self._sessions.begin() as session:
            owner = await session.scalar(select(col(Profile.account_id))
                                         .where(col(Profile.id) == profile_id))
            if owner != account_id:
                raise ProfileNotFound()
            session.add(row)
            try:
                await session.flush()
            except IntegrityError:  # the profile went meanwhile
                raise ProfileNotFound() from None
        return _device(row)

    async def list_for(self, *, account_id: uuid.UUID, profile_id: uuid.UUID) -> list[Device]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(DeviceRow).where(col(DeviceRow.profile_id) == profile_id,
                                        col(DeviceRow.account_id) == account_id)
                .order_by(col(DeviceRow.created_at), col(DeviceRow.id)))
            return [_device(row) for row in rows]

    async def delete(self, *, account_id: uuid.UUID, device_id: uuid.UUID) -> bool:
        async with self._sessions.begin() as session:
            deleted = await session.execute(
                delete(DeviceRow).where(col(DeviceRow.id) == device_id,
                                        col(DeviceRow.account_id) == account_id)
                .returning(col(DeviceRow.id)))
            return deleted.first() is not None

    async def load(self, device_id: uuid.UUID) -> Device | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(LOAD_DEVICE, *LoadDevice(device_id))
        return None if row is None else Device(**dict(row))

    async def touch_seen(self, seen: dict[uuid.UUID, datetime]) -> None:
        if not seen:
            return
        async with self._sessions.begin() as session:
            await session.execute(TOUCH_SEEN, {"ids": list(seen), "ats": list(seen.values())})
