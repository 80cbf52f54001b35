"""`python -m app serve` as a child process whose output goes to a file, not a pipe.

tests/deploy/served.py reads its pipe only after the process exits: once 64 KiB of log lines
are waiting, the server's next log write blocks its event loop and every request hangs (seen
with a few dozen tracebacks). Long or chatty runs here use a file instead.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.deploy.served import ROOT, ServedApp


class LoggedServer(ServedApp):
    def __init__(self, *, database_url: str, **env: str) -> None:
        super().__init__(database_url=database_url, **env)
        self._log = tempfile.NamedTemporaryFile(prefix="vts-served-", suffix=".log", delete=False)

    def start(self, *, timeout: float = 30, workers: int = 1) -> LoggedServer:
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

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def close(self) -> None:
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)
