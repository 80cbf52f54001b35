"""Request ids and structured logs: one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from app.logs import JsonFormatter
from tests.support.parental import put_config

pytestmark = pytest.mark.anyio


class JsonLines:
    """Everything logged while installed, formatted as the service formats it."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict]:
        text = self.stream.getvalue()
        assert text.endswith("\n") or not text
        return [json.loads(line) for line in text.splitlines()]  # each line alone is JSON

    def events(self, name: str) -> list[dict]:
        return [line for line in self.lines() if line["event"] == name]


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    captured = JsonLines()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_incoming_request_id_is_echoed(client):
    r = await client.get("/healthz", headers={"X-Request-ID": "lb-7f3a-42"})
    assert r.headers["x-request-id"] == "lb-7f3a-42"


async def test_request_id_is_generated_when_absent_or_unusable(client):
    r = await client.get("/healthz")
    generated = r.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert (await client.get("/healthz")).headers["x-request-id"] != generated
    for bad in ("x" * 129, "tab\there", ""):
        r = await client.get("/healthz", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"]), bad


async def test_error_responses_carry_the_request_id_too(client):
    r = await client.get("/api/v1/me", headers={"X-Request-ID": "abc"})
    assert r.status_code == 401 and r.headers["x-request-id"] == "abc"
    r = await client.get("/nowhere", headers={"X-Request-ID": "def"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "def"


async def test_access_line_per_request(client, parent, json_logs):
    kid = await parent.child()
    await client.get(f"/api/v1/viewing-time/balance/{kid}",
                     headers={**parent.headers, "X-Request-ID": "req-1"})
    (line,) = [a for a in json_logs.events("request") if a.get("request_id") == "req-1"]
    assert line["logger"] == "app.access" and line["level"] == "INFO"
    assert line["route"] == "/api/v1/viewing-time/balance/{profile_id}"
    assert line["path"] == f"/api/v1/viewing-time/balance/{kid}"
    assert line["method"] == "GET" and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["time"].endswith("+00:00")


async def test_heartbeat_processed_only_at_debug(parent, titles, json_logs):
    kid = await parent.child()
    await parent.beat(kid, titles.cartoon)
    assert json_logs.events("heartbeat_processed") == []  # INFO: not even built

    logging.getLogger("app.services.metrics").setLevel(logging.DEBUG)
    try:
        r = await parent.client.post("/api/v1/viewing-time/heartbeat",
                                     headers={**parent.headers, "X-Request-ID": "beat-2"},
                                     json={"profile_id": kid, "title_id": titles.cartoon,
                                           "device_id": "tv-1"})
    finally:
        logging.getLogger("app.services.metrics").setLevel(logging.NOTSET)
    assert r.status_code == 200
    (line,) = json_logs.events("heartbeat_processed")
    assert line["level"] == "DEBUG" and line["profile_id"] == kid
    assert line["request_id"] == "beat-2"  # ties it to its access line
    assert line["round_trips"] >= 1 and line["duration_ms"] > 0
    assert line["enforcement"] == "allowed"


async def test_config_change_logs_the_invalidation(parent, json_logs):
    kid = await parent.child()
    assert (await put_config(parent, kid, weekday_limit_minutes=60)).status_code == 200
    invalidated = json_logs.events("config_cache_invalidated")
    assert invalidated and invalidated[0]["profile_id"] == kid


def test_exceptions_are_one_line_too():
    handler_stream = io.StringIO()
    handler = logging.StreamHandler(handler_stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("tests.logging.exceptions")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            log.exception("failed %s", "here", extra={"profile_id": "p"})
    finally:
        log.removeHandler(handler)
    (line,) = handler_stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "failed here" and record["level"] == "ERROR"
    assert "ValueError: boom" in record["exception"] and record["profile_id"] == "p"


def test_logging_config_writes_json_lines_at_log_level():
    code = (
        "import logging\n"
        "from app.logs import configure_logging\n"
        "configure_logging('warning')\n"
        "logging.getLogger('app.x').info('hidden')\n"
        "logging.getLogger('app.x').warning('shown', extra={'n': 1})\n"
        "logging.getLogger('uvicorn.error').warning('from uvicorn')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["logger"], line["event"]) for line in lines] == [
        ("app.x", "shown"), ("uvicorn.error", "from uvicorn")]
    assert lines[0]["n"] == 1


def test_buffered_lines_reach_stderr_without_waiting_for_exit():
    # os._exit skips logging's shutdown flush: only the handler's own flushing can deliver.
    code = (
        "import logging, os, time\n"
        "from app.logs import configure_logging\n"
        "configure_logging('INFO')\n"
        "logging.getLogger('app.x').info('buffered')\n"
        "time.sleep(1.2)\n"
        "logging.getLogger('app.x').error('at once')\n"
        "os._exit(0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert [json.loads(line)["event"] for line in done.stderr.splitlines()] == [
        "buffered", "at once"]


def test_served_access_lines_take_the_direct_path_with_the_same_fields():
    # Served as `python -m app serve` configures it: the JSON handler alone on the root logger,
    # so the access line is written without a LogRecord (pytest's handlers would prevent it).
    code = (
        "import asyncio, logging\n"
        "from starlette.applications import Starlette\n"
        "from starlette.responses import PlainTextResponse\n"
        "from starlette.routing import Route\n"
        "from app.logs import configure_logging, direct_sink\n"
        "from app.observability import RequestObserver, access_log\n"
        "from app.services.metrics import MetricsCollector\n"
        "configure_logging('INFO')\n"
        "assert direct_sink(access_log, logging.INFO) is not None\n"
        "async def hello(request): return PlainTextResponse('hi')\n"
        "app = RequestObserver(Starlette(routes=[Route('/items/{id}', hello)]),\n"
        "                      metrics=MetricsCollector())\n"
        "async def main():\n"
        "    scope = {'type': 'http', 'method': 'GET', 'path': '/items/7', 'raw_path': b'/items/7',\n"
        "             'query_string': b'', 'root_path': '', 'scheme': 'http', 'server': None,\n"
        "             'headers': [(b'x-request-id', b'direct-1')]}\n"
        "    async def receive(): return {'type': 'http.request', 'body': b''}\n"
        "    async def send(message): pass\n"
        "    await app(scope, receive, send)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    (line,) = [json.loads(x) for x in done.stderr.splitlines()]
    assert set(line) == {"time", "level", "logger", "event", "request_id", "method", "route",
                         "path", "status", "duration_ms"}
    assert (line["logger"], line["event"], line["request_id"], line["route"], line["status"]) \
        == ("app.access", "request", "direct-1", "/items/{id}", 200)
