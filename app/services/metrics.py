"""The metrics collector: counters, a bounded latency window and Prometheus instruments.

It knows what the service does (heartbeats, their round trips and outcomes, weekly reports),
not how it is served: the HTTP layer reads it for `/api/v1/admin/metrics` and `/metrics`.
Recording a heartbeat costs a few µs: plain counters, one deque append, two Prometheus updates
(label children cached) and a debug-level log line that is skipped unless LOG_LEVEL=DEBUG.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from app.domain.metrics import (
    CachePerformance,
    HeartbeatPerformance,
    Performance,
    ReportPerformance,
)

log = logging.getLogger(__name__)

WINDOW = 10_000  # p95 over the most recent heartbeats: bounded memory at any load
ROUND_TRIP_BUCKETS = (1, 2, 3, 4, 6, 10)


class CacheStats(Protocol):
    """What the config cache exposes (app.services.config_cache.ConfigProvider)."""

    hits: int
    misses: int
    invalidations: int

    @property
    def size(self) -> int: ...

    @property
    def max_size(self) -> int: ...


class MetricsCollector:
    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
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
        self._instruments: dict[str, Any] = {}
        self._beats = self.counter("vts_heartbeats", "Heartbeats answered, by enforcement state",
                                   ("enforcement",))
        self._beats_by_outcome: dict[str, Any] = {}
        self._failures = self.counter("vts_heartbeat_failures",
                                      "Heartbeats answered 503 fail-closed (check not done)")
        self._round_trips = self.histogram("vts_heartbeat_db_round_trips",
                                           "Database round trips per heartbeat",
                                           buckets=ROUND_TRIP_BUCKETS)
        self._reports = self.counter("vts_weekly_reports", "Weekly reports generated")
        self._report_queries = self.counter("vts_weekly_report_queries",
                                            "Database queries run by weekly reports")
        self._requests_made = self.counter("vts_time_requests", "Time requests made")
        self._requests_closed = self.counter(
            "vts_time_requests_closed", "Time requests closed, by outcome", ("outcome",))

    # Instruments are created once per collector: one app or several over the same container.
    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Any:
        return self.instrument(name, lambda: Counter(name, documentation, labels,
                                                      registry=self.registry))

    def histogram(self, name: str, documentation: str, labels: Sequence[str] = (), *,
                  buckets: Sequence[float]) -> Any:
        return self.instrument(name, lambda: Histogram(name, documentation, labels,
                                                        buckets=buckets, registry=self.registry))

    def instrument(self, name: str, make: Callable[[], Any]) -> Any:
        """The instrument registered under `name`, made by `make()` the first time."""
        if name not in self._instruments:
            self._instruments[name] = make()
        return self._instruments[name]

    def heartbeat_done(self, *, duration_seconds: float, round_trips: int, enforcement: str,
                       profile_id: uuid.UUID) -> None:
        self.heartbeats += 1
        self.round_trips += round_trips
        self.duration_total += duration_seconds
        if duration_seconds > self.duration_max:
            self.duration_max = duration_seconds
        self.recent.append(duration_seconds)
        self.outcomes[enforcement] = self.outcomes.get(enforcement, 0) + 1
        beats = self._beats_by_outcome.get(enforcement)
        if beats is None:
            beats = self._beats_by_outcome[enforcement] = self._beats.labels(enforcement)
        beats.inc()
        self._round_trips.observe(round_trips)
        if log.isEnabledFor(logging.DEBUG):  # one cached level check at INFO: no record built
            log.debug("heartbeat_processed", extra={
                "profile_id": str(profile_id), "round_trips": round_trips,
                "duration_ms": round(duration_seconds * 1000, 3), "enforcement": enforcement})

    def heartbeat_failed(self) -> None:
        self.heartbeat_failures += 1
        self.outcomes["blocked"] = self.outcomes.get("blocked", 0) + 1
        self._failures.inc()

    def report_done(self, *, queries: int) -> None:
        self.reports += 1
        self.report_queries += queries
        self._reports.inc()
        self._report_queries.inc(queries)

    def time_request_made(self) -> None:
        self._requests_made.inc()

    def time_request_closed(self, outcome: str) -> None:
        """`outcome`: approved, denied or expired."""
        self._requests_closed.labels(outcome).inc()

    def p95_seconds(self) -> float:
        if not self.recent:
            return 0.0
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]

    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started

    def performance(self, *, cache: CacheStats) -> Performance:
        """The admin view (`PerformanceMetrics` in docs/api.md)."""
        beats = self.heartbeats
        lookups = cache.hits + cache.misses
        return Performance(
            uptime_seconds=round(self.uptime_seconds(), 3),
            heartbeat=HeartbeatPerformance(
                total_processed=beats,
                avg_db_ops_per_heartbeat=round(self.round_trips / beats, 3) if beats else 0.0,
                avg_duration_ms=round(self.duration_total / beats * 1000, 3) if beats else 0.0,
                max_duration_ms=round(self.duration_max * 1000, 3),
                p95_duration_ms=round(self.p95_seconds() * 1000, 3),
            ),
            config_cache=CachePerformance(
                hit_rate=round(cache.hits / lookups, 4) if lookups else 0.0,
                total_hits=cache.hits, total_misses=cache.misses,
                total_invalidations=cache.invalidations,
                current_size=cache.size, max_size=cache.max_size,
            ),
            weekly_report=ReportPerformance(
                total_generated=self.reports,
                avg_queries_per_report=round(self.report_queries / self.reports, 3)
                if self.reports else 0.0,
            ),
        )
