"""Shared fixtures: one migrated database per run, a fresh app (and container) per test.

Fakes are injected by overriding container providers: a FrozenClock, cheap bcrypt rounds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.main import create_app
from app.services.clock import FrozenClock
from app.settings import Settings
from containers import Container
from tests.support import api
from tests.support.db import scratch_database, truncate_all

JWT_SECRET = "test-secret-that-is-at-least-32-bytes-long"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with scratch_database(migrated=True) as url:
        yield url


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(database_url=database_url, jwt_secret=JWT_SECRET,
                                     bcrypt_rounds=4, db_pool_size=4,
                                     db_retry_interval_seconds=0.2)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def clock() -> FrozenClock:
    # A Wednesday, 12:00 UTC: a weekday in every zone the tests use.
    return FrozenClock(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))


@pytest.fixture
def container(settings: Settings, clock: FrozenClock) -> Iterator[Container]:
    c = Container()
    c.settings.override(settings)
    c.clock.override(clock)
    yield c
    c.unwire()


@pytest.fixture
async def app(container: Container, database_url: str):  # type: ignore[no-untyped-def]
    await truncate_all(database_url)
    application = create_app(container)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def parent(client: httpx.AsyncClient) -> api.Parent:
    return await api.signed_up(client, "parent@example.com")


@pytest.fixture
async def titles(container: Container) -> api.Titles:
    return await api.seed_titles(container)
