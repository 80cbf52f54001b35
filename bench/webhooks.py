"""`bench --webhooks`: every account subscribed to a receiver on 127.0.0.1, children crossing
the 15-minute warning while the heartbeat is measured, and how long delivery takes.

The receiver runs in a thread of the bench process (wrk runs block the bench's event loop) and
answers 204 at once. A delivery's latency is from the event's `timestamp` (the instant of the
heartbeat that crossed) to the moment the receiver read the request: the statement, the
worker's poll, signing and the POST. Both clocks are this machine's.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import statistics
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import asyncpg
from app.domain.schedules import WEEKDAYS
from app.domain.viewing_day import DayRule
from app.domain.webhooks import EVENT_TYPES

WARNING_SECONDS = 15 * 60


class _Server(ThreadingHTTPServer):
    # A worker posts a batch at once: the default listen backlog (5) would refuse most of it,
    # and the refused deliveries would wait for their retry.
    request_queue_size = 256


class Receiver:
    """An HTTP endpoint that records each delivery's latency and type."""

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.types: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = datetime.now(UTC)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(204)
                self.end_headers()
                receiver.record(json.loads(body), arrived)

            def log_message(self, *args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def record(self, event: dict[str, object], arrived: datetime) -> None:
        sent = datetime.fromisoformat(str(event["timestamp"]))
        with self._lock:
            self.latencies_ms.append((arrived - sent).total_seconds() * 1000)
            self.types[str(event["type"])] = self.types.get(str(event["type"]), 0) + 1

    def take(self) -> tuple[list[float], dict[str, int]]:
        with self._lock:
            taken = self.latencies_ms, self.types
            self.latencies_ms, self.types = [], {}
        return taken

    def close(self) -> None:
        self._server.shutdown()


async def subscribe_all(conn: asyncpg.Connection, accounts: list[uuid.UUID], url: str) -> None:
    """One subscription to every event type per account, written straight in SQL."""
    now = datetime.now(UTC)
    await conn.copy_records_to_table(
        "webhook_subscriptions",
        records=[(uuid.uuid4(), a, url, list(EVENT_TYPES),
                  "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(), now)
                 for a in accounts],
        columns=["id", "account_id", "url", "events", "secret", "created_at"])


async def prime_crossings(conn: asyncpg.Connection, profiles: list[uuid.UUID], *,
                          share: float, within: float) -> int:
    """Leave `share` of the children between 15 minutes and 15 minutes + `within` seconds of
    their day's time, so each crosses the 15-minute warning once during the next `within`
    seconds (a beat charges the wall time since the last); the marks of earlier runs go."""
    await conn.execute("DELETE FROM threshold_marks")
    chosen = random.Random(len(profiles)).sample(profiles, round(len(profiles) * share))
    configs = await conn.fetch(
        "SELECT profile_id, timezone, reset_hour, weekday_limit_minutes, day_limits "
        "FROM viewing_time_configs WHERE profile_id = ANY($1::uuid[])", chosen)
    now = datetime.now(UTC)
    rows = []
    for c in configs:
        day = DayRule(ZoneInfo(c["timezone"]), c["reset_hour"]).day_of(now)
        limits = json.loads(c["day_limits"]) if c["day_limits"] else None
        limit = limits[WEEKDAYS[day.weekday()]] if limits else c["weekday_limit_minutes"]
        rows.append((c["profile_id"], day,
                     limit * 60 - WARNING_SECONDS - random.uniform(1, within)))
    await conn.executemany(
        """INSERT INTO daily_balances AS d (profile_id, reset_date, used_seconds, updated_at)
           VALUES ($1, $2, $3, now())
           ON CONFLICT (profile_id, reset_date) DO UPDATE SET used_seconds = excluded.used_seconds,
                  granted_seconds = 0, is_unlimited_override = false""", rows)
    return len(rows)


def latency_line(latencies_ms: list[float], types: dict[str, int], primed: int) -> str:
    if len(latencies_ms) < 2:
        return (f"webhooks: {len(latencies_ms)} deliveries received for {primed:,} crossings "
                "of the 15-minute warning primed over the runs (is the delivery worker running?)")
    q = statistics.quantiles(latencies_ms, n=100)
    kinds = ", ".join(f"{n:,} {t}" for t, n in sorted(types.items()))
    return (f"webhooks: {len(latencies_ms):,} deliveries ({kinds}) for {primed:,} crossings "
            f"of the 15-minute warning primed over the runs; delivery latency p50 "
            f"{statistics.median(latencies_ms):.0f} ms, p99 {q[98]:.0f} ms (event timestamp "
            "to the receiver)")
