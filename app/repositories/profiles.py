"""Profiles, created with their default config in one transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.domain.catalog import Profile
from app.domain.errors import AccountGone
from app.models import Account, ViewingTimeConfig
from app.models import Profile as ProfileRow


def _profile(row: ProfileRow) -> Profile:
    return Profile(id=row.id, name=row.name, is_kids=row.is_kids, created_at=row.created_at)


class ProfileRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def list_for(self, account_id: uuid.UUID) -> list[Profile]:
        async with self._sessions() as session:
            result = await session.execute(
                select(ProfileRow).where(col(ProfileRow.account_id) == account_id)
                .order_by(col(ProfileRow.created_at), col(ProfileRow.id))
            )
            return [_profile(row) for row in result.scalars()]

    async def account_exists(self, account_id: uuid.UUID) -> bool:
        async with self._sessions() as session:
            return bool(await session.scalar(select(exists().where(col(Account.id) == account_id))))

    async def add(self, *, account_id: uuid.UUID, name: str, is_kids: bool, now: datetime,
                  default_config: dict[str, Any] | None) -> Profile:
        profile = ProfileRow(id=uuid.uuid4(), account_id=account_id, name=name, is_kids=is_kids,
                             created_at=now)
        async with self._sessions.begin() as session:
            session.add(profile)
            try:
                await session.flush()
            except IntegrityError:  # the new id is unique: only the account's foreign key fails
                raise AccountGone() from None
            if default_config is not None:
                session.add(ViewingTimeConfig(
                    profile_id=profile.id, updated_at=now, **default_config))
        return _profile(profile)

    async def delete(self, *, account_id: uuid.UUID, profile_id: uuid.UUID) -> bool:
        """Sessions, balances, grants and config go with it (ON DELETE CASCADE, one statement)."""
        async with self._sessions.begin() as session:
            deleted = await session.execute(
                delete(ProfileRow).where(col(ProfileRow.id) == profile_id,
                                         col(ProfileRow.account_id) == account_id)
                .returning(col(ProfileRow.id)))
            return deleted.first() is not None
