"""`python -m app serve` as a child process on a free port, the way a container runs it.

Its output goes to a file, not a pipe: a pipe nobody reads fills at 64 KiB and the server's
next log write then blocks its event loop, hanging every request.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
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
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers)],
            cwd=ROOT, env=self._env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited at start-up:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the server was not ready within {timeout} s:\n{self.output()}")

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


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
