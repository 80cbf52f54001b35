"""Child profiles' viewing-time configs, always read and written scoped to the owning account."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.domain.configs import ViewingConfig, week_replaced
from app.models import LimitChange, Profile, ViewingTimeConfig

COLUMNS = tuple(f.name for f in fields(ViewingConfig))  # the table's columns, one for one


def _owned(profile_id: uuid.UUID, account_id: uuid.UUID) -> Select:
    # The inner join leaves out adult profiles (they have no config): both answer 404.
    return (select(col(Profile.name), ViewingTimeConfig)
            .join(ViewingTimeConfig, col(ViewingTimeConfig.profile_id) == col(Profile.id))
            .where(col(Profile.id) == profile_id, col(Profile.account_id) == account_id,
                   col(Profile.is_kids)))


def config_of(row: ViewingTimeConfig) -> ViewingConfig:
    return ViewingConfig(**{name: getattr(row, name) for name in COLUMNS})


class ViewingConfigRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def get_owned(self, *, profile_id: uuid.UUID,
                        account_id: uuid.UUID) -> tuple[str, ViewingConfig] | None:
        async with self._sessions() as session:
            row = (await session.execute(_owned(profile_id, account_id))).first()
        return None if row is None else (row[0], config_of(row[1]))

    async def update_owned(self, *, profile_id: uuid.UUID, account_id: uuid.UUID,
                           apply: Callable[[ViewingConfig], ViewingConfig], now: datetime,
                           ) -> tuple[str, ViewingConfig] | None:
        """Lock the config row, store what `apply` makes of it, commit. Parallel updates queue
        on the row lock, so each sees the one before (a pending reset-hour change is never
        lost). A change of any weekday's limit records, in the same transaction, the week it
        replaced, so past days keep their own limits."""
        async with self._sessions.begin() as session:
            query = _owned(profile_id, account_id).with_for_update(of=ViewingTimeConfig)
            row = (await session.execute(query)).first()
            if row is None:
                return None
            name, stored = row[0], row[1]
            before = config_of(stored)
            config = apply(before)
            for column in COLUMNS:
                setattr(stored, column, getattr(config, column))
            replaced = week_replaced(before, config)
            if replaced is not None:
                session.add(LimitChange(profile_id=profile_id, changed_at=now,
                                        week_before=list(replaced)))
        return name, config
