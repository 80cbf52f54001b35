"""Readiness facts: can we reach the database, and which migration is it at."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class HealthRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def migration_version(self) -> str | None:
        async with self._engine.connect() as conn:
            return await conn.scalar(text("SELECT max(version_num) FROM alembic_version"))
