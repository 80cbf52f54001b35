"""Shared fixtures: one migrated database per run, a fresh app (and container) per test.

Fakes are injected by overriding container providers: a FrozenClock, cheap bcrypt rounds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from app.services.clock import FrozenClock
from app.settings import Settings
from containers import Container
from tests.support import api
from tests.support.apps import client_for, container_for, make_settings, serving
from tests.support.db import scratch_database, truncate_all


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with scratch_database(migrated=True) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def clock() -> FrozenClock:
    # A Wednesday, 12:00 UTC: a weekday in every zone the tests use.
    return FrozenClock(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))


@pytest.fixture
def container(settings: Settings, clock: FrozenClock) -> Iterator[Container]:
    with container_for(settings, clock) as c:
        yield c


@pytest.fixture
async def app(container: Container, database_url: str):  # type: ignore[no-untyped-def]
    await truncate_all(database_url)
    async with serving(container) as application:
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with client_for(app) as c:
        yield c


@pytest.fixture
async def parent(client: httpx.AsyncClient) -> api.Parent:
    return await api.signed_up(client, "parent@example.com")


@pytest.fixture
async def titles(container: Container) -> api.Titles:
    return await api.seed_titles(container)
