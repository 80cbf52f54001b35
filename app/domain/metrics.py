"""The admin's performance view (`PerformanceMetrics` in docs/api.md), as the collector computes
it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HeartbeatPerformance:
    total_processed: int
    avg_db_ops_per_heartbeat: float
    avg_duration_ms: float
    max_duration_ms: float
    p95_duration_ms: float  # over the most recent heartbeats (a bounded window)


@dataclass(frozen=True, slots=True)
class CachePerformance:
    hit_rate: float  # hits / (hits + misses), 0..1
    total_hits: int
    total_misses: int
    total_invalidations: int
    current_size: int
    max_size: int


@dataclass(frozen=True, slots=True)
class ReportPerformance:
    total_generated: int
    avg_queries_per_report: float


@dataclass(frozen=True, slots=True)
class Performance:
    uptime_seconds: float
    heartbeat: HeartbeatPerformance
    config_cache: CachePerformance
    weekly_report: ReportPerformance
