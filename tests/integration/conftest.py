"""An app whose database connections pass through a counting, cuttable proxy."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.main import create_app
from app.services.clock import FrozenClock
from containers import Container
from tests.conftest import make_settings
from tests.support.db import truncate_all
from tests.support.pgproxy import RoundTripProxy


@pytest.fixture
async def proxied(database_url, clock: FrozenClock):  # type: ignore[no-untyped-def]
    await truncate_all(database_url)
    proxy = RoundTripProxy(database_url)
    await proxy.up()
    container = Container()
    container.settings.override(make_settings(proxy.url))
    container.clock.override(clock)
    app = create_app(container)
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as client:
            yield proxy, client, container
    container.unwire()
    await proxy.close()
