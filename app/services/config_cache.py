"""The config provider: a cachetools TTLCache of per-profile facts in front of the database.

What is cached for a profile: its owner (immutable, so ownership checks need no query), whether
it is a child profile, and its limits. A change invalidates the entry here and, through
PostgreSQL NOTIFY, on every other replica; the TTL is only a safety net.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from cachetools import TTLCache

from app.domain.clock import Clock
from app.domain.errors import ProfileNotFound
from app.domain.profile import ProfileFacts

log = logging.getLogger(__name__)


Loader = Callable[[uuid.UUID], Awaitable[ProfileFacts | None]]
Publisher = Callable[[uuid.UUID], Awaitable[None]]


class Dependent(Protocol):
    """Another per-replica cache that must forget what this one forgets (the device registry:
    deleting a profile deletes its devices)."""

    def invalidate(self, entity_id: uuid.UUID) -> None: ...

    def clear(self) -> None: ...


class ConfigProvider:
    def __init__(self, *, load: Loader, publish: Publisher, ttl_seconds: float,
                 max_size: int, clock: Clock, dependents: Sequence[Dependent] = ()) -> None:
        self._load = load
        self._publish = publish
        self._dependents = tuple(dependents)
        # The TTL runs on the service's clock, so tests move time instead of sleeping through it.
        self._cache: TTLCache[uuid.UUID, ProfileFacts] = TTLCache(
            maxsize=max_size, ttl=ttl_seconds, timer=lambda: clock.now().timestamp())
        # Bumped by every invalidation: a load that raced one is not cached (it may be stale).
        self._generation = 0
        self.hits = 0
        self.misses = 0
        self.invalidations = 0

    @property
    def size(self) -> int:
        return len(self._cache)

    @property
    def max_size(self) -> int:
        return int(self._cache.maxsize)

    async def lookup(self, profile_id: uuid.UUID) -> tuple[ProfileFacts | None, bool]:
        """The profile's facts, and whether this call loaded them (a database round trip)."""
        facts = self._cache.get(profile_id)
        if facts is not None:
            self.hits += 1
            # Sliding expiry: a profile that keeps beating stays cached (heartbeats come every
            # 30 s, a 60 s TTL from insertion would miss every other one). Changes arrive by
            # NOTIFY; a lost LISTEN connection clears the whole cache when it reconnects.
            self._cache[profile_id] = facts
            return facts, False
        self.misses += 1
        generation = self._generation
        facts = await self._load(profile_id)
        if facts is not None and generation == self._generation:
            self._cache[profile_id] = facts
        return facts, True

    async def get(self, profile_id: uuid.UUID) -> ProfileFacts | None:
        return (await self.lookup(profile_id))[0]

    async def lookup_owned(self, profile_id: uuid.UUID,
                           account_id: uuid.UUID) -> tuple[ProfileFacts | None, bool]:
        """Like `get_owned`, and whether the call cost a round trip."""
        facts, loaded = await self.lookup(profile_id)
        return (facts if facts is not None and facts.account_id == account_id else None), loaded

    async def get_owned(self, profile_id: uuid.UUID, account_id: uuid.UUID) -> ProfileFacts | None:
        """The profile's facts if it belongs to `account_id`; None hides other accounts' ids."""
        return (await self.lookup_owned(profile_id, account_id))[0]

    async def owned(self, profile_id: uuid.UUID, account_id: uuid.UUID, *,
                    child: bool = False) -> ProfileFacts:
        """The caller's profile (with `child`: a limited child profile), else ProfileNotFound:
        unknown, another account's and (for child-only features) adult ids all look alike."""
        facts = await self.get_owned(profile_id, account_id)
        if facts is None or (child and facts.limits is None):
            raise ProfileNotFound()
        return facts

    def invalidate(self, profile_id: uuid.UUID) -> None:
        self._generation += 1
        self.invalidations += 1
        self._cache.pop(profile_id, None)
        for dependent in self._dependents:
            dependent.invalidate(profile_id)
        log.info("config_cache_invalidated", extra={"profile_id": str(profile_id)})

    def clear(self) -> None:
        """Forget everything (after missed notifications, e.g. a lost LISTEN connection)."""
        self._generation += 1
        self._cache.clear()
        for dependent in self._dependents:
            dependent.clear()

    async def changed(self, profile_id: uuid.UUID) -> None:
        """After a committed change (of a profile, or a device's deletion: the channel carries
        ids): forget it here and tell every replica."""
        self.invalidate(profile_id)
        try:
            await self._publish(profile_id)
        except Exception as exc:  # the change is committed; other replicas fall back on the TTL
            log.warning("config change notification failed: %s", exc)
