"""The config provider's caching, invalidation and race guard (fake loader, no database)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.domain.profile import ProfileFacts
from app.services.clock import FrozenClock
from app.services.config_cache import ConfigProvider

pytestmark = pytest.mark.anyio

ACCOUNT = uuid.uuid4()


class FakeStore:
    def __init__(self) -> None:
        self.loads = 0
        self.published: list[uuid.UUID] = []
        self.gate: asyncio.Event | None = None

    async def load(self, profile_id: uuid.UUID) -> ProfileFacts:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        return ProfileFacts(profile_id, ACCOUNT, f"v{self.loads}", True, None)

    async def publish(self, profile_id: uuid.UUID) -> None:
        self.published.append(profile_id)


def provider(store: FakeStore, ttl: float = 60, clock: FrozenClock | None = None) -> ConfigProvider:
    return ConfigProvider(load=store.load, publish=store.publish, ttl_seconds=ttl, max_size=10,
                          clock=clock or FrozenClock())


async def test_hits_misses_and_ownership():
    store, pid = FakeStore(), uuid.uuid4()
    cache = provider(store)
    assert (await cache.get(pid)).name == "v1"
    assert (await cache.get(pid)).name == "v1"
    assert (cache.hits, cache.misses, store.loads, cache.size) == (1, 1, 1, 1)
    assert await cache.get_owned(pid, uuid.uuid4()) is None
    assert (await cache.get_owned(pid, ACCOUNT)).name == "v1"


async def test_changed_invalidates_and_publishes():
    store, pid = FakeStore(), uuid.uuid4()
    cache = provider(store)
    await cache.get(pid)
    await cache.changed(pid)
    assert store.published == [pid] and cache.invalidations == 1
    assert (await cache.get(pid)).name == "v2"


async def test_a_load_racing_an_invalidation_is_not_cached():
    store, pid = FakeStore(), uuid.uuid4()
    cache = provider(store)
    store.gate = asyncio.Event()
    loading = asyncio.create_task(cache.get(pid))
    await asyncio.sleep(0)
    cache.invalidate(pid)  # the change commits while the old value is in flight
    store.gate.set()
    assert (await loading).name == "v1"
    store.gate = None
    assert (await cache.get(pid)).name == "v2"  # the stale value was not kept


async def test_a_failed_publish_does_not_fail_the_change():
    store, pid = FakeStore(), uuid.uuid4()

    async def broken(_: uuid.UUID) -> None:
        raise OSError("database went away")

    cache = ConfigProvider(load=store.load, publish=broken, ttl_seconds=60, max_size=10,
                           clock=FrozenClock())
    await cache.get(pid)
    await cache.changed(pid)
    assert cache.size == 0


async def test_expiry_slides_with_use_so_a_beating_profile_stays_cached():
    store, pid = FakeStore(), uuid.uuid4()
    clock = FrozenClock()
    cache = provider(store, ttl=60, clock=clock)
    await cache.get(pid)
    for _ in range(3):  # 90 s in all, never 60 s without a use
        clock.advance(30)
        assert (await cache.get(pid)).name == "v1"
    assert store.loads == 1
    clock.advance(61)
    assert (await cache.get(pid)).name == "v2"  # idle past the TTL: loaded again


async def test_lookup_says_whether_it_cost_a_load():
    store, pid = FakeStore(), uuid.uuid4()
    cache = provider(store)
    assert (await cache.lookup_owned(pid, ACCOUNT))[1] is True
    assert (await cache.lookup_owned(pid, ACCOUNT))[1] is False
    assert await cache.lookup_owned(pid, uuid.uuid4()) == (None, False)
