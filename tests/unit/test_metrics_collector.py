"""The metrics collector's figures, and the Prometheus text `/metrics` renders from it and
from state sampled off the cache, the hasher and the pools (all fakes here)."""

from __future__ import annotations

import os
import uuid
from dataclasses import asdict, dataclass
from types import SimpleNamespace

import pytest
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.prometheus import (
    MULTIPROC_ENV,
    PrometheusExporter,
    multiprocess_dir,
    prepare_multiprocess_dir,
)
from app.services.metrics import WINDOW, MetricsCollector

PROFILE = uuid.uuid4()


@dataclass
class FakeCache:
    hits: int = 0
    misses: int = 0
    invalidations: int = 0
    size: int = 0
    max_size: int = 100


def beat(m: MetricsCollector, ms: float, trips: int = 2, enforcement: str = "allowed") -> None:
    m.heartbeat_done(duration_seconds=ms / 1000, round_trips=trips, enforcement=enforcement,
                     profile_id=PROFILE)


def samples(text: bytes) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text.decode())
            for s in family.samples}


# --- the collector -----------------------------------------------------------------------------

def test_an_idle_collector_reports_zeros_not_divisions_by_zero():
    view = MetricsCollector().performance(cache=FakeCache())
    assert asdict(view.heartbeat) == {
        "total_processed": 0, "avg_db_ops_per_heartbeat": 0.0, "avg_duration_ms": 0.0,
        "max_duration_ms": 0.0, "p95_duration_ms": 0.0}
    assert view.config_cache.hit_rate == 0.0
    assert view.weekly_report.avg_queries_per_report == 0.0


def test_heartbeat_figures_are_averages_and_maxima_in_milliseconds():
    m = MetricsCollector()
    beat(m, 1.0, trips=2)
    beat(m, 4.0, trips=3)
    beat(m, 2.5, trips=2, enforcement="warning_5")
    view = m.performance(cache=FakeCache()).heartbeat
    assert (view.total_processed, view.avg_db_ops_per_heartbeat, view.avg_duration_ms,
            view.max_duration_ms) == (3, 2.333, 2.5, 4.0)
    assert m.outcomes == {"allowed": 2, "warning_5": 1}


def test_p95_is_the_value_at_the_95th_percentile_rank():
    m = MetricsCollector()
    for ms in reversed(range(1, 101)):  # 100 beats of 1..100 ms, in any order
        beat(m, ms)
    assert m.p95_seconds() == 0.096  # sorted[int(100 * 0.95)]
    one = MetricsCollector()
    beat(one, 7)
    assert one.p95_seconds() == 0.007


def test_p95_covers_only_the_most_recent_window():
    m = MetricsCollector()
    for _ in range(WINDOW):
        beat(m, 1000)
    for _ in range(WINDOW):
        beat(m, 1)
    assert len(m.recent) == WINDOW
    assert m.p95_seconds() == 0.001
    assert m.performance(cache=FakeCache()).heartbeat.max_duration_ms == 1000.0  # all-time max


def test_a_fail_closed_heartbeat_counts_as_blocked_and_as_a_failure():
    m = MetricsCollector()
    m.heartbeat_failed()
    assert (m.heartbeat_failures, m.outcomes, m.heartbeats) == (1, {"blocked": 1}, 0)


def test_cache_and_report_figures():
    m = MetricsCollector()
    m.report_done(queries=3)
    m.report_done(queries=4)
    view = m.performance(cache=FakeCache(hits=2, misses=1, invalidations=5, size=7,
                                         max_size=10))
    assert asdict(view.config_cache) == {
        "hit_rate": 0.6667, "total_hits": 2, "total_misses": 1, "total_invalidations": 5,
        "current_size": 7, "max_size": 10}
    assert asdict(view.weekly_report) == {"total_generated": 2,
                                               "avg_queries_per_report": 3.5}


def test_an_instrument_is_made_once_per_name():
    m = MetricsCollector()
    first = m.counter("vts_test_things", "Things")
    assert m.counter("vts_test_things", "Things") is first  # no duplicate-registration error


def test_prometheus_counts_heartbeats_by_enforcement_and_round_trips():
    m = MetricsCollector()
    beat(m, 1, trips=2)
    beat(m, 1, trips=2, enforcement="blocked")
    beat(m, 1, trips=5, enforcement="blocked")
    m.heartbeat_failed()
    found = samples(generate_latest(m.registry))
    assert found[("vts_heartbeats_total", (("enforcement", "allowed"),))] == 1
    assert found[("vts_heartbeats_total", (("enforcement", "blocked"),))] == 2
    assert found[("vts_heartbeat_failures_total", ())] == 1
    assert found[("vts_heartbeat_db_round_trips_bucket", (("le", "2.0"),))] == 2
    assert found[("vts_heartbeat_db_round_trips_bucket", (("le", "4.0"),))] == 2
    assert found[("vts_heartbeat_db_round_trips_bucket", (("le", "6.0"),))] == 3
    assert found[("vts_heartbeat_db_round_trips_sum", ())] == 9


# --- the exporter ------------------------------------------------------------------------------

class FakePool:
    def get_size(self) -> int:
        return 4

    def get_idle_size(self) -> int:
        return 1

    def get_max_size(self) -> int:
        return 10


class FakeOrmPool:
    def checkedin(self) -> int:
        return 3

    def checkedout(self) -> int:
        return 2

    def size(self) -> int:
        return 8


def exporter(cache: FakeCache, *, pool=None, engine=None) -> PrometheusExporter:
    return PrometheusExporter(metrics=MetricsCollector(), cache=cache,
                              hasher=SimpleNamespace(queue_depth=3),
                              hot_pool=SimpleNamespace(pool=pool), engine=engine)


def test_a_scrape_samples_the_cache_hasher_and_both_pools():
    cache = FakeCache(hits=5, misses=2, invalidations=1, size=6, max_size=50)
    text, content_type = exporter(cache, pool=FakePool(),
                                  engine=SimpleNamespace(pool=FakeOrmPool())).render()
    assert content_type == CONTENT_TYPE_LATEST
    found = samples(text)
    assert found[("vts_config_cache_hits_total", ())] == 5
    assert found[("vts_config_cache_misses_total", ())] == 2
    assert found[("vts_config_cache_invalidations_total", ())] == 1
    assert found[("vts_config_cache_size", ())] == 6
    assert found[("vts_config_cache_max_size", ())] == 50
    assert found[("vts_hasher_queue_depth", ())] == 3
    assert [found[(name, (("pool", "hot"),))] for name in (
        "vts_db_pool_connections", "vts_db_pool_in_use", "vts_db_pool_max_connections")] \
        == [4, 3, 10]
    assert [found[(name, (("pool", "orm"),))] for name in (
        "vts_db_pool_connections", "vts_db_pool_in_use", "vts_db_pool_max_connections")] \
        == [5, 2, 8]
    assert ("process_resident_memory_bytes", ()) in found  # one process: its own figures


def test_cache_counters_follow_the_cache_and_never_go_down():
    cache = FakeCache(hits=5)
    e = exporter(cache)
    e.render()
    cache.hits = 8
    assert samples(e.render()[0])[("vts_config_cache_hits_total", ())] == 8
    cache.hits = 2  # the cache was rebuilt: its count restarts, the counter does not drop
    assert samples(e.render()[0])[("vts_config_cache_hits_total", ())] == 8
    cache.hits = 4
    assert samples(e.render()[0])[("vts_config_cache_hits_total", ())] == 10


def test_pools_not_yet_open_are_left_out():
    found = samples(exporter(FakeCache(), pool=None, engine=object()).render()[0])
    assert not [key for key in found if key[0].startswith("vts_db_pool")]


# --- multiprocess mode's directory -----------------------------------------------------------

@pytest.fixture
def no_multiproc_env(monkeypatch):
    # setenv then delenv: monkeypatch restores the variable's absence when the test ends, even
    # if the code under test set it.
    for name in (MULTIPROC_ENV, MULTIPROC_ENV.lower()):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_one_worker_needs_no_directory(no_multiproc_env):
    assert prepare_multiprocess_dir(1) is None
    assert multiprocess_dir() is None


def test_an_empty_setting_means_unset(no_multiproc_env, monkeypatch):
    monkeypatch.setenv(MULTIPROC_ENV, "")
    assert prepare_multiprocess_dir(1) is None
    assert MULTIPROC_ENV not in os.environ  # an empty value would switch the client's mode


def test_several_workers_get_a_fresh_directory_they_inherit(no_multiproc_env):
    path = prepare_multiprocess_dir(2)
    assert path is not None and os.path.isdir(path) and os.listdir(path) == []
    assert os.environ[MULTIPROC_ENV] == path == multiprocess_dir()


def test_a_named_directory_is_emptied_of_a_previous_runs_files(no_multiproc_env, monkeypatch,
                                                                 tmp_path):
    named = tmp_path / "metrics"
    named.mkdir()
    (named / "counter_123.db").write_bytes(b"old")
    monkeypatch.setenv(MULTIPROC_ENV.lower(), str(named))
    assert prepare_multiprocess_dir(1) == str(named)
    assert list(named.iterdir()) == []
