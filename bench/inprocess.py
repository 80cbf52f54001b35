"""The service's own CPU per continuing heartbeat, in process: the ASGI app called directly
(no HTTP server, no client), on a real database, with the garbage collector's share apart.

    python -m bench.inprocess            # the collector as the tests leave it (CPython's default)
    python -m bench.inprocess --served   # as a served process runs it (app/gc_tuning.py)

Steadier than the HTTP benchmark for a change inside the app (the load generator and the HTTP
server's own work are not in it), so a small step shows; it is not a throughput figure. Each
round beats every profile once, concurrently, 30 s of frozen time after the last; the first
rounds warm the caches and are left out. Uses the test suite's app factory and database helpers
(DATABASE_URL's server, else the embedded one).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import uvloop
from app.gc_tuning import tune_for_serving
from app.services.clock import FrozenClock
from starlette.types import ASGIApp
from tests.support import api
from tests.support.apps import QUIET_BACKGROUND, running_app
from tests.support.db import scratch_database

PATH = "/api/v1/viewing-time/heartbeat"
WARM_ROUNDS = 4


async def _beat(app: ASGIApp, headers: list[tuple[bytes, bytes]],
                body: dict[str, Any]) -> tuple[int, bytes]:
    raw = orjson.dumps(body)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": PATH, "raw_path": PATH.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 40000),
             "server": ("127.0.0.1", 8000),
             "headers": [*headers, (b"content-type", b"application/json"),
                         (b"content-length", str(len(raw)).encode())]}
    messages: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await asyncio.Event().wait()  # no disconnect while the app runs
        delivered = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages[0]["status"], messages[1]["body"]


class CollectorTime:
    """CPU time spent inside the cyclic garbage collector (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started


async def measure(url: str, *, profiles: int, rounds: int, served: bool) -> None:
    clock = FrozenClock(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))
    async with running_app(url, clock, log_level="WARNING", **QUIET_BACKGROUND) as running:
        parent = await api.signed_up(running.client, "inprocess@example.com")
        titles = await api.seed_titles(running.container)
        kids = [await parent.child(f"Kid {i}") for i in range(profiles)]
        headers = [(b"authorization", parent.headers["Authorization"].encode())]
        bodies = {kid: {"profile_id": kid, "title_id": titles.cartoon, "device_id": "tv"}
                  for kid in kids}
        for kid in kids:
            _, answer = await _beat(running.app, headers, bodies[kid])
            bodies[kid]["session_id"] = orjson.loads(answer)["session_id"]
        if served:
            tune_for_serving()
        collector = CollectorTime()
        per_beat: list[float] = []
        for round_ in range(rounds):
            clock.advance(30)
            if round_ == WARM_ROUNDS:
                collector.seconds = 0.0
            started = time.process_time()
            answers = await asyncio.gather(*(_beat(running.app, headers, bodies[kid])
                                             for kid in kids))
            per_beat.append((time.process_time() - started) / profiles * 1e6)
            assert all(status == 200 for status, _ in answers), answers[0]
        measured = per_beat[WARM_ROUNDS:]
        beats = len(measured) * profiles
        print(f"service CPU per heartbeat, in process ({'served' if served else 'default'} "
              f"collector settings, {profiles} profiles x {len(measured)} rounds): "
              f"median {statistics.median(measured):.0f} µs, min {min(measured):.0f} µs; "
              f"garbage collector {collector.seconds / beats * 1e6:.0f} µs per heartbeat")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--served", action="store_true",
                   help="the collector as app/asgi.py sets it for a served process")
    p.add_argument("--profiles", type=int, default=200)
    p.add_argument("--rounds", type=int, default=40)
    args = p.parse_args()
    with scratch_database(migrated=True) as url:
        uvloop.run(measure(url, profiles=args.profiles, rounds=args.rounds, served=args.served))


if __name__ == "__main__":
    main()
