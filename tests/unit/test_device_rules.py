"""Device tokens' rules with no database: who a caller may act for, the registry's cache."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.devices import Caller, Device, seen_due
from app.domain.errors import ProfileNotFound
from app.services.clock import FrozenClock
from app.services.devices import DeviceRegistry

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
ACCOUNT, KID, SIBLING = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def device(profile_id: uuid.UUID = KID) -> Device:
    return Device(id=uuid.uuid4(), profile_id=profile_id, account_id=ACCOUNT, name="TV",
                  device_type="tv", created_at=NOW, last_seen_at=None)


class Devices:
    """The repository's two registry calls, counted."""

    def __init__(self, *known: Device) -> None:
        self.known = {d.id: d for d in known}
        self.loads = 0
        self.touched: list[dict[uuid.UUID, datetime]] = []

    async def load(self, device_id: uuid.UUID) -> Device | None:
        self.loads += 1
        return self.known.get(device_id)

    async def touch_seen(self, seen: dict[uuid.UUID, datetime]) -> None:
        self.touched.append(dict(seen))


def registry(repository: Devices, clock: FrozenClock) -> DeviceRegistry:
    return DeviceRegistry(devices=repository, clock=clock, ttl_seconds=300,  # type: ignore[arg-type]
                          max_size=100)


def test_a_device_acts_for_its_own_profile_only():
    tv = Caller(ACCOUNT, device())
    tv.may_act_for(KID)
    with pytest.raises(ProfileNotFound):
        tv.may_act_for(SIBLING)
    Caller(ACCOUNT).may_act_for(SIBLING)  # the parent reaches every profile of the account
    assert (tv.profile_id, Caller(ACCOUNT).profile_id) == (KID, None)


def test_last_seen_is_due_once_a_minute():
    assert seen_due(None, NOW)
    assert not seen_due(NOW, NOW + timedelta(seconds=59.9))
    assert seen_due(NOW, NOW + timedelta(minutes=1))


async def test_a_known_device_is_loaded_once_and_a_deleted_one_is_remembered_as_gone():
    tv = device()
    repository = Devices(tv)
    devices = registry(repository, FrozenClock(NOW))
    assert await devices.lookup(tv.id) == tv
    assert await devices.lookup(tv.id) == tv
    ghost = uuid.uuid4()
    assert await devices.lookup(ghost) is None
    assert await devices.lookup(ghost) is None
    assert repository.loads == 2


async def test_invalidating_a_device_or_its_profile_forgets_it():
    tv, tablet = device(), device(SIBLING)
    repository = Devices(tv, tablet)
    devices = registry(repository, FrozenClock(NOW))
    await devices.lookup(tv.id), await devices.lookup(tablet.id)
    del repository.known[tv.id]
    devices.invalidate(KID)  # the profile was deleted, and its devices with it
    assert await devices.lookup(tv.id) is None
    assert await devices.lookup(tablet.id) == tablet
    assert repository.loads == 3
    devices.clear()
    assert await devices.lookup(tablet.id) == tablet
    assert repository.loads == 4


async def test_the_ttl_runs_on_the_service_clock():
    tv = device()
    repository, clock = Devices(tv), FrozenClock(NOW)
    devices = registry(repository, clock)
    await devices.lookup(tv.id)
    clock.advance(299)
    await devices.lookup(tv.id)
    clock.advance(2)
    await devices.lookup(tv.id)
    assert repository.loads == 2


async def test_seen_devices_are_written_in_one_batch_at_most_once_a_minute():
    tv, tablet = device(), device()
    repository, clock = Devices(tv, tablet), FrozenClock(NOW)
    devices = registry(repository, clock)
    devices.seen(tv)
    devices.seen(tablet)
    clock.advance(30)
    devices.seen(tv)  # within the minute: the first instant stands
    assert await devices.flush_seen() == 2
    assert repository.touched == [{tv.id: NOW, tablet.id: NOW}]
    assert await devices.flush_seen() == 0
    clock.advance(31)
    devices.seen((await devices.lookup(tv.id)) or tv)
    assert await devices.flush_seen() == 1
    assert repository.touched[-1] == {tv.id: NOW + timedelta(seconds=61)}
