"""Accounts: credentials, admin flag, PIN state."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.domain.errors import EmailTaken
from app.models import Account, Profile


class AccountRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def add(self, *, email: str, password_hash: str, now: datetime,
                  is_admin: bool = False) -> Account:
        account = Account(id=uuid.uuid4(), email=email, password_hash=password_hash,
                          is_admin=is_admin, created_at=now)
        async with self._sessions.begin() as session:
            session.add(account)
            try:
                await session.flush()
            except IntegrityError:
                raise EmailTaken() from None
        return account

    async def get(self, account_id: uuid.UUID) -> Account | None:
        async with self._sessions() as session:
            return await session.get(Account, account_id)

    async def get_by_email(self, email: str) -> Account | None:
        async with self._sessions() as session:
            result = await session.execute(select(Account).where(col(Account.email) == email))
            return result.scalar_one_or_none()

    async def set_admin(self, account_id: uuid.UUID, *, password_hash: str | None) -> None:
        values: dict[str, object] = {"is_admin": True}
        if password_hash is not None:
            values["password_hash"] = password_hash
        async with self._sessions.begin() as session:
            await session.execute(
                update(Account).where(col(Account.id) == account_id).values(**values))

    async def owns_profile(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> bool:
        async with self._sessions() as session:
            query = select(
                exists().where(col(Profile.id) == profile_id,
                               col(Profile.account_id) == account_id))
            return bool(await session.scalar(query))
