"""Deploy tests: a database of their own for the servers they start as separate processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.migrations import upgrade
from tests.support.db import create_database, drop_database, server_url


@pytest.fixture(scope="session")
def deploy_database_url() -> Iterator[str]:
    server = server_url()
    name, url = create_database(server)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(server, name)
