"""Structured logs: one JSON object per line on stderr, at LOG_LEVEL.

Every line has `time`, `level`, `logger`, `event` (the message) and, inside a request, the
`request_id` set by app.observability; fields passed as `extra={...}` are added as they are:

    log.info("config_cache_invalidated", extra={"profile_id": str(profile_id)})
    {"time": "...", "level": "INFO", "logger": "app.services.config_cache",
     "event": "config_cache_invalidated", "request_id": "5f0c...", "profile_id": "..."}
"""

from __future__ import annotations

import logging
import logging.config
import sys
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

# The id of the request being served (set by app.observability.RequestObserver).
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra`.
# (uvicorn adds `color_message`, a copy of the message with terminal colours.)
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName",
                                                         "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _time(self, created: float) -> str:
        # The access line runs per request: format the date once a second, not once a line.
        second = int(created)
        if second != self._second:
            self._second = second
            self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._stamp}.{int((created - second) * 1000):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        return self.encode(record).decode()

    def encode(self, record: logging.LogRecord) -> bytes:
        fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return self.encode_line(record.created, record.levelname, record.name,
                                record.getMessage(), fields)

    def encode_line(self, created: float, level: str, logger: str, event: str,
                    fields: dict[str, Any]) -> bytes:
        line: dict[str, Any] = {"time": self._time(created), "level": level, "logger": logger,
                                "event": event}
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        line.update(fields)
        return orjson.dumps(line, default=str)


class JsonLinesHandler(logging.StreamHandler):
    """stderr through a 64 KiB buffer: one write system call per many lines, not one per request
    (about 12 µs a request under load). WARNING and above are written at once; the rest within
    FLUSH_SECONDS, by a daemon thread, and at exit (logging.shutdown flushes handlers).

    `write_line` is the access line's way in: app.observability formats it with this handler's
    formatter and writes it here directly when nothing else would see the record (no filters,
    no other handler), skipping the LogRecord and handler machinery (~20 µs a request)."""

    FLUSH_SECONDS = 0.5

    def __init__(self, stream: BinaryIO | None = None) -> None:
        super().__init__(stream or open(sys.stderr.fileno(), "wb", buffering=1 << 16,
                                        closefd=False))
        self.setFormatter(JsonFormatter())
        self._pending = False
        threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            formatter = self.formatter
            if isinstance(formatter, JsonFormatter):
                data = formatter.encode(record)
            else:
                data = self.format(record).encode("utf-8", "backslashreplace")
            self.write_line(data, urgent=record.levelno >= logging.WARNING)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write_line(self, data: bytes, *, urgent: bool = False) -> None:
        # The buffered writer has its own lock: lines from any thread stay whole.
        self.stream.write(data + b"\n")
        if urgent:
            self.stream.flush()
        else:
            self._pending = True

    def _flush_periodically(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            if self._pending:
                self._pending = False
                self.flush()


def direct_sink(logger: logging.Logger, level: int) -> JsonLinesHandler | None:
    """The JsonLinesHandler that alone would receive `logger`'s records at `level`, if so."""
    found = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if (found is not None or type(handler) is not JsonLinesHandler or handler.filters
                    or handler.level > level
                    or type(handler.formatter) is not JsonFormatter):
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


def logging_config(level: str) -> dict[str, Any]:
    """dictConfig for the app and uvicorn's own loggers (uvicorn.run(log_config=...))."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"json": {"()": JsonLinesHandler}},
        "root": {"level": level.upper(), "handlers": ["json"]},
        "loggers": {
            # uvicorn's loggers keep their own level but write through the JSON handler.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # The app logs its own access line (app.observability); uvicorn's would double it.
            "uvicorn.access": {"handlers": [], "propagate": False},
            # Alembic narrates its plugin set-up at INFO whenever /readyz reads the head.
            "alembic": {"level": "WARNING"},
        },
    }


def configure_logging(level: str) -> None:
    logging.config.dictConfig(logging_config(level))
