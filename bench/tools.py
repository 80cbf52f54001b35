"""The benchmark's moving parts: wrk, server processes, ports, memory, PostgreSQL counters."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent


class BenchError(Exception):
    """Printed as one line; the benchmark stops."""


def ensure_wrk() -> str:
    """wrk from PATH, else Debian's package (this machine runs as root), else a clear error."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: installing Debian's package …", flush=True)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
        if subprocess.run(["apt-get", "install", "-y", "wrk"], **quiet).returncode != 0:
            subprocess.run(["apt-get", "update"], **quiet)
            subprocess.run(["apt-get", "install", "-y", "wrk"], **quiet)
        found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is needed: install it (Debian/Ubuntu: apt-get install wrk)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Load:
    """One wrk run, as bench/heartbeat.lua reports it."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    cpu_us: float = 0.0  # the server process's CPU time per request (steadier than req/s)
    db_cpu_us: float = 0.0  # its PostgreSQL backends' CPU time per request

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def start_wrk(wrk: str, url: str, *, script: str, args: list[str], seconds: float,
              connections: int, threads: int, timeout: int = 10) -> subprocess.Popen[str]:
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
           "--timeout", f"{timeout}s", "-s", str(BENCH / script), url, "--", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def collect_wrk(proc: subprocess.Popen[str]) -> Load:
    stdout, stderr = proc.communicate(timeout=600)
    line = next((x for x in stdout.splitlines() if x.startswith("BENCH ")), None)
    if proc.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({proc.returncode}): {stderr.strip() or stdout}")
    r = json.loads(line[len("BENCH "):])
    errors = sum(r[k] for k in ("connect_errors", "read_errors", "write_errors",
                                "status_errors", "timeouts"))
    return Load(r["requests"], r["duration_us"] / 1e6, errors, r["p50_us"] / 1000,
                r["p99_us"] / 1000)


def run_wrk(wrk: str, url: str, *, script: str, args: list[str], seconds: float,
            connections: int, threads: int) -> Load:
    return collect_wrk(start_wrk(wrk, url, script=script, args=args, seconds=seconds,
                                 connections=connections, threads=threads))


class Server:
    """A uvicorn process on 127.0.0.1, its output in a log file."""

    def __init__(self, name: str, cmd: list[str], *, env: dict[str, str], port: int,
                 log_dir: Path, workers: int = 1) -> None:
        self.name = name
        self.port = port
        self.workers = workers  # uvicorn's --workers: what `cmd` asks for, for the reports
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        # Unset: one worker keeps its metrics in-process; several get a fresh directory from
        # the service's CLI (a directory left from elsewhere would be summed into its counters).
        environment = {k: v for k, v in os.environ.items()
                       if k.upper() != "PROMETHEUS_MULTIPROC_DIR"}
        self._proc = subprocess.Popen(cmd, cwd=ROOT, env={**environment, **env},
                                      stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def wait_ready(self, path: str, *, method: str = "GET", body: bytes | None = None,
                   timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BenchError(f"{self.name} exited ({self._proc.returncode}); "
                                 f"see {self.log_path}")
            try:
                request = urllib.request.Request(self.url + path, data=body, method=method,
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise BenchError(f"{self.name} not ready after {timeout:.0f} s; see {self.log_path}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process and all its descendants so far: with
        `--workers N` the requests are served by uvicorn's worker processes, not the supervisor
        (with one worker the tree is the one process)."""
        return sum(map(process_cpu_seconds, process_tree(self.pid)))

    def rss_mb(self) -> tuple[float, float]:
        """(current, peak) resident memory of the server's processes, MB: summed over the tree
        (shared pages count once per process, so for several workers this overstates)."""
        current = peak = 0.0
        for pid in process_tree(self.pid):
            with contextlib.suppress(OSError, KeyError):
                fields = dict(line.split(":", 1) for line in
                              Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
                current += int(fields["VmRSS"].split()[0]) / 1024
                peak += int(fields["VmHWM"].split()[0]) / 1024
        return current, peak

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """`root` and every live descendant (parent links from /proc/PID/stat). A worker that
    exited since is not counted: its CPU shows in the parent's cutime only once reaped, so a
    measured run must not span a worker restart."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def backends_of(database: str) -> list[int]:
    """PostgreSQL backend processes connected to `database` (by their process title)."""
    marker = f" {database} ".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"postgres: ") and marker in title:
                pids.append(int(entry.name))
    return pids


def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to `database`, by pid."""
    return {pid: process_cpu_seconds(pid) for pid in backends_of(database)}


def backend_cpu_since(before: dict[int, float], database: str) -> float:
    """CPU seconds `database`'s backends used since `before` (a `backend_cpu` snapshot).

    Read from the backends alive now, so one that connected since counts in full and one that
    disconnected since (a pool retiring an idle connection) neither takes its whole past CPU
    out of the sum, which made a soak minute's PostgreSQL CPU negative, nor counts at all."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in backend_cpu(database).items())


def python() -> str:
    return sys.executable


class StatementCounter:
    """Statements executed in the benchmark database between `start()` and `stop()`.

    With pg_stat_statements loaded (shared_preload_libraries) every statement counts, BEGIN and
    COMMIT included. Without it, transactions from pg_stat_database: each autocommit statement
    is one transaction, so on the raw-asyncpg hot path the two agree, but a BEGIN … COMMIT block
    counts once; backends publish those counters when idle, at most every 10 s, hence the waits.
    """

    def __init__(self, conn: asyncpg.Connection, *, pgss: bool) -> None:
        self._conn = conn
        self.pgss = pgss
        self._before = 0

    @classmethod
    async def open(cls, conn: asyncpg.Connection) -> StatementCounter:
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await conn.fetchval("SELECT count(*) FROM pg_stat_statements")
            return cls(conn, pgss=True)
        except asyncpg.PostgresError:
            return cls(conn, pgss=False)

    @property
    def source(self) -> str:
        return "pg_stat_statements" if self.pgss else "pg_stat_database transactions"

    async def _xacts(self) -> int:
        await self._conn.execute("SELECT pg_stat_clear_snapshot()")
        return int(await self._conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"))

    async def start(self) -> None:
        if self.pgss:
            await self._conn.execute("SELECT pg_stat_statements_reset()")
        else:
            time.sleep(11)  # let idle backends publish what came before
            self._before = await self._xacts()

    async def stop(self) -> tuple[int, list[tuple[int, str]]]:
        """(statements, [(calls, query)] of the busiest when known)."""
        if self.pgss:
            rows = await self._conn.fetch(
                "SELECT calls, query FROM pg_stat_statements WHERE dbid = "
                "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC")
            return sum(r["calls"] for r in rows), [(r["calls"], r["query"]) for r in rows[:5]]
        time.sleep(11)
        return await self._xacts() - self._before - 2, []  # minus this counter's own two
