"""Accounts: credentials, admin flag, PIN state."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.domain.accounts import Account
from app.domain.errors import EmailTaken
from app.models import Account as AccountRow
from app.models import Profile


def _account(row: AccountRow) -> Account:
    return Account(id=row.id, email=row.email, password_hash=row.password_hash,
                   is_admin=row.is_admin, pin_hash=row.pin_hash, created_at=row.created_at)


class AccountRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def add(self, *, email: str, password_hash: str, now: datetime,
                  is_admin: bool = False) -> Account:
        account = AccountRow(id=uuid.uuid4(), email=email, password_hash=password_hash,
                             is_admin=is_admin, created_at=now)
        async with self._sessions.begin() as session:
            session.add(account)
            try:
                await session.flush()
            except IntegrityError:
                raise EmailTaken() from None
        return _account(account)

    async def get(self, account_id: uuid.UUID) -> Account | None:
        async with self._sessions() as session:
            row = await session.get(AccountRow, account_id)
        return None if row is None else _account(row)

    async def get_by_email(self, email: str) -> Account | None:
        async with self._sessions() as session:
            result = await session.execute(
                select(AccountRow).where(col(AccountRow.email) == email))
            row = result.scalar_one_or_none()
        return None if row is None else _account(row)

    async def set_admin(self, account_id: uuid.UUID, *, password_hash: str | None) -> None:
        values: dict[str, object] = {"is_admin": True}
        if password_hash is not None:
            values["password_hash"] = password_hash
        async with self._sessions.begin() as session:
            await session.execute(
                update(AccountRow).where(col(AccountRow.id) == account_id).values(**values))

    async def owns_profile(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> bool:
        async with self._sessions() as session:
            query = select(
                exists().where(col(Profile.id) == profile_id,
                               col(Profile.account_id) == account_id))
            return bool(await session.scalar(query))
