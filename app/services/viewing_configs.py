"""A child profile's viewing-time config: read and partial update (the rules of when a change
applies are in app/domain/configs.py), and the parent's lock. Sensitive changes need a
pin_token; every committed change reaches each replica's config cache through
ConfigProvider.changed, so a lock holds from the very next heartbeat on every replica.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from app.domain.clock import Clock
from app.domain.configs import (
    ConfigChange,
    ConfigView,
    ScheduleView,
    ViewingConfig,
    apply_change,
    config_view,
    lock_state,
    locked,
    schedule_view,
    unlocked,
    with_schedule,
)
from app.domain.control import LockState
from app.domain.errors import PinTokenInvalid, ProfileNotFound
from app.domain.schedules import parse_schedule
from app.repositories.viewing_configs import ViewingConfigRepository
from app.services.config_cache import ConfigProvider
from app.services.pins import PinService


class ViewingConfigService:
    def __init__(self, *, configs: ViewingConfigRepository, provider: ConfigProvider,
                 pins: PinService, clock: Clock) -> None:
        self._configs = configs
        self._provider = provider
        self._pins = pins
        self._clock = clock

    async def get(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> ConfigView:
        found = await self._configs.get_owned(profile_id=profile_id, account_id=account_id)
        if found is None:
            raise ProfileNotFound()
        return config_view(*found, self._clock.now())

    async def update(self, account_id: uuid.UUID, profile_id: uuid.UUID, change: ConfigChange,
                     *, pin_token: str | None) -> ConfigView:
        await self._provider.owned(profile_id, account_id, child=True)
        if change.is_sensitive():
            if pin_token is None:
                raise PinTokenInvalid("A valid pin_token is required to change "
                                      "reset_hour or educational_exempt")
            await self._pins.check_token(account_id, pin_token)
        if not change.given():
            return await self.get(account_id, profile_id)
        now = self._clock.now()
        updated = await self._configs.update_owned(
            profile_id=profile_id, account_id=account_id,
            apply=lambda config: apply_change(config, change, now), now=now)
        if updated is None:  # deleted meanwhile
            raise ProfileNotFound()
        await self._provider.changed(profile_id)
        return config_view(*updated, now)

    async def schedule(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> ScheduleView:
        found = await self._configs.get_owned(profile_id=profile_id, account_id=account_id)
        if found is None:
            raise ProfileNotFound()
        return schedule_view(found[1])

    async def set_schedule(self, account_id: uuid.UUID, profile_id: uuid.UUID, *,
                           limits: object, allowed_hours: object) -> ScheduleView:
        """Replace the whole schedule (no pin_token: as for limits); every replica's next
        heartbeat follows it."""
        schedule = parse_schedule(limits, allowed_hours)  # 422 naming every bad field
        now = self._clock.now()
        updated = await self._configs.update_owned(
            profile_id=profile_id, account_id=account_id,
            apply=lambda config: with_schedule(config, schedule, now), now=now)
        if updated is None:
            raise ProfileNotFound()
        await self._provider.changed(profile_id)
        return schedule_view(updated[1])

    async def lock(self, account_id: uuid.UUID, profile_id: uuid.UUID,
                   until: datetime | None) -> LockState:
        """Locked from now; the next heartbeat on every replica answers blocked."""
        now = self._clock.now()
        return await self._set_lock(account_id, profile_id,
                                    lambda config: locked(config, now=now, until=until), now)

    async def unlock(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> LockState:
        return await self._set_lock(account_id, profile_id, unlocked, self._clock.now())

    async def _set_lock(self, account_id: uuid.UUID, profile_id: uuid.UUID,
                        apply: Callable[[ViewingConfig], ViewingConfig],
                        now: datetime) -> LockState:
        updated = await self._configs.update_owned(profile_id=profile_id, account_id=account_id,
                                                   apply=apply, now=now)
        if updated is None:  # unknown, another account's, or an adult's profile
            raise ProfileNotFound()
        await self._provider.changed(profile_id)
        return lock_state(updated[1], now)
