"""`serve --workers N`: every worker's metrics reach `/metrics`, whichever worker answers.

Workers are separate processes here too (prometheus-client picks its multiprocess mode at
import time, from PROMETHEUS_MULTIPROC_DIR): two "workers" record heartbeats and exit, a third
renders what a scrape would show.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from app.prometheus import MULTIPROC_ENV, prepare_multiprocess_dir

WORKER = """
import asyncio, sys, uuid
from types import SimpleNamespace
from app.prometheus import init_exporter
from app.services.metrics import MetricsCollector

beats, live = int(sys.argv[1]), sys.argv[2] == "live"
cache = SimpleNamespace(hits=beats, misses=1, invalidations=0, size=1, max_size=10)
pool = SimpleNamespace(pool=None)

async def main():
    metrics = MetricsCollector()
    for _ in range(beats):
        metrics.heartbeat_done(duration_seconds=0.002, round_trips=1, enforcement="allowed",
                               profile_id=uuid.uuid4())
    exporter_resource = init_exporter(metrics=metrics, cache=cache,
                                      hasher=SimpleNamespace(queue_depth=2), hot_pool=pool,
                                      engine=None)
    exporter = await exporter_resource.__anext__()
    exporter.sample()
    if live:  # stays up: its scrape shows every worker
        sys.stdout.write(exporter.render()[0].decode())
    else:  # shuts down like a worker leaving: live gauges forget it, counters stay
        await exporter_resource.aclose()

asyncio.run(main())
"""


def run_worker(directory: Path, beats: int, mode: str) -> str:
    env = {**os.environ, MULTIPROC_ENV: str(directory)}
    done = subprocess.run([sys.executable, "-c", WORKER, str(beats), mode], env=env,
                          capture_output=True, text=True, check=True, cwd=Path.cwd())
    return done.stdout


def value(text: str, family: str, sample: str) -> float:
    for f in text_string_to_metric_families(text):
        if f.name == family:
            return sum(s.value for s in f.samples if s.name == sample)
    raise AssertionError(f"{family} missing")


def test_scrape_sums_every_worker(tmp_path):
    run_worker(tmp_path, 3, "exit")
    text = run_worker(tmp_path, 4, "live")
    assert value(text, "vts_heartbeats", "vts_heartbeats_total") == 7
    assert value(text, "vts_heartbeat_db_round_trips", "vts_heartbeat_db_round_trips_count") == 7
    assert value(text, "vts_config_cache_hits", "vts_config_cache_hits_total") == 7
    # Gauges count live workers only: the one that exited no longer adds its queue.
    assert value(text, "vts_hasher_queue_depth", "vts_hasher_queue_depth") == 2


def test_serve_prepares_a_clean_directory(tmp_path, monkeypatch):
    monkeypatch.setenv(MULTIPROC_ENV, "")  # restored after the test
    assert prepare_multiprocess_dir(1) is None  # one worker: plain in-process registry
    assert MULTIPROC_ENV not in os.environ  # empty would still switch prometheus-client over
    fresh = prepare_multiprocess_dir(2)
    assert fresh is not None and Path(fresh).is_dir() and os.environ[MULTIPROC_ENV] == fresh
    shutil.rmtree(fresh)
    stale = tmp_path / "counter_123.db"
    stale.write_bytes(b"old")
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    assert prepare_multiprocess_dir(4) == str(tmp_path)
    assert not stale.exists()  # last run's counters would be summed into this run's
