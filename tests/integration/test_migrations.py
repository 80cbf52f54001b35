"""Migrations: upgrade → downgrade → upgrade on a real database, and no model/schema drift."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import asyncpg_dsn, sqlalchemy_url
from app.migrations import downgrade, head_revision, upgrade
from app.models import SQLModel
from tests.support.db import scratch_database


@pytest.fixture
def scratch_url():
    with scratch_database() as url:
        yield url


async def _tables_and_indexes(url: str) -> tuple[set[str], set[str]]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        tables = {r[0] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        indexes = {r[0] for r in await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    finally:
        await conn.close()
    return tables, indexes


async def _drift(url: str) -> list:
    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata))
    finally:
        await engine.dispose()


def test_upgrade_downgrade_upgrade_and_no_drift(scratch_url):
    upgrade(scratch_url)
    tables, indexes = asyncio.run(_tables_and_indexes(scratch_url))
    assert tables == {"alembic_version", "accounts", "profiles", "titles", "viewing_time_configs",
                      "daily_balances", "viewing_sessions", "time_grants", "devices",
                      "limit_changes", "time_requests", "webhook_subscriptions",
                      "webhook_outbox", "threshold_marks", "sign_in_failures"}
    assert {"ix_viewing_sessions_profile_id_started_at", "uq_viewing_sessions_one_stream"} \
        <= indexes

    assert "ix_viewing_sessions_stale_open" not in indexes  # heartbeats update HOT (0003)

    downgrade(scratch_url, "0002")
    _, indexes = asyncio.run(_tables_and_indexes(scratch_url))
    assert "ix_viewing_sessions_stale_open" in indexes

    downgrade(scratch_url, "0001")
    _, indexes = asyncio.run(_tables_and_indexes(scratch_url))
    assert "ix_viewing_sessions_profile_id_started_at" not in indexes

    downgrade(scratch_url, "base")
    assert asyncio.run(_tables_and_indexes(scratch_url))[0] == {"alembic_version"}

    upgrade(scratch_url)
    assert asyncio.run(_drift(scratch_url)) == []
    conn_version = asyncio.run(_version(scratch_url))
    assert conn_version == head_revision()


async def _version(url: str) -> str:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await conn.close()
