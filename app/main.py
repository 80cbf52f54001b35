"""create_app(container) → the Starlette application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import asdict

from containers import Container, close_resources, open_resources
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware

from app.auth import on_auth_error
from app.endpoints import viewing_time
from app.endpoints.access import Access, guarded
from app.hot_path import Handler, HotPath, bound, route_for
from app.http_errors import EXCEPTION_HANDLERS
from app.middleware import BodySizeLimit, SecurityHeaders
from app.observability import RequestObserver
from app.openapi import build_openapi
from app.routes import ENDPOINTS, HEARTBEAT_PATH, TITLES_UPSERT_PATH, routes

log = logging.getLogger(__name__)
BULK_BODY_BYTES = 2 * 1024 * 1024  # 10,000 titles of up to ~200 bytes each
PURGE_EVERY_SECONDS = 86_400
DEVELOPMENT_KEY_WARNING = (
    "JWT_SECRET is not set: tokens are signed with the built-in DEVELOPMENT key, which anyone "
    "can read in the source. Fine for `make run` on your machine; never expose this server."
)


async def _sweep_periodically(container: Container) -> None:
    """Close stale sessions and drop sign-in failures past the throttle's window in the
    background (also available as `python -m app sweep`)."""
    interval = container.settings().sweep_interval_seconds
    purged_at: float | None = None
    while True:
        await asyncio.sleep(interval)
        try:
            closed = await (await container.viewing_time.async_()).sweep()
            await (await container.device_registry.async_()).flush_seen()
            # Failures of keys nobody tries again; a key's next check drops its own as well.
            await (await container.login_throttle.async_()).purge_expired()
            if closed:
                log.info("stale sessions closed", extra={"closed": closed})
            # Retention (RETENTION_DAYS) once a day per replica: the purge scans whole tables.
            if purged_at is None or time.monotonic() - purged_at >= PURGE_EVERY_SECONDS:
                purged = await (await container.retention.async_()).purge()
                purged_at = time.monotonic()
                if purged is not None and (purged.sessions or purged.balances or purged.grants):
                    log.info("history_purged", extra=asdict(purged))
        except Exception as exc:  # the database may be down; try again next round
            log.warning("sweep failed: %r", exc)


async def _expire_requests_periodically(container: Container) -> None:
    """Expire due time requests (and write their events) every few seconds in every replica:
    rows another replica is expiring are skipped, so replicas share the work."""
    interval = container.settings().time_request_sweep_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            await (await container.time_request_service.async_()).sweep()
        except Exception as exc:  # the database may be down; try again next round
            log.warning("time request sweep failed: %r", exc)


def create_app(container: Container | None = None) -> Starlette:
    container = container or Container()
    settings = container.settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.jwt_secret is None:
            log.warning(DEVELOPMENT_KEY_WARNING)
        await open_resources(container)
        container.auth_backend().use_devices(await container.device_registry.async_())
        webhooks = await container.webhook_worker.async_()
        tasks = [asyncio.create_task(_sweep_periodically(container)),
                 asyncio.create_task(_expire_requests_periodically(container)),
                 asyncio.create_task(webhooks.run_forever())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await webhooks.close()
            await close_resources(container)

    middleware = [
        # Outermost, so every response has them, the observer's 500 included.
        Middleware(SecurityHeaders),
        # Its latency and access line cover every other middleware; it renders 500s itself.
        Middleware(RequestObserver, metrics=container.metrics()),
        Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                   overrides={TITLES_UPSERT_PATH: BULK_BODY_BYTES}),
    ]
    if settings.cors_origin_list:
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        ))
    app_routes = routes(device_tokens_required=settings.device_tokens_required)

    async def heartbeat_handler() -> Handler:
        viewing = await container.viewing_time.async_()
        return guarded(bound(viewing_time.beat, viewing=viewing), Access.player,
                       device_tokens_required=settings.device_tokens_required)

    middleware.append(Middleware(HotPath, route=route_for(app_routes, HEARTBEAT_PATH),
                                 build=heartbeat_handler, backend=container.auth_backend(),
                                 on_auth_error=on_auth_error,
                                 exception_handlers=EXCEPTION_HANDLERS))
    middleware.append(Middleware(AuthenticationMiddleware, backend=container.auth_backend(),
                                 on_error=on_auth_error))
    app = Starlette(routes=app_routes, middleware=middleware,
                    exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    app.state.container = container
    app.state.openapi = build_openapi(ENDPOINTS)
    return app
