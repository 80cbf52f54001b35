"""Pairing players with a profile, and the registry that checks device tokens.

A device token is valid while its device exists. Checking that on every heartbeat must cost no
round trip, so each replica keeps the devices it has seen in a TTL cache; a deletion reaches
every replica through the same NOTIFY channel as config changes (well within a second), and a
lost LISTEN connection clears the cache. A token of a deleted device is remembered as such (ids
are never reused), so replaying it costs no query either.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from cachetools import TTLCache

from app.domain.clock import Clock
from app.domain.devices import Device, DeviceNotFound, PairedDevice, seen_due
from app.repositories.devices import DeviceRepository
from app.services.config_cache import ConfigProvider
from app.services.tokens import TokenService


class DeviceRegistry:
    def __init__(self, *, devices: DeviceRepository, clock: Clock, ttl_seconds: float,
                 max_size: int) -> None:
        self._devices = devices
        self._clock = clock
        self._cache: TTLCache[uuid.UUID, Device | None] = TTLCache(
            maxsize=max_size, ttl=ttl_seconds, timer=lambda: clock.now().timestamp())
        self._generation = 0
        self._seen: dict[uuid.UUID, datetime] = {}  # written by flush_seen, once a minute

    async def lookup(self, device_id: uuid.UUID) -> Device | None:
        """The device, or None once it is deleted (a query only on a cold cache)."""
        try:
            return self._cache[device_id]
        except KeyError:
            pass
        generation = self._generation
        device = await self._devices.load(device_id)
        if generation == self._generation:  # no invalidation raced the load
            self._cache[device_id] = device
        return device

    def invalidate(self, entity_id: uuid.UUID) -> None:
        """A deleted device, or a changed profile (deleting one deletes its devices): rare
        parent actions, so the scan of the cache is cheap enough."""
        self._generation += 1
        self._cache.pop(entity_id, None)
        for device_id, device in list(self._cache.items()):
            if device is not None and device.profile_id == entity_id:
                self._cache.pop(device_id, None)

    def clear(self) -> None:
        self._generation += 1
        self._cache.clear()

    def seen(self, device: Device) -> None:
        """Note a beat; last_seen_at moves at most once a minute, in the background."""
        now = self._clock.now()
        last = self._seen.get(device.id, device.last_seen_at)
        if seen_due(last, now):
            self._seen[device.id] = now
            self._cache[device.id] = replace(device, last_seen_at=now)

    async def flush_seen(self) -> int:
        seen, self._seen = self._seen, {}
        await self._devices.touch_seen(seen)
        return len(seen)


class DeviceService:
    def __init__(self, *, devices: DeviceRepository, configs: ConfigProvider,
                 tokens: TokenService, clock: Clock) -> None:
        self._devices = devices
        self._configs = configs
        self._tokens = tokens
        self._clock = clock

    async def pair(self, account_id: uuid.UUID, profile_id: uuid.UUID, *, name: str,
                   device_type: str) -> PairedDevice:
        device = await self._devices.add(account_id=account_id, profile_id=profile_id,
                                         name=name, device_type=device_type,
                                         now=self._clock.now())
        return PairedDevice(device, self._tokens.issue_device_token(device))

    def token_for(self, device: Device) -> str:
        """The device's token again (it is a signed claim, not a stored secret): for the local
        demo, which pairs its player once and prints the token on every start."""
        return self._tokens.issue_device_token(device)

    async def list(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> list[Device]:
        await self._configs.owned(profile_id, account_id)
        return await self._devices.list_for(account_id=account_id, profile_id=profile_id)

    async def delete(self, account_id: uuid.UUID, device_id: uuid.UUID) -> None:
        if not await self._devices.delete(account_id=account_id, device_id=device_id):
            raise DeviceNotFound()
        await self._configs.changed(device_id)  # here (the registry depends on it) and by NOTIFY
