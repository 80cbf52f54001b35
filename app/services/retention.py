"""Retention: how long viewing history is kept (RETENTION_DAYS, default 400; 0 keeps it all).

400 days cover the 90-day history and a year-on-year look back; older history of a child's
viewing is deleted for data minimisation by `python -m app sweep` and, once a day, by each
replica's background sweep.
"""

from __future__ import annotations

from datetime import timedelta

from app.domain.clock import Clock
from app.repositories.retention import Purged, RetentionRepository


class RetentionService:
    def __init__(self, *, retention: RetentionRepository, clock: Clock,
                 retention_days: int) -> None:
        self._retention = retention
        self._clock = clock
        self._days = retention_days

    @property
    def enabled(self) -> bool:
        return self._days > 0

    async def purge(self) -> Purged | None:
        """Delete history of viewing days more than `retention_days` ago; None when disabled."""
        if not self.enabled:
            return None
        cutoff = (self._clock.now() - timedelta(days=self._days)).date()
        return await self._retention.purge_before(cutoff)
