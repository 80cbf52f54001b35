"""The unit tier's guards (tests/unit/conftest.py) refuse every way to a database."""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace

import asyncpg
import pytest

from app import embedded_db
from app.database import HotPool
from app.settings import Settings
from tests.support.no_database import DatabaseAccessInUnitTest, refuse_database_fixture

SECRET = "unit-test-secret-that-is-32-bytes-long"


@pytest.fixture
def attempts(_no_database: list[str]) -> list[str]:
    """The guard's record of refused attempts, emptied after the test: these tests trip the
    guard on purpose, and it would otherwise fail them at teardown."""
    yield _no_database
    _no_database.clear()


def test_a_unit_test_reaching_the_database_fixture_fails_before_set_up():
    # pytest's closure of a test asking for `client`: the database is in it, however deep.
    item = SimpleNamespace(nodeid="tests/unit/test_x.py::test_x",
                           fixturenames=["client", "app", "container", "settings", "clock",
                                         "database_url"])
    with pytest.raises(pytest.fail.Exception, match="requests the `database_url` fixture"):
        refuse_database_fixture(item)


def test_a_unit_test_with_only_pure_fixtures_is_let_through():
    item = SimpleNamespace(nodeid="tests/unit/test_x.py::test_x",
                           fixturenames=["clock", "monkeypatch", "anyio_backend"])
    assert refuse_database_fixture(item) is None


def test_the_embedded_server_cannot_start(attempts):
    with pytest.raises(DatabaseAccessInUnitTest):
        embedded_db.start("test")
    assert attempts == ["the embedded PostgreSQL"]


@pytest.mark.anyio
async def test_asyncpg_cannot_connect(attempts):
    with pytest.raises(DatabaseAccessInUnitTest):
        await asyncpg.connect("postgresql://postgres@localhost/postgres")
    assert attempts == ["asyncpg.connect"]


@pytest.mark.anyio
async def test_the_hot_pool_cannot_open_even_though_it_retries_connection_errors(attempts):
    settings = Settings(database_url="postgresql://postgres@localhost/postgres",
                        jwt_secret=SECRET)
    with pytest.raises(DatabaseAccessInUnitTest):
        await HotPool(settings).start()  # its `except OSError` retry does not swallow the guard
    assert attempts == ["asyncpg.create_pool"]


@pytest.mark.anyio
async def test_no_socket_reaches_the_network(attempts):
    with pytest.raises(DatabaseAccessInUnitTest):
        await asyncio.open_connection("127.0.0.1", 5432)
    with socket.socket() as s, pytest.raises(DatabaseAccessInUnitTest):
        s.connect_ex(("127.0.0.1", 5432))
    assert attempts == ["a network connection", "a network connection"]
