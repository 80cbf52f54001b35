"""Liveness and readiness."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError

from app.repositories.health import HealthRepository

log = logging.getLogger(__name__)


class HealthService:
    def __init__(self, *, health: HealthRepository, head_revision: str) -> None:
        self._health = health
        self._head = head_revision
        self.draining = False

    async def ready(self) -> tuple[bool, str]:
        """Ready = not shutting down, database reachable, schema at the newest migration."""
        if self.draining:
            return False, "shutting down"
        try:
            try:
                version = await self._health.migration_version()
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # After a database restart the pooled connection was dead; this failure made
                # SQLAlchemy drop every connection as old as it, so ask again on a fresh one.
                # Without this, every replica turns unready at once after a failover.
                version = await self._health.migration_version()
        except Exception as exc:  # any failure to ask is "not ready", never a 500
            log.info("not ready: %r", exc)
            return False, "database unreachable"
        if version != self._head:
            return False, f"migrations not at head ({version} != {self._head})"
        return True, "ready"
