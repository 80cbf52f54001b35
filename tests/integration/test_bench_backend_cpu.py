"""The bench's PostgreSQL CPU per request: a backend that disconnects during a measured run
must not take its past CPU out of the sum (a soak minute once printed -1,290 µs per request
when the service's pool retired a connection)."""

from __future__ import annotations

from urllib.parse import urlparse

import asyncpg
import pytest
from app.database import asyncpg_dsn
from bench import tools

pytestmark = pytest.mark.anyio

BUSY = "SELECT count(*) FROM generate_series(1, 2000000)"  # a few hundred ms of backend CPU


async def test_a_backend_gone_since_the_snapshot_takes_nothing_away(database_url: str) -> None:
    database = urlparse(database_url).path.lstrip("/")
    leaving = await asyncpg.connect(asyncpg_dsn(database_url))
    staying = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for _ in range(3):  # more than `staying` will use after the snapshot
            await leaving.fetchval(BUSY)
        before = tools.backend_cpu(database)
        assert await leaving.fetchval("SELECT pg_backend_pid()") in before
        await leaving.close()
        await staying.fetchval(BUSY)
        used = tools.backend_cpu_since(before, database)
        summed_as_before = sum(map(tools.process_cpu_seconds, before)) - sum(before.values())
    finally:
        await staying.close()
    # what `staying` used since the snapshot, and no negative share for `leaving`
    assert used > 0.05
    assert summed_as_before < 0  # the old reckoning (the pids of the snapshot, summed again)
