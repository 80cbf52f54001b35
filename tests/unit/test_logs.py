"""Structured log lines: one JSON object per record with the fixed fields, the request id and
the extras; the buffered handler; and when the access line may skip the logging machinery."""

from __future__ import annotations

import io
import logging
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from app.logs import REQUEST_ID, JsonFormatter, JsonLinesHandler, direct_sink, logging_config

CREATED = datetime(2026, 3, 4, 12, 0, 5, tzinfo=UTC).timestamp()


def record(message: str = "config_cache_invalidated", *, level: int = logging.INFO,
           created: float = CREATED, extra: dict | None = None,
           exc_info=None) -> logging.LogRecord:
    r = logging.LogRecord("app.services.config_cache", level, __file__, 1, message, (), exc_info)
    r.created = created
    for key, value in (extra or {}).items():
        setattr(r, key, value)
    return r


def line(r: logging.LogRecord) -> dict:
    return orjson.loads(JsonFormatter().format(r))


def test_a_line_has_time_level_logger_event_and_the_extras_as_given():
    profile = uuid.UUID("5f0c3e2a-1111-4222-8333-944445555666")
    assert line(record(extra={"profile_id": str(profile), "closed": 3})) == {
        "time": "2026-03-04T12:00:05.000+00:00", "level": "INFO",
        "logger": "app.services.config_cache", "event": "config_cache_invalidated",
        "profile_id": str(profile), "closed": 3}


@pytest.mark.parametrize("fraction, stamp", [
    (0.0, "12:00:05.000"), (0.5, "12:00:05.500"), (0.0994, "12:00:05.099"),
    (0.9999, "12:00:05.999"),  # milliseconds are cut, never rounded into the next second
])
def test_the_time_is_utc_with_milliseconds(fraction, stamp):
    assert line(record(created=CREATED + fraction))["time"] == f"2026-03-04T{stamp}+00:00"


def test_the_cached_date_changes_with_the_second():
    formatter = JsonFormatter()
    first = orjson.loads(formatter.format(record(created=CREATED + 0.75)))
    second = orjson.loads(formatter.format(record(created=CREATED + 1.25)))
    assert (first["time"], second["time"]) == ("2026-03-04T12:00:05.750+00:00",
                                               "2026-03-04T12:00:06.250+00:00")


def test_a_line_inside_a_request_carries_its_id():
    token = REQUEST_ID.set("req-42")
    try:
        assert line(record())["request_id"] == "req-42"
    finally:
        REQUEST_ID.reset(token)
    assert "request_id" not in line(record())


def test_the_message_is_formatted_with_its_arguments():
    r = logging.LogRecord("app.x", logging.WARNING, __file__, 1, "sweep failed: %r", (OSError(),),
                          None)
    assert line(r)["event"] == "sweep failed: OSError()"


def test_values_json_cannot_hold_are_written_as_text():
    assert line(record(extra={"seconds": Decimal("1.5"), "at": object}))["seconds"] == "1.5"


def test_an_exception_is_written_with_its_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        r = record(level=logging.ERROR, exc_info=sys.exc_info())
    exception = line(r)["exception"]
    assert exception.startswith("Traceback (most recent call last):")
    assert exception.endswith("ValueError: boom")


class SlowFlush(JsonLinesHandler):
    FLUSH_SECONDS = 3600  # the background flush never runs during the test


def test_info_lines_wait_in_the_buffer_and_warnings_are_written_at_once():
    raw = io.BytesIO()
    handler = SlowFlush(io.BufferedWriter(raw, buffer_size=1 << 16))
    handler.emit(record("info-line"))
    assert raw.getvalue() == b""
    handler.emit(record("warning-line", level=logging.WARNING))
    lines = [orjson.loads(x) for x in raw.getvalue().splitlines()]
    assert [x["event"] for x in lines] == ["info-line", "warning-line"]


def test_write_line_appends_one_newline_terminated_line():
    raw = io.BytesIO()
    handler = SlowFlush(io.BufferedWriter(raw))
    handler.write_line(b'{"a":1}')
    handler.write_line(b'{"b":2}', urgent=True)
    assert raw.getvalue() == b'{"a":1}\n{"b":2}\n'


@pytest.fixture
def logger() -> logging.Logger:
    """A logger outside logging's registry, so it has no parent: pytest's capture handlers (on
    the root and on every registered non-propagating logger) cannot reach it."""
    return logging.Logger("tests.unit.logs")


def test_the_access_line_goes_direct_to_a_lone_json_handler(logger):
    handler = JsonLinesHandler(io.BytesIO())
    logger.addHandler(handler)
    assert direct_sink(logger, logging.INFO) is handler


def test_a_json_handler_up_the_hierarchy_is_found_too(logger):
    child = logging.Logger(logger.name + ".child")
    child.parent = logger
    handler = JsonLinesHandler(io.BytesIO())
    logger.addHandler(handler)
    assert direct_sink(child, logging.INFO) is handler


def swap_for_a_stream_handler(logger: logging.Logger, handler: logging.Handler) -> None:
    logger.removeHandler(handler)
    logger.addHandler(logging.StreamHandler(io.StringIO()))


@pytest.mark.parametrize("change", [
    pytest.param(lambda log, h: log.addFilter(logging.Filter("x")), id="a logger filter"),
    pytest.param(lambda log, h: h.addFilter(logging.Filter("x")), id="a handler filter"),
    pytest.param(lambda log, h: log.addHandler(logging.NullHandler()), id="a second handler"),
    pytest.param(swap_for_a_stream_handler, id="another handler type"),
    pytest.param(lambda log, h: h.setLevel(logging.WARNING), id="a handler level above INFO"),
    pytest.param(lambda log, h: h.setFormatter(logging.Formatter()), id="another formatter"),
])
def test_anything_else_that_might_see_the_record_takes_the_full_path(logger, change):
    handler = JsonLinesHandler(io.BytesIO())
    logger.addHandler(handler)
    change(logger, handler)
    assert direct_sink(logger, logging.INFO) is None


def test_uvicorns_access_log_is_silenced_and_its_others_go_through_the_json_handler():
    config = logging_config("debug")
    assert config["root"] == {"level": "DEBUG", "handlers": ["json"]}
    assert config["loggers"]["uvicorn.access"] == {"handlers": [], "propagate": False}
    assert config["loggers"]["uvicorn.error"] == {"handlers": [], "propagate": True}
