"""Deploy tests: a database of their own for the servers they start as separate processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.db import scratch_database


@pytest.fixture(scope="session")
def deploy_database_url() -> Iterator[str]:
    with scratch_database(migrated=True) as url:
        yield url
