"""The unit tier runs with no database: no PostgreSQL, no embedded server, no network.

Two guards keep it so (tests/support/no_database.py):

* before any fixture is set up, a unit test whose fixtures reach `database_url` (directly or
  through `settings`, `container`, `app`, `client`, ...) fails: the session-scoped database
  would otherwise start before any function-scoped guard could refuse it;
* during each unit test, asyncpg's connect and create_pool, the embedded server's start and
  every socket connect raise, and the test fails at teardown even if the code under test
  swallowed that error.

Settings read from the environment are cleared too, so a developer's DATABASE_URL or
JWT_SECRET cannot change what a unit test sees.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from app.settings import Settings
from tests.support.no_database import block_database_and_network, refuse_database_fixture


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    refuse_database_fixture(item)


@pytest.fixture(autouse=True)
def _no_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    attempts: list[str] = []
    block_database_and_network(monkeypatch, attempts)
    yield attempts
    if attempts:
        pytest.fail(f"a unit test tried to use {', '.join(sorted(set(attempts)))}",
                    pytrace=False)


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = {name.lower() for name in Settings.model_fields}
    for name in list(os.environ):
        if name.lower() in fields:
            monkeypatch.delenv(name)
