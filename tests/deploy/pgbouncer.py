"""A real PgBouncer (Debian's package) in transaction mode in front of the test database."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from tests.support.served import free_port


def find_pgbouncer() -> str | None:
    """Debian installs it under /usr/sbin, which is not on every PATH."""
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer") if os.access(p, os.X_OK)),
        None)


class PgBouncer:
    def __init__(self, binary: str, upstream_url: str, *, pool_size: int) -> None:
        self._binary = binary
        self._upstream = urlsplit(upstream_url)
        self.pool_size = pool_size
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self._process: subprocess.Popen[bytes] | None = None

    def url(self) -> str:
        """The upstream URL with PgBouncer in between (same database, same user)."""
        p = self._upstream
        return urlunsplit((p.scheme, f"{p.username or 'postgres'}@127.0.0.1:{self.port}",
                           p.path, "", ""))

    def _server(self) -> str:
        p = self._upstream
        query = parse_qs(p.query)
        host = query.get("host", [p.hostname or "127.0.0.1"])[0]
        port = query.get("port", [str(p.port or 5432)])[0]
        entry = f"host={host} port={port} user={unquote(p.username or 'postgres')}"
        if p.password:
            entry += f" password={unquote(p.password)}"
        return entry

    def _run_as(self) -> str | None:
        """PgBouncer refuses to run as root: as root, drop to the user who may reach the server
        (the owner of a Unix-socket directory, e.g. the embedded server's data directory)."""
        if os.geteuid() != 0:
            return None
        host = parse_qs(self._upstream.query).get("host", [""])[0]
        if host.startswith("/"):
            return pwd.getpwuid(os.stat(host).st_uid).pw_name
        return "nobody"

    def start(self) -> PgBouncer:
        config = self._dir / "pgbouncer.ini"
        config.write_text(f"""\
[databases]
* = {self._server()}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {self.pool_size}
max_client_conn = 200
""")
        command = [self._binary, str(config)]
        user = self._run_as()
        if user:
            os.chown(self._dir, pwd.getpwnam(user).pw_uid, -1)
            os.chown(config, pwd.getpwnam(user).pw_uid, -1)
            command[1:1] = ["-u", user]
        log = (self._dir / "log").open("wb")
        self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited at start-up:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not listen within 10 s:\n{self.log()}")

    def log(self) -> str:
        path = self._dir / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)
