"""Alembic environment: async engine on the URL the caller passes (or DATABASE_URL)."""

import asyncio
import os

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from app import dburl
from app.database import asyncpg_dsn, connect_each_host, sqlalchemy_url
from app.models import SQLModel

config = context.config
target_metadata = SQLModel.metadata


def _given_url() -> str:
    url = config.attributes.get("url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set")
    return url


def _url() -> str:
    return sqlalchemy_url(_given_url())


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    # Several hosts: each tried in turn with a timeout of its own, like the service's pools.
    connect_each_host(engine, asyncpg_dsn(_given_url()), dburl.HOST_TIMEOUT_SECONDS)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
