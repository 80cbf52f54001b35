"""Apps built with settings of their own (pool sizes, timeouts, a proxy in front of the database)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from asgi_lifespan import LifespanManager

from app.main import create_app
from app.services.clock import FrozenClock
from containers import Container
from tests.conftest import make_settings


@dataclass
class Running:
    container: Container
    app: object
    client: httpx.AsyncClient


@contextlib.asynccontextmanager
async def running_app(database_url: str, clock: FrozenClock | None = None,
                      **settings: object) -> AsyncIterator[Running]:
    """An app on `database_url` (maybe a proxy's) with its lifespan, and a client for it."""
    container = Container()
    container.settings.override(make_settings(database_url, **settings))
    if clock is not None:
        container.clock.override(clock)
    app = create_app(container)
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Running(container, app, client)
    finally:
        container.unwire()
