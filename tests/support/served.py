"""`python -m app serve` as a child process on a free port, the way a container runs it.

Its output goes to a file, not a pipe: a pipe nobody reads fills at 64 KiB and the server's
next log write then blocks its event loop, hanging every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.support.api import API, PASSWORD
from tests.support.apps import JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedApp:
    def __init__(self, *, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": JWT_SECRET,
                     "BCRYPT_ROUNDS": "4", "DB_POOL_SIZE": "2", "LOG_LEVEL": "INFO", **env}
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="vts-served-", suffix=".log", delete=False)

    def start(self, *, timeout: float = 30, workers: int = 1) -> ServedApp:
        """Launch it and wait until /readyz answers 200."""
        deadline = self._launch(timeout, workers)
        while time.monotonic() < deadline:
            self._check_running()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise self._not_ready(timeout)

    async def started(self, *, within: float = 30, workers: int = 1) -> ServedApp:
        """start() without blocking the event loop, for a test whose in-process app runs on it."""
        deadline = self._launch(within, workers)
        async with httpx.AsyncClient(timeout=1) as client:
            while time.monotonic() < deadline:
                self._check_running()
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise self._not_ready(within)

    def _launch(self, timeout: float, workers: int) -> float:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers)],
            cwd=ROOT, env=self._env, stdout=self._log, stderr=subprocess.STDOUT)
        return time.monotonic() + timeout

    def _check_running(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the server exited at start-up:\n{self.output()}")

    def _not_ready(self, timeout: float) -> AssertionError:
        self.stop()
        return AssertionError(f"the server was not ready within {timeout} s:\n{self.output()}")

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def stop(self, *, grace: float = 0) -> None:
        """End it if it still runs: with `grace`, SIGTERM and that many seconds to exit first."""
        if self.process is None or self.process.poll() is not None:
            return
        if grace:
            self.terminate()
            try:
                self.process.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                pass
        self.process.kill()
        self.process.wait(timeout=10)

    def close(self, *, grace: float = 0) -> None:
        self.stop(grace=grace)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


@contextlib.asynccontextmanager
async def served_replica(database_url: str, *, timeout: float = 5,
                         **env: str) -> AsyncIterator[httpx.AsyncClient]:
    """Another replica beside a test's in-process app, and a client for it: started after the
    app (whose fixture truncates the tables) without blocking the app's event loop."""
    server = ServedApp(database_url=database_url, **{"LOG_LEVEL": "WARNING", **env})
    try:
        await server.started()
        async with httpx.AsyncClient(base_url=server.url, timeout=timeout) as client:
            yield client
    finally:
        server.close(grace=15)


def signed_up_headers(client: httpx.Client) -> dict[str, str]:
    email = f"deploy-{uuid.uuid4().hex[:8]}@example.com"
    r = client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def child_profile(client: httpx.Client, headers: dict[str, str]) -> str:
    r = client.post(f"{API}/profiles", headers=headers,
                    json={"name": "Kid", "is_kids": True, "timezone": "UTC"})
    assert r.status_code == 201, r.text
    return r.json()["id"]
