"""A real PostgreSQL 15 primary with a real synchronous standby on this machine, for failover
tests: the primary can be killed hard and the standby promoted, the way an HA manager would.

Both servers listen on free TCP ports of 127.0.0.1 with trust authentication, their data
directories in one temporary directory (on /dev/shm when there is one) that `pg_cluster()`
removes, servers stopped first, even when the test fails. The standby streams from a
replication slot and is listed as synchronous
(`synchronous_standby_names = '*'`, `synchronous_commit = on`): the primary answers a COMMIT
only once the standby has the commit's WAL, so a commit a client saw acknowledged is on the
standby when the primary dies.

`fsync = off` on both, for speed: the test kills processes, never the machine, and what a
killed process wrote is still in the kernel's page cache, so fsync would protect nothing the
test can observe. What the survival of acknowledged writes rests on here is the synchronous
standby, not the primary's disk.

initdb refuses to run as root: as root, every server binary runs as the `postgres` user (else
`nobody`), which owns the directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from tests.support.served import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
SLOT = "standby"
START_TIMEOUT = 60  # seconds: a loaded 2-core machine starts a server in a few

# Shared by both servers (the standby's copy comes with the base backup).
COMMON_CONF = """
listen_addresses = '127.0.0.1'
unix_socket_directories = '{sockets}'
max_connections = 100
shared_buffers = 32MB
wal_level = replica
max_wal_senders = 4
max_replication_slots = 4
hot_standby = on
wal_receiver_status_interval = 1s
synchronous_commit = on
fsync = off
# in the data directory, not /dev/shm: a SIGKILLed server cannot remove its segments
dynamic_shared_memory_type = mmap
log_line_prefix = '%m [%p] {name} '
"""
ALONE_CONF = """
port = {port}
"""
PRIMARY_CONF = """
port = {port}
cluster_name = 'primary'
synchronous_standby_names = '*'
"""
# After its promotion the standby is alone: were it to keep `'*'`, every commit on it would
# wait for a standby that does not exist (an HA manager relaxes this the same way).
STANDBY_CONF = """
port = {port}
cluster_name = 'standby'
synchronous_standby_names = ''
primary_conninfo = 'host=127.0.0.1 port={primary_port} user=postgres application_name=standby'
primary_slot_name = '{slot}'
"""


def missing_binaries() -> str | None:
    """Why the cluster cannot run here (the PostgreSQL 15 server binaries are absent), else
    None: the only reason a failover test skips."""
    missing = [tool for tool in TOOLS if not (BIN / tool).is_file()]
    if missing:
        return f"PostgreSQL 15 server binaries not found in {BIN}: {', '.join(missing)}"
    return None


def _owner() -> pwd.struct_passwd | None:
    """The unprivileged user the binaries run as when this process is root; None otherwise."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and neither user postgres nor nobody exists")


@dataclass
class Node:
    name: str
    pgdata: Path
    port: int
    log: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def postmaster_pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int(pidfile.read_text().split("\n", 1)[0])
        return None

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"


class PgCluster:
    """A primary and its synchronous standby under `root`; see the module docstring. With a
    `template` (see pg_template), the primary starts from a copy of it instead of initdb."""

    def __init__(self, root: Path, template: Path | None = None) -> None:
        self.root = root
        self._template = template
        self._owner = _owner()
        self.primary = Node("primary", root / "primary", free_port(), root / "primary.log")
        self.standby = Node("standby", root / "standby", free_port(), root / "standby.log")

    # --- running the binaries ------------------------------------------------------------

    def _run(self, tool: str, *args: str, timeout: float = START_TIMEOUT) -> None:
        command = [str(BIN / tool), *args]
        if self._owner is not None:
            command = ["runuser", "-u", self._owner.pw_name, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=self.root, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}")

    def _pg_ctl(self, node: Node, *args: str) -> None:
        self._run("pg_ctl", "-D", str(node.pgdata), "-l", str(node.log), "-t",
                  str(START_TIMEOUT), *args, timeout=START_TIMEOUT + 10)

    def _configure(self, node: Node, template: str, **values: object) -> None:
        conf = (COMMON_CONF.format(sockets=self.root, name=node.name)
                + template.format(**values))
        with (node.pgdata / "postgresql.conf").open("a") as f:  # later lines win
            f.write(conf)

    # --- the life cycle ------------------------------------------------------------------

    def _own_root(self) -> None:
        self.root.chmod(0o755)
        if self._owner is not None:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)

    def _initdb(self, node: Node) -> None:
        self._run("initdb", "-D", str(node.pgdata), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")

    def _copy(self, source: Path, target: Path) -> None:
        shutil.copytree(source, target, symlinks=True)
        if self._owner is not None:
            for path in (target, *target.rglob("*")):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid, follow_symlinks=False)

    def run_alone(self, prepare: Callable[[str], None]) -> None:
        """initdb the primary, start it without a standby, `prepare(url)` it (migrate it), stop
        it cleanly: a data directory that clusters copy (pg_template)."""
        self._own_root()
        self._initdb(self.primary)
        self._configure(self.primary, ALONE_CONF, port=self.primary.port)
        self._pg_ctl(self.primary, "-w", "start")
        try:
            prepare(self.primary.url())
        finally:
            self._pg_ctl(self.primary, "-w", "-m", "fast", "stop")

    async def start(self) -> None:
        """Start the primary, clone the standby from it, start it, and return once the primary
        reports it streaming and synchronous."""
        self._own_root()
        await asyncio.to_thread(self._start_primary)
        await self._create_slot()
        await asyncio.to_thread(self._start_standby)
        await self.wait_synchronous()

    def _start_primary(self) -> None:
        if self._template is None:
            self._initdb(self.primary)
        else:
            self._copy(self._template, self.primary.pgdata)
        self._configure(self.primary, PRIMARY_CONF, port=self.primary.port)
        self._pg_ctl(self.primary, "-w", "start")

    async def _create_slot(self) -> None:
        conn = await asyncpg.connect(self.primary.url())
        try:
            await conn.execute("SELECT pg_create_physical_replication_slot($1)", SLOT)
        finally:
            await conn.close()

    def _start_standby(self) -> None:
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port),
                  "-U", "postgres", "-D", str(self.standby.pgdata), "-X", "stream",
                  "-S", SLOT, "--checkpoint=fast", "--no-sync")
        self._configure(self.standby, STANDBY_CONF, port=self.standby.port,
                        primary_port=self.primary.port, slot=SLOT)
        (self.standby.pgdata / "standby.signal").touch()
        if self._owner is not None:
            os.chown(self.standby.pgdata / "standby.signal", self._owner.pw_uid,
                     self._owner.pw_gid)
        self._pg_ctl(self.standby, "-w", "start")

    async def wait_synchronous(self, within: float = START_TIMEOUT) -> None:
        """Until pg_stat_replication on the primary shows the standby streaming, sync."""
        deadline = time.monotonic() + within
        conn = await asyncpg.connect(self.primary.url())
        try:
            while True:
                row = await conn.fetchrow(
                    "SELECT state, sync_state FROM pg_stat_replication "
                    "WHERE application_name = 'standby'")
                if row is not None and (row["state"], row["sync_state"]) == ("streaming", "sync"):
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"standby not synchronous within {within} s: {row}\n"
                                       f"{self.standby.log_tail()}")
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    async def kill_primary(self) -> float:
        """SIGKILL the primary's postmaster and every backend at once, as a crashed host would
        leave them: no shutdown checkpoint, no goodbye to clients. Returns the time.monotonic()
        of the kill, once its port refuses connections."""
        pid = self.primary.postmaster_pid()
        assert pid is not None, "the primary is not running"
        killed = time.monotonic()
        _kill_server(pid)
        await _wait_refused(self.primary.port)
        return killed

    async def set_synchronous(self, on: bool) -> None:
        """Require the standby's flush before each COMMIT returns (on), or not (off: the
        asynchronous replication a failover can lose acknowledged commits with)."""
        conn = await asyncpg.connect(self.primary.url())
        try:
            names = "*" if on else ""
            await conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    async def stop_standby(self) -> None:
        await asyncio.to_thread(self._pg_ctl, self.standby, "-w", "-m", "fast", "stop")

    async def start_standby(self) -> None:
        """Start the stopped standby again: it serves what it had, in hot standby."""
        await asyncio.to_thread(self._pg_ctl, self.standby, "-w", "start")

    async def wait_replayed(self, within: float = START_TIMEOUT) -> None:
        """Until the standby has replayed all the WAL it received: a synchronous commit waits
        for the standby's flush, not its replay, so only then does a read on it show every
        commit it holds (all that a promotion would start from)."""
        deadline = time.monotonic() + within
        conn = await asyncpg.connect(self.standby.url())
        try:
            while not await conn.fetchval(
                    "SELECT pg_last_wal_receive_lsn() IS NULL "
                    "OR pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn()"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"standby did not replay its WAL within {within} s")
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    async def promote(self) -> None:
        """`pg_ctl promote -w`: returns once the standby accepts writes."""
        await asyncio.to_thread(self._pg_ctl, self.standby, "-w", "promote")

    def close(self) -> None:
        """Stop whatever still runs (immediate mode, then SIGKILL) and delete everything."""
        for node in (self.standby, self.primary):
            pid = node.postmaster_pid()
            if pid is None or not _alive(pid):
                continue
            with contextlib.suppress(Exception):
                self._pg_ctl(node, "-w", "-m", "immediate", "stop")
            if _alive(pid):
                _kill_server(pid)
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(f"--- {n.name} log ---\n{n.log_tail()}"
                         for n in (self.primary, self.standby))


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie nobody reaped counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _kill_server(pid: int) -> None:
    """SIGKILL a postmaster and its backends together. pg_ctl starts the postmaster as the
    leader of a session of its own, so its process group is exactly the server."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:  # not a group leader: the postmaster first, then the children it had
            children = _children(pid)
            os.kill(pid, signal.SIGKILL)
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


async def _wait_refused(port: int, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"port {port} still accepts connections {within} s after SIGKILL")


def _scratch() -> str | None:
    """Where the data directories go: /dev/shm if there is one (a tmpfs keeps the copies and
    base backups off a disk other jobs are busy with), else the temporary directory."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


@contextlib.contextmanager
def pg_template(prepare: Callable[[str], None]) -> Iterator[Path]:
    """A data directory initdb'd and `prepare`d once (on a server of its own, stopped cleanly
    since), for every pg_cluster(template=...) to start its primary from: initdb and the
    migrations take longer than the whole failover. Deleted afterwards."""
    alone = PgCluster(Path(tempfile.mkdtemp(prefix="vts-pg-template-", dir=_scratch())))
    try:
        alone.run_alone(prepare)
        yield alone.primary.pgdata
    except BaseException:
        print(alone.logs())
        raise
    finally:
        alone.close()


@contextlib.asynccontextmanager
async def pg_cluster(template: Path | None = None) -> AsyncIterator[PgCluster]:
    """A started, synchronous PgCluster; stopped and deleted afterwards, whatever happened.
    The servers' log tails are printed on failure (pytest shows them with the test)."""
    cluster = PgCluster(Path(tempfile.mkdtemp(prefix="vts-pg-", dir=_scratch())), template)
    try:
        await cluster.start()
        yield cluster
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        await asyncio.to_thread(cluster.close)
