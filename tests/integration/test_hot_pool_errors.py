"""The hot pool's acquire context turns connection failures into DatabaseUnavailable (503, and
fail closed for a heartbeat), on a real pool and server."""

from __future__ import annotations

import asyncpg
import pytest

from app.database import HotPool
from app.domain.errors import DatabaseUnavailable
from tests.support.apps import make_settings

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("error", [
    asyncpg.exceptions.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
])
async def test_a_broken_connection_inside_the_pool_context_is_an_outage(database_url, error):
    """InternalClientError was a 500 for a non-heartbeat hot-pool read at the instant a primary
    died (seen in the failover test); now an outage like a closed connection."""
    pool = HotPool(make_settings(database_url))
    await pool.start()
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            async with pool.acquire():
                raise error
        assert raised.value.__cause__ is error
    finally:
        await pool.close()


async def test_a_connection_whose_protocol_broke_is_not_handed_out_again(database_url):
    pool = HotPool(make_settings(database_url, db_pool_size=1))
    await pool.start()
    try:
        async with pool.acquire() as conn:
            broken = await conn.fetchval("SELECT pg_backend_pid()")
        with pytest.raises(DatabaseUnavailable):
            async with pool.acquire():
                raise asyncpg.exceptions.InternalClientError("cannot switch to state 12")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") != broken
    finally:
        await pool.close()
