"""The unit tier's guard against databases and the network (used by tests/unit/conftest.py).

Kept out of the conftest so tests can import it: pytest imports a conftest under its own
module name, and a second import would make a second, different exception class.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import NoReturn

import asyncpg
import asyncpg.connection
import pytest

from app import embedded_db

DATABASE_FIXTURE = "database_url"


class DatabaseAccessInUnitTest(AssertionError):
    """Raised where a unit test reaches for a database or the network. Every attempt is also
    recorded, so code that swallows the error (`except Exception` retry loops) still fails the
    test at teardown."""


def refuse_database_fixture(item: pytest.Item) -> None:
    """Fail `item` if its fixture closure reaches the session's database (directly or through
    settings, container, app, client, parent, titles)."""
    if DATABASE_FIXTURE in getattr(item, "fixturenames", ()):
        pytest.fail(f"{item.nodeid} is a unit test but requests the `{DATABASE_FIXTURE}` "
                    "fixture (directly or through settings/container/app/client): unit tests "
                    "run with no database", pytrace=False)


def block_database_and_network(monkeypatch: pytest.MonkeyPatch, attempts: list[str]) -> None:
    """Make asyncpg's connect and create_pool, the embedded server and socket connects raise
    DatabaseAccessInUnitTest (and note each attempt in `attempts`)."""

    def refuse(what: str) -> Callable[..., NoReturn]:
        def refused(*args: object, **kwargs: object) -> NoReturn:
            attempts.append(what)
            raise DatabaseAccessInUnitTest(f"unit tests must not use {what}")
        return refused

    monkeypatch.setattr(asyncpg, "connect", refuse("asyncpg.connect"))
    monkeypatch.setattr(asyncpg.connection, "connect", refuse("asyncpg.connect"))
    monkeypatch.setattr(asyncpg, "create_pool", refuse("asyncpg.create_pool"))
    monkeypatch.setattr(embedded_db, "start", refuse("the embedded PostgreSQL"))
    monkeypatch.setattr(socket.socket, "connect", refuse("a network connection"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("a network connection"))
