"""An app with its own container, running its lifespan, behind an in-process httpx client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from asgi_lifespan import LifespanManager

from app.main import create_app
from app.services.clock import FrozenClock
from app.settings import Settings
from containers import Container


@contextlib.asynccontextmanager
async def running_app(settings: Settings, clock: FrozenClock | None = None
                      ) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    container = Container()
    container.settings.override(settings)
    if clock is not None:
        container.clock.override(clock)
    app = create_app(container)
    try:
        async with LifespanManager(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://test") as client:
                yield client, container
    finally:
        container.unwire()
