"""The metrics collector: plain counters and a bounded latency window, no HTTP knowledge."""

from __future__ import annotations

import time
import uuid
from collections import deque

WINDOW = 10_000  # p95 over the most recent heartbeats: bounded memory at any load


class MetricsCollector:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.heartbeats = 0
        self.heartbeat_failures = 0
        self.round_trips = 0
        self.duration_total = 0.0
        self.duration_max = 0.0
        self.recent: deque[float] = deque(maxlen=WINDOW)
        self.outcomes: dict[str, int] = {}
        self.reports = 0
        self.report_queries = 0

    def heartbeat_done(self, *, duration_seconds: float, round_trips: int, enforcement: str,
                       profile_id: uuid.UUID) -> None:
        self.heartbeats += 1
        self.round_trips += round_trips
        self.duration_total += duration_seconds
        self.duration_max = max(self.duration_max, duration_seconds)
        self.recent.append(duration_seconds)
        self.outcomes[enforcement] = self.outcomes.get(enforcement, 0) + 1

    def heartbeat_failed(self) -> None:
        self.heartbeat_failures += 1
        self.outcomes["blocked"] = self.outcomes.get("blocked", 0) + 1

    def report_done(self, *, queries: int) -> None:
        self.reports += 1
        self.report_queries += queries

    def p95_seconds(self) -> float:
        if not self.recent:
            return 0.0
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
