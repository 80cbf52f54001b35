"""The one way tests build the app: test settings, a Container of its own (maybe with a
FrozenClock), create_app on it, its lifespan, an in-process httpx client.

`Container()` wires `app.endpoints` process-wide (its wiring config), so every container made
here is unwired when its block ends: the next one built is the one the endpoints get.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import httpx
from app.main import create_app
from app.services.clock import FrozenClock
from app.settings import Settings
from asgi_lifespan import LifespanManager
from containers import Container
from starlette.applications import Starlette
from tests.support.db import truncate_all
from tests.support.pgproxy import RoundTripProxy

JWT_SECRET = "test-secret-that-is-at-least-32-bytes-long"


# For fixtures that count round trips on the wire: the lifespan's background loops (the sweeps,
# the webhook worker's 1 s poll) would otherwise add their own, at random moments, to a beat's.
QUIET_BACKGROUND: dict[str, object] = dict(sweep_interval_seconds=3600,
                                           time_request_sweep_interval_seconds=60,
                                           webhook_poll_seconds=3600)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(database_url=database_url, jwt_secret=JWT_SECRET,
                                     bcrypt_rounds=4, db_pool_size=4,
                                     db_retry_interval_seconds=0.2)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextlib.contextmanager
def container_for(settings: Settings, clock: FrozenClock | None = None) -> Iterator[Container]:
    """A Container on `settings`, with `clock` (if given) in place of the system clock."""
    container = Container()
    container.settings.override(settings)
    if clock is not None:
        container.clock.override(clock)
    try:
        yield container
    finally:
        container.unwire()


@contextlib.asynccontextmanager
async def serving(container: Container) -> AsyncIterator[Starlette]:
    """The app on `container`, its lifespan running (resources open, sweeper started)."""
    app = create_app(container)
    async with LifespanManager(app):
        yield app


@contextlib.contextmanager
def unstarted_app(database_url: str, clock: FrozenClock | None = None,
                  **settings: object) -> Iterator[Starlette]:
    """The app on a container of its own, its lifespan not started: for a runner that starts
    it on a loop of its own (schemathesis' ASGI client)."""
    with container_for(make_settings(database_url, **settings), clock) as container:
        yield create_app(container)


def client_for(app: Starlette, address: str | None = None) -> httpx.AsyncClient:
    """An in-process client; `address` is the client address the app sees (uvicorn sets it from
    the socket, or from a trusted proxy's header)."""
    transport = (httpx.ASGITransport(app=app) if address is None
                 else httpx.ASGITransport(app=app, client=(address, 40000)))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@dataclass
class Running:
    container: Container
    app: Starlette
    client: httpx.AsyncClient


@contextlib.asynccontextmanager
async def running_app(database_url: str, clock: FrozenClock | None = None,
                      **settings: object) -> AsyncIterator[Running]:
    """An app on `database_url` (maybe a proxy's) with `make_settings(database_url, **settings)`,
    its lifespan running, and a client for it."""
    with container_for(make_settings(database_url, **settings), clock) as container:
        async with serving(container) as app, client_for(app) as client:
            yield Running(container, app, client)


@contextlib.asynccontextmanager
async def running_with_proxy(database_url: str, clock: FrozenClock | None,
                             place: Callable[[str], dict[str, object]]
                             ) -> AsyncIterator[tuple[RoundTripProxy, Running]]:
    """A counting proxy to `database_url` and an app (quiet background loops, emptied tables)
    whose settings `place(proxy_url)` gives: which of its URLs go through the proxy."""
    await truncate_all(database_url)
    proxy = RoundTripProxy(database_url)
    await proxy.up()
    try:
        settings: dict[str, object] = {"database_url": database_url, **QUIET_BACKGROUND,
                                       **place(proxy.url)}
        async with running_app(str(settings.pop("database_url")), clock,
                               **settings) as running:
            yield proxy, running
    finally:
        await proxy.close()
