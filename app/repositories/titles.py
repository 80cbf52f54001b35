"""Catalog titles."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.catalog import Title
from app.models import Title as TitleRow

# unnest() of three arrays: one statement and three parameters however large the batch
# (a VALUES list of 10,000 rows would need 30,000 bind parameters).
UPSERT_TITLES = text("""
    INSERT INTO titles (id, title, is_educational)
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:titles AS varchar[]), CAST(:edu AS boolean[]))
    ON CONFLICT (id) DO UPDATE SET title = excluded.title, is_educational = excluded.is_educational
""")


class TitleRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def upsert_many(self, rows: list[tuple[uuid.UUID, str, bool]]) -> int:
        unique = list({row[0]: row for row in rows}.values())  # the last one wins, like PUT
        if not unique:
            return 0
        ids, titles, edu = (list(column) for column in zip(*unique, strict=True))
        async with self._sessions.begin() as session:
            await session.execute(UPSERT_TITLES, {"ids": ids, "titles": titles, "edu": edu})
        return len(unique)

    async def get(self, title_id: uuid.UUID) -> Title | None:
        async with self._sessions() as session:
            row = await session.get(TitleRow, title_id)
        return None if row is None else Title(row.id, row.title, row.is_educational)
