"""Two replicas share one sign-in budget: failures and parallel guesses spread over both count
exactly as on one (app/services/throttle.py keeps the counts in PostgreSQL).

One replica is this test's app (in process, on a FrozenClock started at the real time); the
other is a real `python -m app serve` process with its own container and pools, on the real
clock: dependency-injector wiring is module-global, so two containers cannot serve side by side
in one process (both apps would use the last container's throttle, and a test of two
in-process apps would pass even with per-process counts).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from app.services.clock import FrozenClock
from tests.support.api import API, PASSWORD, signed_up
from tests.support.apps import client_for
from tests.support.served import served_replica

pytestmark = pytest.mark.anyio

EMAIL = "victim@example.com"


@pytest.fixture
def clock() -> FrozenClock:
    # The other replica runs on the real clock: both must count in the same window.
    return FrozenClock(datetime.now(UTC))


@pytest.fixture
async def replica(database_url: str,
                  app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """The second replica, with a pool and a throttle of its own."""
    async with served_replica(database_url, timeout=30) as client:
        yield client


async def login(client: httpx.AsyncClient, password: str) -> httpx.Response:
    return await client.post(f"{API}/auth/login", json={"email": EMAIL, "password": password})


async def test_ten_failures_alternating_over_two_replicas_lock_the_email_on_both(
        app, client, replica, clock):
    await signed_up(client, EMAIL)
    for i in range(10):
        if i % 2:
            r = await login(replica, f"guess-{i}")  # from 127.0.0.1, the socket's address
        else:
            async with client_for(app, f"10.0.0.{i}") as local:
                r = await login(local, f"guess-{i}")
        assert r.status_code == 401, (i, r.text)
    r = await login(replica, PASSWORD)  # even the right password
    assert r.status_code == 429, r.text
    assert r.json() == {"detail": "Too many attempts; try again later"}
    assert 850 <= int(r.headers["retry-after"]) <= 900  # on its own clock, a little later
    async with client_for(app, "10.0.1.1") as local:
        r = await login(local, PASSWORD)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) == 900  # the oldest failure was at this clock's 0
    clock.advance(900)  # this replica's five failures have left the window; the other's five
    async with client_for(app, "10.0.1.2") as local:  # have not: 5 < 10
        assert (await login(local, PASSWORD)).status_code == 200
    # That success cleared the account's failures for every replica.
    assert (await login(replica, PASSWORD)).status_code == 200


async def test_parallel_guesses_over_two_replicas_get_exactly_the_budget(app, client, replica):
    await signed_up(client, EMAIL)

    async def guess(i: int) -> httpx.Response:
        if i % 2:
            return await login(replica, f"guess-{i}")
        async with client_for(app, f"10.0.2.{i}") as local:
            return await login(local, f"guess-{i}")

    answers = await asyncio.gather(*(guess(i) for i in range(20)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [401] * 10 + [429] * 10  # ten reached bcrypt, the rest were refused
    assert all("retry-after" in r.headers for r in answers if r.status_code == 429)
    assert (await login(replica, PASSWORD)).status_code == 429
    async with client_for(app, "10.0.3.1") as local:
        assert (await login(local, PASSWORD)).status_code == 429
