"""A real PostgreSQL per test run: DATABASE_URL's server, else the embedded one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app.database import asyncpg_dsn

TABLES = ("accounts, profiles, titles, viewing_time_configs, daily_balances, viewing_sessions, "
          "time_grants, devices, sign_in_failures")


def server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from app import embedded_db

    return embedded_db.start("test")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(server: str) -> tuple[str, str]:
    name = f"vts_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    return name, with_database(server, name)


def drop_database(server: str, name: str) -> None:
    asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def truncate_all(url: str) -> None:
    await _admin(url, f"TRUNCATE {TABLES} CASCADE")


@contextlib.contextmanager
def scratch_database(*, migrated: bool = False) -> Iterator[str]:
    """A uniquely named database on the test server, dropped afterwards."""
    server = server_url()
    name, url = create_database(server)
    try:
        if migrated:
            from app.migrations import upgrade

            upgrade(url)
        yield url
    finally:
        drop_database(server, name)


async def fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    """Rows of one query on a connection of its own (what a test reads or writes directly)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()
