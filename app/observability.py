"""Per-request observation: request id, access log line, latency histogram per route template.

Pure ASGI (no BaseHTTPMiddleware, no Request object) because every heartbeat passes through.
Measured in-stack (bench/README.md): ~15 µs a request for the id, the histogram and the extra
layer, ~14 µs more for the access line at LOG_LEVEL=INFO. That line skips the logging machinery
when the JSON-lines handler alone would receive it (as served); `make bench` measures it again
with a LOG_LEVEL=WARNING row.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http_errors import unexpected
from app.logs import REQUEST_ID, JsonFormatter, direct_sink
from app.services.metrics import MetricsCollector

ACCESS_LOGGER = "app.access"
access_log = logging.getLogger(ACCESS_LOGGER)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"  # 404s are labelled alike: a raw path would explode the label set
MAX_REQUEST_ID = 128


def incoming_request_id(value: bytes) -> str | None:
    """An incoming X-Request-ID, kept when short and printable ASCII (it is echoed and logged)."""
    if 0 < len(value) <= MAX_REQUEST_ID and value.isascii():
        text = value.decode()
        if text.isprintable():
            return text
    return None


class RequestObserver:
    def __init__(self, app: ASGIApp, *, metrics: MetricsCollector) -> None:
        self.app = app
        self._latency = metrics.histogram(
            "vts_http_request_duration_seconds", "Request latency by route template",
            ("method", "route", "status"), buckets=LATENCY_BUCKETS)
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = incoming_request_id(value)
                break
        if request_id is None:
            request_id = os.urandom(16).hex()
        token = REQUEST_ID.set(request_id)
        id_header = (b"x-request-id", request_id.encode())
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # A bug no handler took: answered here, inside the request's context, so the 500
            # has its X-Request-ID and security headers and the log line its request_id.
            if started_response:
                raise  # too late for a response; the server closes the connection
            await unexpected(None, exc, scope["path"])(scope, receive, send_with_id)
        finally:
            self._observe(scope, status, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", UNMATCHED) if route is not None else UNMATCHED
        key = (scope["method"], template, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._latency.labels(key[0], template, str(status))
        child.observe(seconds)
        if access_log.isEnabledFor(logging.INFO):
            duration_ms = round(seconds * 1000, 3)
            sink = direct_sink(access_log, logging.INFO)
            if sink is None or not isinstance(sink.formatter, JsonFormatter):
                # filters or other handlers (tests, custom config): the full path
                access_log.handle(AccessRecord(scope["method"], template, scope["path"],
                                               status, duration_ms))
                return
            sink.write_line(sink.formatter.encode_line(
                time.time(), "INFO", ACCESS_LOGGER, "request",
                {"method": scope["method"], "route": template, "path": scope["path"],
                 "status": status, "duration_ms": duration_ms}))


class AccessRecord(logging.LogRecord):
    """The access line's LogRecord, built in about a microsecond.

    A plain record looks up the caller's frame, file name, thread, process and task names on
    every request (tens of µs with caches as cold as a heartbeat leaves them); this one copies
    those constant attributes from a template, so handlers and formatters (which read
    `record.__dict__`) see an ordinary record.
    """

    _TEMPLATE = logging.LogRecord(
        access_log.name, logging.INFO, __file__, 0, "request", (), None, "_observe")
    _CONSTANT = {k: v for k, v in vars(_TEMPLATE).items()
                 if k not in ("created", "msecs", "relativeCreated")}
    # When logging was loaded (logging keeps it private; a record holds it in public fields).
    _LOGGING_STARTED = _TEMPLATE.created - _TEMPLATE.relativeCreated / 1000

    def __init__(self, method: str, route: str, path: str, status: int,
                 duration_ms: float) -> None:
        self.__dict__.update(self._CONSTANT)
        self.created = created = time.time()
        self.msecs = (created - int(created)) * 1000
        self.relativeCreated = (created - self._LOGGING_STARTED) * 1000
        self.method = method
        self.route = route
        self.path = path
        self.status = status
        self.duration_ms = duration_ms
