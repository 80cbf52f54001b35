"""Graceful shutdown: on SIGTERM, drain, stop accepting, finish in-flight requests, close pools.

The order, and who does each step:

1. SIGTERM → /readyz answers 503 ("shutting down") while the listener stays open for
   SHUTDOWN_DRAIN_SECONDS, so a load balancer that polls readiness stops routing here before
   connections are refused. (Under Kubernetes the pod's preStop pause plays this part and the
   drain is 0: the endpoint is removed on termination, whatever readiness says.)
2. uvicorn's own graceful shutdown: close the listening socket, let each in-flight request
   finish (up to its `timeout_graceful_shutdown`), close idle keep-alive connections.
3. The app's lifespan shutdown: `container.shutdown_resources()` closes the asyncpg pool,
   disposes the engine, stops the LISTEN connection and the hasher's threads.

A second SIGTERM (or a SIGINT) skips the rest of the drain and goes straight to step 2.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger(__name__)

STARTUP_FAILURE = 3  # uvicorn's exit status when the app could not start


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain period in front of its graceful shutdown."""

    def __init__(self, config: uvicorn.Config, *, drain_seconds: float,
                 on_drain: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self._drain_seconds = drain_seconds
        self._on_drain = on_drain
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self._draining and self.started and self._loop:
            self._draining = True
            # A signal handler runs between two bytecodes of the loop's thread; hand the work
            # to the loop (and wake it) rather than touching the app from here.
            self._loop.call_soon_threadsafe(self._loop.create_task, self._drain())
            return
        super().handle_exit(sig, frame)

    async def _drain(self) -> None:
        try:
            await self._on_drain()
        except Exception:  # never let a failed readiness flip keep the process alive
            log.exception("could not mark the app as draining")
        if self._drain_seconds:
            log.info("draining for %.1f s before shutting down", self._drain_seconds)
            await asyncio.sleep(self._drain_seconds)
        self.should_exit = True


async def mark_draining(container: Any) -> None:
    """Turn readiness to 503: the HealthService is a singleton of the app's container."""
    health = container.health()
    if inspect.isawaitable(health):  # resolved through async resources the first time
        health = await health
    health.draining = True


def serve(config: uvicorn.Config, *, drain_seconds: float) -> None:
    """Run one uvicorn worker process with the drain (what `uvicorn.run` does for workers=1)."""
    app = config.load_app()  # the imported module's app: the very object the server runs
    server = DrainingServer(config, drain_seconds=drain_seconds,
                            on_drain=lambda: mark_draining(app.state.container))
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
