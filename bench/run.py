"""`make bench`: the service against the one-round-trip ceiling, same load, same run.

    python -m bench.run [--duration 15] [--rounds 3] [--scenarios steady,pin,report]
    python -m bench.run --scenarios memory          # make bench-memory (slow: 1,000,000 beats)
    python -m bench.run --scenarios soak            # make bench-soak (30 minutes of heartbeats)

Creates a scratch database on BENCH_DATABASE_URL's server (else DATABASE_URL's, else
postgres@127.0.0.1:5432, else the embedded one), migrates and seeds it, then runs each target
as its own uvicorn process (1 worker, uvloop + httptools) under the same wrk load, interleaved
round by round, and prints one table. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

from bench import history, seed, soak, tools, webhooks
from bench.tools import BenchError, Load, Server

SECRET = "bench-jwt-secret-" + "0123456789abcdef" * 2
HEARTBEAT = "/api/v1/viewing-time/heartbeat"
PC = "/api/v1/parental-controls"
SCENARIOS = ("steady", "pin", "report", "memory", "soak")
DEFAULT_SCENARIOS = "steady,pin,report"
# The targets, each judged against the ceiling in the same run (bench/README.md).
RATIO_TARGET, RATIO_AIM = 0.65, 0.75  # heartbeat/ceiling req/s, 1 worker and 2 workers alike
CPU_TARGET = 1.6  # the service's CPU per heartbeat, × the ceiling's per request
DB_CPU_TARGET = 2.0  # PostgreSQL's CPU per heartbeat, × the ceiling's per request


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, f"/{name}", parts.query, ""))


async def _server_url() -> str:
    for url in (os.environ.get("BENCH_DATABASE_URL"), os.environ.get("DATABASE_URL"),
                "postgresql://postgres@127.0.0.1:5432/postgres"):
        if not url:
            continue
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncio.TimeoutError):
            conn = await asyncpg.connect(_with_database(url, "postgres"), timeout=3)
            await conn.close()
            return _with_database(url, "postgres")
    from app import embedded_db

    return embedded_db.start("bench")


def _get_json(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return orjson.loads(response.read())


def _post(url: str, token: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(url, data=orjson.dumps(body), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


class Bench:
    def __init__(self, args: argparse.Namespace, *, wrk: str, db_url: str,
                 conn: asyncpg.Connection, workdir: Path) -> None:
        self.args = args
        self.wrk = wrk
        self.db_url = db_url
        self.db_name = urlsplit(db_url).path.lstrip("/")
        self.conn = conn
        self.workdir = workdir
        self.lines: list[str] = []
        self.viewers: list[seed.Viewer] = []
        self.data_file = workdir / "viewers.txt"
        self.admin_token = ""
        self.profile: str | None = None
        self.hot_updates: list[tuple[str, int, int]] = []
        self.receiver: webhooks.Receiver | None = None
        self.deliveries: tuple[list[float], dict[str, int], int] = ([], {}, 0)

    # --- processes ---------------------------------------------------------------------------

    def service(self, *, log_level: str = "INFO", name: str = "service", workers: int = 1,
                **env: str) -> Server:
        server = Server(name, [tools.python(), "-m", "app", "serve", "--host", "127.0.0.1",
                               "--port", str(port := tools.free_port()),
                               "--workers", str(workers)],
                        port=port, log_dir=self.workdir, workers=workers, env={
                            "DATABASE_URL": self.db_url, "JWT_SECRET": SECRET,
                            "LOG_LEVEL": log_level, "DB_POOL_SIZE": str(self.args.pool),
                            # Sessions stay open between rounds; no background sweeps.
                            "SWEEP_INTERVAL_SECONDS": "3600", "STALE_GAP_SECONDS": "3600",
                            # --webhooks: the receiver is on 127.0.0.1, over plain http
                            "WEBHOOK_ALLOW_PRIVATE": "true" if self.receiver else "false",
                            **env})
        server.wait_ready("/readyz")
        return server

    def ceiling(self, workers: int = 1) -> Server:
        server = Server("ceiling", [tools.python(), "-m", "uvicorn", "bench.yardstick:app",
                                    "--host", "127.0.0.1", "--port", str(port := tools.free_port()),
                                    "--workers", str(workers), "--loop", "uvloop", "--http",
                                    "httptools", "--no-access-log", "--log-level", "warning"],
                        port=port, log_dir=self.workdir, workers=workers,
                        env={"DATABASE_URL": self.db_url, "DB_POOL_SIZE": str(self.args.pool)})
        server.wait_ready("/nodb", method="POST", body=b'{"profile_id": "x"}')
        return server

    def load(self, server: Server, path: str, seconds: float) -> Load:
        cpu = server.cpu_seconds()
        db_cpu = tools.backend_cpu(self.db_name)
        load = tools.run_wrk(self.wrk, server.url, script="heartbeat.lua",
                             args=[str(self.data_file), path, str(self.args.threads)],
                             seconds=seconds, connections=self.args.connections,
                             threads=self.args.threads)
        requests = max(load.requests, 1)
        load.cpu_us = (server.cpu_seconds() - cpu) / requests * 1e6
        load.db_cpu_us = tools.backend_cpu_since(db_cpu, self.db_name) / requests * 1e6
        return load

    def measure(self, server: Server, path: str) -> Load:
        self.load(server, path, self.args.warmup)
        return self.load(server, path, self.args.duration)

    def warm_up(self, server: Server) -> None:
        """Until every profile's config and token are cached: measured beats are all warm.
        Each pass lasts long enough for every wrk thread to go round all its viewers once."""
        seconds, size = self.args.warmup, -1
        for _ in range(10):
            load = self.load(server, HEARTBEAT, seconds)
            cached, capacity = self.cache_fill(server)
            wanted = server.workers * min(len(self.viewers), capacity)
            if cached >= wanted:
                return
            if cached <= size:  # no longer growing (TTL expiry keeps pace)
                print(f"  warm-up: {cached:,} of {wanted:,} configs cached", flush=True)
                return
            size = cached
            seconds = max(seconds, 1.3 * len(self.viewers) / max(load.rps, 1) + 1)
        raise BenchError("the config cache never held every profile (CONFIG_CACHE_MAX_SIZE?)")

    def admin(self, server: Server) -> dict[str, Any]:
        """The admin metrics of whichever worker answers (with one worker: the service's)."""
        return _get_json(server.url + "/api/v1/admin/metrics", self.admin_token)

    def cache_fill(self, server: Server) -> tuple[int, int]:
        """(configs cached, one worker's capacity). Several workers each have their own cache
        and the admin metrics are one worker's, so then the cache sizes come from /metrics,
        where prometheus-client's multiprocess mode sums them over the live workers."""
        if server.workers == 1:
            cache = self.admin(server)["config_cache"]
            return int(cache["current_size"]), int(cache["max_size"])
        with urllib.request.urlopen(server.url + "/metrics", timeout=30) as response:
            lines = response.read().decode().splitlines()
        gauges = {name: float(value) for name, _, value in
                  (line.partition(" ") for line in lines if not line.startswith("#"))
                  if name in ("vts_config_cache_size", "vts_config_cache_max_size")}
        return (int(gauges.get("vts_config_cache_size", 0)),
                int(gauges.get("vts_config_cache_max_size", 0)) // server.workers)

    # --- scenarios ---------------------------------------------------------------------------

    async def setup(self) -> None:
        self.viewers = await seed.seed_viewers(self.conn, profiles=self.args.profiles,
                                               per_account=2, secret=SECRET,
                                               device_tokens=self.args.device_tokens,
                                               schedules=self.args.schedules)
        seed.write_wrk_data(self.viewers, self.data_file)
        self.admin_token = await seed.seed_admin(self.conn, secret=SECRET)
        self.counter = await tools.StatementCounter.open(self.conn)
        if self.args.webhooks:
            self.receiver = webhooks.Receiver()
            await webhooks.subscribe_all(self.conn, list(dict.fromkeys(
                v.account_id for v in self.viewers)), self.receiver.url)

    async def service_run(self, log_level: str, *, count: bool,
                          workers: int = 1) -> tuple[Load, dict[str, Any]]:
        """One measured run of a fresh service. With several workers nothing of the admin
        metrics is kept: each answer is one worker's."""
        await seed.refresh_sessions(self.conn, self.viewers)
        server = self.service(log_level=log_level, workers=workers)
        try:
            self.warm_up(server)
            if workers > 1:
                return self.load(server, HEARTBEAT, self.args.duration), {}
            primed = await self.prime_crossings()
            before = self.admin(server)
            if count:
                await self.counter.start()
            load = self.load(server, HEARTBEAT, self.args.duration)
            if self.receiver:
                self.collect_deliveries(primed)
            extra: dict[str, Any] = {"before": before}
            if count:
                extra["statements"] = await self.counter.stop()
            extra["after"] = self.admin(server)
        finally:
            server.stop()
        return load, extra

    async def prime_crossings(self) -> int:
        """--webhooks: `--crossing-share` of the children cross the 15-minute warning during
        the measured run (deliveries of the warm-up are not counted)."""
        if not self.receiver:
            return 0
        primed = await webhooks.prime_crossings(self.conn, [v.profile_id for v in self.viewers],
                                                share=self.args.crossing_share,
                                                within=self.args.duration)
        self.receiver.take()
        return primed

    def collect_deliveries(self, primed: int) -> None:
        assert self.receiver
        time.sleep(3)  # the last crossings' deliveries are on their way
        latencies, types = self.receiver.take()
        total, kinds, count = self.deliveries
        for kind, n in types.items():
            kinds[kind] = kinds.get(kind, 0) + n
        self.deliveries = (total + latencies, kinds, count + primed)

    async def py_spy(self) -> str:
        """A separate run under py-spy (sampling slows the target: not in the table)."""
        spy = Path(tools.python()).with_name("py-spy")
        if not spy.exists():
            return "py-spy is not installed in the virtual environment (pip install py-spy)"
        raw = self.workdir / "heartbeat-profile.raw"
        await seed.refresh_sessions(self.conn, self.viewers)
        server = self.service()
        try:
            self.warm_up(server)
            recorder = subprocess.Popen(
                [str(spy), "record", "-p", str(server.pid), "-d", str(int(self.args.duration)),
                 "-r", "250", "-f", "raw", "-o", str(raw)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.load(server, HEARTBEAT, self.args.duration + 1)
            recorder.wait(timeout=120)
        finally:
            server.stop()
        from bench.profile import summarise

        return summarise(raw, top=30) if raw.exists() else "py-spy recorded nothing"

    def ceiling_run(self, path: str = "/heartbeat", workers: int = 1) -> Load:
        server = self.ceiling(workers)
        try:
            return self.measure(server, path)
        finally:
            server.stop()

    def round_order(self, r: int) -> list[str]:
        """Targets of round r: service and ceiling swap places each round, so neither always
        runs first after a pause; the 2-worker pair likewise, in the first --workers-rounds
        rounds (each pair is two more starts, warm-ups and runs: in all three rounds they would
        take `make bench` well past the 9 minutes it took without them)."""
        order = ["service", "ceiling", "quiet"] if r % 2 == 0 else ["ceiling", "service", "quiet"]
        if self.args.workers_row and r < self.args.workers_rounds:
            order += ["service2", "ceiling2"] if r % 2 == 0 else ["ceiling2", "service2"]
        return order

    async def run_target(self, target: str, r: int) -> tuple[Load, dict[str, Any]]:
        """One server start and measured run of `target` (names as in `round_order`)."""
        if target.startswith("ceiling"):
            return self.ceiling_run(workers=2 if target == "ceiling2" else 1), {}
        if target == "service2":
            return await self.service_run("INFO", count=False, workers=2)
        return await self.service_run("INFO" if target == "service" else "WARNING",
                                      count=r == 0 and target == "service")

    @staticmethod
    def count_cache(cache: dict[str, int], extra: dict[str, Any]) -> None:
        """Add one run's config-cache hits and misses, heartbeats and round trips (from the
        admin metrics before and after it) to `cache`."""
        b, a = extra["before"], extra["after"]
        cache["hits"] += a["config_cache"]["total_hits"] - b["config_cache"]["total_hits"]
        cache["misses"] += a["config_cache"]["total_misses"] - b["config_cache"]["total_misses"]
        cache["beats"] += a["heartbeat"]["total_processed"] - b["heartbeat"]["total_processed"]
        cache["trips"] += round(a["heartbeat"]["avg_db_ops_per_heartbeat"]
                                * a["heartbeat"]["total_processed"]
                                - b["heartbeat"]["avg_db_ops_per_heartbeat"]
                                * b["heartbeat"]["total_processed"])

    async def steady(self) -> None:
        runs: dict[str, list[Load]] = {"service": [], "ceiling": [], "quiet": [], "service2": [],
                                       "ceiling2": []}
        ratios: dict[str, list[float]] = {"service": [], "service2": []}
        counted: dict[str, Any] = {}
        cache = {"hits": 0, "misses": 0, "beats": 0, "trips": 0}
        for r in range(self.args.rounds):
            for target in self.round_order(r):
                print(f"  round {r + 1}/{self.args.rounds}: {target} …", flush=True)
                load, extra = await self.run_target(target, r)
                runs[target].append(load)
                counted.update({k: v for k, v in extra.items() if k == "statements"})
                if "before" in extra:
                    self.count_cache(cache, extra)
            for target, ceiling in (("service", "ceiling"), ("service2", "ceiling2")):
                if len(runs[target]) > r:
                    ratios[target].append(runs[target][-1].rps / runs[ceiling][-1].rps)
        self.hot_updates = [(r["relname"], r["n_tup_upd"], r["n_tup_hot_upd"]) for r in
                            await self.conn.fetch(
            "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname IN "
            "('viewing_sessions', 'daily_balances', 'bench_ceiling_balances') ORDER BY relname")]
        print("  ceiling without the database …", flush=True)
        nodb = self.ceiling_run("/nodb")
        self.report_steady(runs, ratios, nodb, counted, cache)
        if self.args.profile:
            print("  profiling the service …", flush=True)
            self.profile = await self.py_spy()

    def report_steady(self, runs: dict[str, list[Load]], ratios: dict[str, list[float]],
                      nodb: Load, counted: dict[str, Any], cache: dict[str, int]) -> None:
        rows = [("heartbeat: the service (LOG_LEVEL=INFO)", runs["service"]),
                ("ceiling: bench/yardstick.py, 1 upsert", runs["ceiling"]),
                ("heartbeat, no access log (LOG_LEVEL=WARNING)", runs["quiet"]),
                ("heartbeat, 2 workers", runs["service2"]),
                ("ceiling, 2 workers", runs["ceiling2"]),
                ("ceiling without the database (1 run)", [nodb])]
        out = self.lines
        out.append(f"{'run':<46}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'CPU µs/req':>11}"
                   f"{'PG µs/req':>10}{'errors':>7}   req/s per round")
        for label, loads in filter(lambda row: row[1], rows):
            rps, p50, p99, cpu, db_cpu = (median_of(loads, attr) for attr in (
                "rps", "p50_ms", "p99_ms", "cpu_us", "db_cpu_us"))
            out.append(f"{label:<46}{rps:>7,.0f}{p50:>8.1f}{p99:>8.1f}{cpu:>11.0f}{db_cpu:>10.0f}"
                       f"{sum(x.errors for x in loads):>7}   "
                       + " ".join(f"{x.rps:,.0f}" for x in loads))
        out.append("(CPU µs/req: the server's processes, every worker summed; PG µs/req: its "
                   "PostgreSQL backends; both per request, steadier than req/s on a shared "
                   "machine)")
        p50 = median_of(runs["service"], "p50_ms") / median_of(runs["ceiling"], "p50_ms")
        out.append("")
        out.append(ratio_line("heartbeat/ceiling req/s", ratios["service"]))
        out.append(f"heartbeat p50 / ceiling p50: {p50:.2f} (target <= 2)")
        out += cpu_lines(runs["service"], runs["ceiling"])
        if ratios["service2"]:
            out.append(ratio_line("2-worker heartbeat/ceiling req/s", ratios["service2"]))
            out += cpu_lines(runs["service2"], runs["ceiling2"], "2 workers: ")
        info, quiet = median_of(runs["service"], "rps"), median_of(runs["quiet"], "rps")
        line_cpu = median_of(runs["service"], "cpu_us") - median_of(runs["quiet"], "cpu_us")
        out.append(f"access log line: {quiet / info - 1:+.1%} req/s without it; "
                   f"{line_cpu:.0f} µs CPU per request")
        if "statements" in counted:
            statements, top = counted["statements"]
            beats = runs["service"][0].requests
            out.append(f"statements per continuing heartbeat: {statements / beats:.3f} "
                       f"({statements:,} {self.counter.source} / {beats:,} heartbeats, round 1)")
            if self.receiver:
                out.append("  (with --webhooks the delivery worker's own statements are "
                           "counted too; the service's own count below is the heartbeat's)")
            if not self.counter.pgss:
                out.append("  (pg_stat_statements is not in shared_preload_libraries on this "
                           "server: transactions counted instead; each autocommit statement is "
                           "one, BEGIN/COMMIT would not show)")
            for calls, query in top:
                out.append(f"  {calls:>9,}  {' '.join(query.split())[:90]}")
        for name, updates, hot in self.hot_updates:
            out.append(f"{name}: {updates:,} row updates, {hot / max(updates, 1):.0%} HOT "
                       "(an update that changes an indexed column also writes every index)")
        if self.receiver:
            out.append(webhooks.latency_line(*self.deliveries))
        if cache["beats"]:
            lookups = cache["hits"] + cache["misses"]
            out.append(f"service's own count: {cache['trips'] / cache['beats']:.3f} db round "
                       f"trips per heartbeat; config cache hit rate "
                       f"{cache['hits'] / max(lookups, 1):.2%} (after warm-up)")

    async def pin(self) -> None:
        """Heartbeats with and without 20 PIN checks in flight (bcrypt on the hasher pool).

        Closed loop (wrk) shows the throughput cost; the p99 target is judged at a steady open-
        loop rate (`loadtest`, half the closed-loop rate), where p99 is not queueing noise.
        """
        # Named as loadtest's own profiles, so the steady-rate runs use these seeded children.
        token, kids = await seed.seed_family(self.conn, children=512, secret=SECRET,
                                             prefix="pin-load", name="loadtest-{}")
        server = self.service()
        try:
            if _post(server.url + f"{PC}/pin", self.viewers[0].token, {"new_pin": "1234"}) \
                    == 404:
                self.lines.append("PIN scenario skipped: /api/v1/parental-controls/pin is "
                                  "not served")
                return
            accounts = list(dict.fromkeys(v.token for v in self.viewers))[1:20]
            for account in accounts:  # the hasher is one thread: about 0.3 s each
                _post(server.url + f"{PC}/pin", account, {"new_pin": "1234"})
            tokens = self.workdir / "pin-tokens.txt"
            tokens.write_text("\n".join([self.viewers[0].token, *accounts]) + "\n")
            self.warm_up(server)
            runs: dict[str, list[Any]] = {"wrk": [], "wrk+pin": [], "steady": [],
                                          "steady+pin": [], "pin": []}
            rate = 0.0
            for r in range(2):
                for with_pins in (False, True):
                    label = "with 20 PIN checks in flight" if with_pins else "alone"
                    print(f"  round {r + 1}/2: heartbeats {label} …", flush=True)
                    pins = None
                    if with_pins:
                        pins = tools.start_wrk(
                            self.wrk, server.url, script="pin_verify.lua",
                            args=[str(tokens), f"{PC}/pin/verify", "1234"],
                            seconds=2 * self.args.duration + 8, connections=20, threads=20,
                            timeout=120)  # 20 queued on one bcrypt thread take a while
                        time.sleep(2)  # all 20 queued on the hasher before heartbeats start
                    key = "wrk+pin" if with_pins else "wrk"
                    runs[key].append(self.load(server, HEARTBEAT, self.args.duration))
                    rate = rate or runs["wrk"][0].rps / 2
                    key = "steady+pin" if with_pins else "steady"
                    runs[key].append(self.steady_load(server, token, kids, rate))
                    if pins is not None:
                        runs["pin"].append(tools.collect_wrk(pins))
        finally:
            server.stop()
        med = statistics.median
        alone = med(x["p99_ms"] for x in runs["steady"])
        loaded = med(x["p99_ms"] for x in runs["steady+pin"])
        self.lines += [
            f"PIN checks (20 /pin/verify in flight, bcrypt cost 12, HASHER_THREADS=1; "
            f"{med(x.rps for x in runs['pin']):.1f} checks/s, "
            f"{sum(x.errors for x in runs['pin'])} errors):",
            f"  steady {rate:,.0f} heartbeats/s (loadtest, open loop, 512 viewers): p99 "
            f"{alone:.1f} ms alone, {loaded:.1f} ms with PIN checks ({loaded - alone:+.1f} ms; "
            "target <= +10 ms; per round "
            + " ".join(f"{a['p99_ms']:.0f}/{b['p99_ms']:.0f}"
                       for a, b in zip(runs["steady"], runs["steady+pin"])) + " ms); p50 "
            f"{med(x['p50_ms'] for x in runs['steady']):.1f} -> "
            f"{med(x['p50_ms'] for x in runs['steady+pin']):.1f} ms; errors "
            f"{sum(x['errors'] for x in runs['steady'] + runs['steady+pin'])}",
            f"  saturated (wrk -c{self.args.connections}): "
            f"{med(x.rps for x in runs['wrk']):,.0f} -> {med(x.rps for x in runs['wrk+pin']):,.0f}"
            f" req/s, p99 {med(x.p99_ms for x in runs['wrk']):.1f} -> "
            f"{med(x.p99_ms for x in runs['wrk+pin']):.1f} ms"]

    def steady_load(self, server: Server, token: str, kids: list[uuid.UUID],
                    rate: float) -> dict[str, Any]:
        """`python -m app loadtest` at a fixed rate; its first pass opens the sessions."""
        done = subprocess.run(
            [tools.python(), "-m", "app", "loadtest", "--url", server.url, "--token", token,
             "--title", str(self.viewers[0].title_id), "--profiles", str(len(kids)),
             "--rate", f"{rate:.0f}", "--duration", str(self.args.duration),
             "--connections", str(self.args.connections), "--json"],
            capture_output=True, text=True, cwd=tools.ROOT, timeout=self.args.duration + 120)
        if done.returncode != 0:
            raise BenchError(f"loadtest failed: {done.stderr.strip() or done.stdout}")
        return orjson.loads(done.stdout.strip().splitlines()[-1])

    async def report(self) -> None:
        print(f"  seeding {self.args.history_sessions:,} sessions …", flush=True)
        started = time.monotonic()
        family = await seed.seed_history(
            self.conn, secret=SECRET, other_profiles=[v.profile_id for v in self.viewers],
            other_sessions=self.args.history_sessions)
        seeded = time.monotonic() - started
        server = self.service()
        try:
            today = datetime.now(UTC).date()
            history_path = (f"{PC}/profiles/{family.children[0]}/history?"
                            f"from_date={today - timedelta(days=89)}&to_date={today}")
            timings = {}
            for label, path in (("weekly report, 10 children", f"{PC}/weekly-report"),
                                ("history, 90 days of one child", history_path)):
                samples = []
                for i in range(35):
                    started = time.perf_counter()
                    _get_json(server.url + path, family.token)
                    if i >= 5:  # the first few warm the caches and plans
                        samples.append((time.perf_counter() - started) * 1000)
                timings[label] = samples
            queries = self.admin(server)["weekly_report"]["avg_queries_per_report"]
        finally:
            server.stop()
        print("  history in PostgreSQL …", flush=True)
        inside = await history.measure(
            self.db_url, profile_id=family.children[0], first=today - timedelta(days=89),
            last=today, owner=await self.conn.fetchval(
                "SELECT account_id FROM profiles WHERE id = $1", family.children[0]))
        total = await self.conn.fetchval("SELECT count(*) FROM viewing_sessions")
        self.lines.append(f"reports ({total:,} sessions in the table, seeded in {seeded:.0f} s; "
                          "client-side over HTTP on 127.0.0.1, 30 requests each):")
        for label, samples in timings.items():
            p50, p95 = history.quantiles(samples)
            self.lines.append(f"  {label:<32} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")
        self.lines += history.lines(inside)
        self.lines.append(f"  queries per weekly report: {queries:g} (target <= 3; targets: "
                          "report < 50 ms, history < 20 ms in PostgreSQL)")

    async def memory(self) -> None:
        beats = self.args.memory_beats
        server = self.service(log_level="WARNING")
        try:
            self.warm_up(server)
            start_rss = server.rss_mb()[0]
            sent = 0
            while sent < beats:
                load = self.load(server, HEARTBEAT, 60)
                sent += load.requests
                print(f"  {sent:,} heartbeats, RSS {server.rss_mb()[0]:.0f} MB", flush=True)
            rss, peak = server.rss_mb()
            cached = self.admin(server)["config_cache"]["current_size"]
        finally:
            server.stop()
        self.lines.append(f"memory: RSS {rss:.0f} MB (peak {peak:.0f} MB, {start_rss:.0f} MB "
                          f"after warm-up) after {sent:,} heartbeats with {cached:,} cached "
                          "configs (target <= 150 MB)")

    async def soak(self) -> None:
        """--soak-minutes of steady heartbeats on one service, one wrk run a minute, with the
        hot tables, checkpoints and RSS snapshotted before, after every minute and at the end."""
        await seed.refresh_sessions(self.conn, self.viewers)
        server = self.service(log_level="WARNING")  # 30 minutes of access lines: GBs of log
        try:
            self.warm_up(server)
            start = await soak.snapshot(self.conn, server.rss_mb()[0])
            minutes: list[soak.Minute] = []
            for i in range(self.args.soak_minutes):
                load = self.load(server, HEARTBEAT, 60)
                after = await soak.snapshot(self.conn, server.rss_mb()[0])
                minutes.append(soak.Minute(load.rps, load.p50_ms, load.p99_ms, load.errors,
                                           load.cpu_us, load.db_cpu_us, after))
                print(soak.minute_line(i + 1, minutes[-1], minutes[-2].after if i else start),
                      flush=True)
            end = await soak.snapshot(self.conn, server.rss_mb()[0])
        finally:
            server.stop()
        self.lines.append(f"soak: {len(minutes)} minutes of wrk -c{self.args.connections} "
                          "heartbeats on one service (LOG_LEVEL=WARNING), one 60 s wrk run a "
                          "minute (CPU: service/PostgreSQL µs per request):")
        self.lines += [soak.minute_line(i + 1, m, minutes[i - 1].after if i else start)
                       for i, m in enumerate(minutes)]
        self.lines.append(await soak.settings_line(self.conn))
        self.lines += soak.table_lines("start", start) + soak.table_lines("end", end)
        self.lines += soak.growth_lines(start, end) + soak.findings(minutes, start, end)


def median_of(loads: list[Load], attr: str) -> float:
    """The median of one figure over a target's rounds."""
    return statistics.median(getattr(x, attr) for x in loads)


def ratio_line(label: str, ratios: list[float]) -> str:
    """A req/s ratio against the ceiling: the median of the rounds' ratios, each round's own
    pair (the two ran minutes apart at most, so the machine's other load mostly cancels)."""
    return (f"{label}: {statistics.median(ratios):.2f} (median of rounds: "
            f"{' '.join(f'{x:.2f}' for x in ratios)}; target >= {RATIO_TARGET:.2f}, "
            f"aim {RATIO_AIM:.2f})")


def cpu_lines(service: list[Load], ceiling: list[Load], prefix: str = "") -> list[str]:
    """The service's CPU per heartbeat against the ceiling's per request, in the server's
    processes and in PostgreSQL's backends."""
    cpu = median_of(service, "cpu_us") / max(median_of(ceiling, "cpu_us"), 1e-9)
    db_cpu = median_of(service, "db_cpu_us") / max(median_of(ceiling, "db_cpu_us"), 1e-9)
    return [f"{prefix}service CPU per heartbeat / ceiling CPU per request: {cpu:.2f} "
            f"(server processes; target <= {CPU_TARGET:g})",
            f"{prefix}PostgreSQL CPU per heartbeat / ceiling's per request: {db_cpu:.2f} "
            f"(its backends; target <= {DB_CPU_TARGET:g})"]


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python {sys.version.split()[0]}"


async def main(args: argparse.Namespace) -> int:
    wrk = tools.ensure_wrk()
    server_url = await _server_url()
    name = f"vts_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    db_url = _with_database(server_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="vts-bench-"))
    try:
        from app.migrations import upgrade

        await asyncio.to_thread(upgrade, db_url)
        conn = await asyncpg.connect(db_url)
        try:
            version = await conn.fetchval("SHOW server_version")
            bench = Bench(args, wrk=wrk, db_url=db_url, conn=conn, workdir=workdir)
            if "memory" in args.scenarios:
                args.profiles = max(args.profiles, 10_000)
            await bench.setup()
            for statement in args.setup_sql:  # experiments: an index dropped, a fillfactor …
                await conn.execute(statement)
            header = (f"{_machine()}; PostgreSQL {version} at {urlsplit(server_url).netloc}; "
                      f"wrk -t{args.threads} -c{args.connections}, {args.duration:g} s runs "
                      f"after {args.warmup:g} s warm-up, {args.rounds} rounds interleaved; "
                      f"{len(bench.viewers):,} child profiles each continuing its own session "
                      f"with {'its paired device' if args.device_tokens else 'its account'}'s "
                      "token"
                      f"{', on a weekly schedule with a bedtime' if args.schedules else ''}"
                      f"{', every account subscribed to a webhook' if args.webhooks else ''}; "
                      f"1 uvicorn worker (uvloop, httptools; 2 in the 2-worker rows), "
                      f"DB_POOL_SIZE={args.pool} (per worker)")
            for scenario in args.scenarios:
                print(f"{scenario} …", flush=True)
                await getattr(bench, scenario)()
                bench.lines.append("")
            print("\n" + header + "\n")
            print("\n".join(bench.lines).rstrip())
            if bench.profile:
                print("\npy-spy profile of the service under the same load:\n" + bench.profile)
            print(f"\nserver logs: {workdir}")
            if bench.receiver:
                bench.receiver.close()
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return 0


def _scenarios(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", type=_scenarios, default=_scenarios(DEFAULT_SCENARIOS),
                   help=f"comma-separated from {', '.join(SCENARIOS)} (default {DEFAULT_SCENARIOS})")
    p.add_argument("--device-tokens", action="store_true",
                   help="viewers beat with their paired player's device token, not the account's")
    p.add_argument("--schedules", action="store_true",
                   help="every child on a weekly schedule (a limit per weekday, allowed hours "
                        "up to a bedtime hours away), so each beat's pay is capped by a window")
    p.add_argument("--webhooks", action="store_true",
                   help="every account subscribed to a receiver on 127.0.0.1 and some children "
                        "(--crossing-share) crossing the 15-minute warning in each measured "
                        "run; prints the delivery latency")
    p.add_argument("--crossing-share", type=float, default=0.05,
                   help="--webhooks: the share of children crossing in each run (0.05 of 2,048 "
                        "in 15 s is about 7 events/s, some 8 times a real evening's rate of "
                        "three crossings per child over two hours)")
    p.add_argument("--workers-row", action=argparse.BooleanOptionalAction, default=True,
                   help="steady: also the service and the ceiling with 2 uvicorn workers each "
                        "(--no-workers-row: two server runs less per round that has them)")
    p.add_argument("--workers-rounds", type=int, default=2,
                   help="steady: how many of the rounds (the first) have the 2-worker pair")
    p.add_argument("--duration", type=float, default=15, help="seconds per measured run")
    p.add_argument("--warmup", type=float, default=4, help="seconds of warm-up per server start")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--profiles", type=int, default=2048, help="child profiles (>= 2000)")
    p.add_argument("--pool", type=int, default=10, help="DB_POOL_SIZE of both servers")
    p.add_argument("--history-sessions", type=int, default=1_000_000)
    p.add_argument("--memory-beats", type=int, default=1_000_000)
    p.add_argument("--soak-minutes", type=int, default=30,
                   help="soak: minutes of steady heartbeats (one line each)")
    p.add_argument("--setup-sql", action="append", default=[], metavar="SQL",
                   help="run on the benchmark database after seeding (repeatable), to try a "
                        "schema change against the same load")
    p.add_argument("--profile", action="store_true",
                   help="add a py-spy profile of the service under load (pip install py-spy)")
    return p


def run(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return asyncio.run(main(args))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(run())
