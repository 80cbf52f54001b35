"""The ceiling: what one database round trip per heartbeat costs with nothing else done.

A minimal Starlette app with one POST that parses a heartbeat-shaped JSON body and runs exactly
one `INSERT … ON CONFLICT (profile_id, reset_date) DO UPDATE … RETURNING` on an asyncpg pool
whose per-release reset is disabled, on a scratch table shaped like `daily_balances`. No auth,
no validation, no logging, no metrics: the service is measured against this (performance.md).

    DATABASE_URL=postgresql://... uvicorn bench.yardstick:app --loop uvloop --http httptools

`POST /nodb` is the same app without the database (the HTTP stack's own ceiling).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TABLE = "bench_ceiling_balances"

CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    profile_id uuid NOT NULL,
    reset_date date NOT NULL,
    used_seconds numeric(12,3) NOT NULL DEFAULT 0,
    educational_seconds numeric(12,3) NOT NULL DEFAULT 0,
    granted_seconds integer NOT NULL DEFAULT 0,
    is_unlimited_override boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL,
    CONSTRAINT pk_{TABLE} PRIMARY KEY (profile_id, reset_date)
)
"""

UPSERT = f"""
INSERT INTO {TABLE} AS d (profile_id, reset_date, used_seconds, updated_at)
VALUES ($1, $2, 30, $3)
ON CONFLICT (profile_id, reset_date) DO UPDATE
SET used_seconds = d.used_seconds + excluded.used_seconds, updated_at = excluded.updated_at
RETURNING used_seconds, granted_seconds, is_unlimited_override
"""


async def _no_reset(connection: asyncpg.Connection) -> None:
    """No reset query on release: the one statement leaves no session state behind."""


class JSON(Response):
    media_type = "application/json"


async def heartbeat(request: Request) -> Response:
    beat = orjson.loads(await request.body())
    now = datetime.now(timezone.utc)
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(UPSERT, uuid.UUID(beat["profile_id"]), now.date(), now)
    return JSON(orjson.dumps({"session_id": beat.get("session_id"), "enforcement": "allowed",
                              "used_minutes": round(float(row["used_seconds"]) / 60, 2)}))


async def nodb(request: Request) -> Response:
    beat = orjson.loads(await request.body())
    return JSON(orjson.dumps({"session_id": beat.get("session_id"), "enforcement": "allowed",
                              "used_minutes": 0.5}))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    size = int(os.environ.get("DB_POOL_SIZE", "10"))
    dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    app.state.pool = await asyncpg.create_pool(dsn, min_size=size, max_size=size, reset=_no_reset)
    async with app.state.pool.acquire() as conn:
        await conn.execute(CREATE)
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(routes=[Route("/heartbeat", heartbeat, methods=["POST"]),
                        Route("/nodb", nodb, methods=["POST"])], lifespan=lifespan)
