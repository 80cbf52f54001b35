"""`/metrics`: the collector's instruments plus state sampled from the config cache, the hasher
and both database pools, in Prometheus text format.

One worker (the default, and one per pod under Kubernetes): everything lives in the collector's
registry and `/metrics` shows this process. Several workers (`serve --workers N`): prometheus-
client's multiprocess mode. The CLI points PROMETHEUS_MULTIPROC_DIR at a fresh directory before
the workers start (or empties the one given); every worker writes its instruments there, samples
its gauges every second, and whichever worker answers a scrape reads all workers' files, so the
output covers the whole server. Counters are summed over workers; gauges are summed over live
workers; process_* series are not available in that mode.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)

from app.database import HotPool
from app.services.hasher import PasswordHasher
from app.services.metrics import CacheStats, MetricsCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SAMPLE_SECONDS = 1.0


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower()) or None


def _drop_empty_setting() -> None:
    # prometheus-client switches to multiprocess mode when the variable merely exists, and an
    # empty one then writes its files into the working directory: empty means unset here.
    for name in (MULTIPROC_ENV, MULTIPROC_ENV.lower()):
        if os.environ.get(name) == "":
            del os.environ[name]


def prepare_multiprocess_dir(workers: int) -> str | None:
    """Before uvicorn starts its workers: a clean directory for their metric files when there
    are several (a fresh temporary one unless PROMETHEUS_MULTIPROC_DIR names one) or when one
    is named. Workers inherit the variable."""
    _drop_empty_setting()
    path = multiprocess_dir()
    if path is None and workers <= 1:
        return None
    if path is None:
        path = tempfile.mkdtemp(prefix="vts-prometheus-")
        os.environ[MULTIPROC_ENV] = path
        atexit.register(shutil.rmtree, path, True)  # the supervisor outlives its workers
    else:
        # Files of a previous run would be summed into this one's counters.
        shutil.rmtree(path, ignore_errors=True)
        Path(path).mkdir(parents=True, exist_ok=True)
    return path


class PrometheusExporter:
    def __init__(self, *, metrics: MetricsCollector, cache: CacheStats, hasher: PasswordHasher,
                 hot_pool: HotPool, engine: Any, read_engine: Any = None,
                 multiproc_dir: str | None = None) -> None:
        self._metrics = metrics
        self._cache = cache
        self._hasher = hasher
        self._hot_pool = hot_pool
        self._engine = engine
        # DATABASE_READ_URL's engine, sampled as "orm_read"; None or the primary engine itself
        # when reads share the primary's pool.
        self._read_engine = None if read_engine is engine else read_engine
        self._dir = multiproc_dir
        m = metrics
        registry = m.registry
        if multiproc_dir is None:  # process_resident_memory_bytes, cpu seconds, open fds
            m.instrument("process", lambda: (ProcessCollector(registry=registry),
                                             PlatformCollector(registry=registry)))
        self._cache_hits = m.counter("vts_config_cache_hits", "Config cache hits")
        self._cache_misses = m.counter("vts_config_cache_misses", "Config cache misses (loads)")
        self._cache_invalidations = m.counter("vts_config_cache_invalidations",
                                              "Config cache invalidations (local and notified)")
        self._cache_size = self._gauge("vts_config_cache_size", "Profiles in the config cache")
        self._cache_max = self._gauge("vts_config_cache_max_size", "Config cache capacity")
        self._hasher_queue = self._gauge("vts_hasher_queue_depth",
                                         "bcrypt jobs queued or running on the hasher pool")
        self._pool_open = self._gauge("vts_db_pool_connections",
                                      "Open database connections by pool", ("pool",))
        self._pool_in_use = self._gauge("vts_db_pool_in_use",
                                        "Database connections checked out by pool", ("pool",))
        self._pool_max = self._gauge("vts_db_pool_max_connections",
                                     "Database pool capacity by pool", ("pool",))
        self._synced = {"hits": 0, "misses": 0, "invalidations": 0}

    def _gauge(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Any:
        # Summed over live workers in multiprocess mode (ignored with one process).
        return self._metrics.instrument(name, lambda: Gauge(
            name, documentation, labels, registry=self._metrics.registry,
            multiprocess_mode="livesum"))

    def sample(self) -> None:
        """Copy the state owned elsewhere into the instruments (at scrape and every second)."""
        cache = self._cache
        for key, counter in (("hits", self._cache_hits), ("misses", self._cache_misses),
                             ("invalidations", self._cache_invalidations)):
            value = getattr(cache, key)
            if value > self._synced[key]:
                counter.inc(value - self._synced[key])
            self._synced[key] = value
        self._cache_size.set(cache.size)
        self._cache_max.set(cache.max_size)
        self._hasher_queue.set(self._hasher.queue_depth)
        pool = self._hot_pool.pool
        if pool is not None:
            self._set_pool("hot", pool.get_size(), pool.get_size() - pool.get_idle_size(),
                           pool.get_max_size())
        for name, engine in (("orm", self._engine), ("orm_read", self._read_engine)):
            orm = getattr(engine, "pool", None)
            if orm is not None and hasattr(orm, "checkedout"):
                # No overflow (app.database._create_engine): capacity is the pool's size.
                self._set_pool(name, orm.checkedin() + orm.checkedout(), orm.checkedout(),
                               orm.size())

    def _set_pool(self, name: str, open_: int, in_use: int, capacity: int) -> None:
        self._pool_open.labels(name).set(open_)
        self._pool_in_use.labels(name).set(in_use)
        self._pool_max.labels(name).set(capacity)

    def render(self) -> tuple[bytes, str]:
        self.sample()
        if self._dir is None:
            return generate_latest(self._metrics.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self._dir)
        return generate_latest(registry), CONTENT_TYPE_LATEST

    async def sample_forever(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            self.sample()


async def init_exporter(*, metrics: MetricsCollector, cache: CacheStats, hasher: PasswordHasher,
                        hot_pool: HotPool, engine: Any,
                        read_engine: Any = None) -> AsyncIterator[PrometheusExporter]:
    """Container resource; in multiprocess mode it samples in the background (other workers'
    scrapes read this worker's files) and marks the worker dead on shutdown."""
    directory = multiprocess_dir()
    exporter = PrometheusExporter(metrics=metrics, cache=cache, hasher=hasher,
                                  hot_pool=hot_pool, engine=engine, read_engine=read_engine,
                                  multiproc_dir=directory)
    sampler = asyncio.create_task(exporter.sample_forever()) if directory else None
    try:
        yield exporter
    finally:
        if sampler is not None:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            multiprocess.mark_process_dead(os.getpid(), directory)
