"""The server's clock (the only clock), and the frozen double tests swap in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """Stands still until told to move; provided through the container in tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
        self._tick = timedelta(0)

    def now(self) -> datetime:
        instant = self._now
        self._now += self._tick
        return instant

    def ticking(self, seconds: float) -> None:
        """Move on by `seconds` after every read, like a real clock: concurrent requests then
        read distinct instants in the order they read the clock, not the order they reach the
        database."""
        self._tick = timedelta(seconds=seconds)

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = instant
