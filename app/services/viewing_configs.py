"""A child profile's viewing-time config: read, partial update, and when a change applies.

Limits and educational_exempt apply at once. A reset_hour or timezone change never moves the
current viewing day (accounting.md): the old rule is kept as previous_* until `effective_from`,
the next reset under it. A second change before then keeps that pending switch-over instant.
Every committed change reaches each replica's config cache through ConfigProvider.changed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.clock import Clock
from app.domain.errors import PinTokenInvalid, ProfileNotFound
from app.domain.viewing_day import DayRule, LimitConfig
from app.models import ViewingTimeConfig
from app.repositories.viewing_configs import ViewingConfigRepository
from app.schemas import ViewingTimeConfigOut, ViewingTimeConfigUpdate
from app.services.config_cache import ConfigProvider
from app.services.pins import PinService


def limits_of(config: ViewingTimeConfig) -> LimitConfig:
    previous = None
    if config.previous_reset_hour is not None and config.previous_timezone is not None:
        previous = DayRule(ZoneInfo(config.previous_timezone), config.previous_reset_hour)
    return LimitConfig(
        weekday_limit_minutes=config.weekday_limit_minutes,
        weekend_limit_minutes=config.weekend_limit_minutes,
        educational_exempt=config.educational_exempt,
        rule=DayRule(ZoneInfo(config.timezone), config.reset_hour),
        previous_rule=previous,
        effective_from=config.effective_from,
    )


def _pending(config: ViewingTimeConfig, now: datetime) -> bool:
    return config.previous_reset_hour is not None and config.effective_from is not None \
        and now < config.effective_from


def apply_changes(config: ViewingTimeConfig, changes: dict[str, Any], now: datetime) -> None:
    """Change `config` in place as the rules say; `changes` holds only the fields given."""
    hour = changes.pop("reset_hour", config.reset_hour)
    zone = changes.pop("timezone", config.timezone)
    if (hour, zone) != (config.reset_hour, config.timezone):
        if not _pending(config, now):
            # From the next reset under the rule in force now (a stale previous_* included).
            config.effective_from = limits_of(config).day_at(now).next_reset_at
            config.previous_reset_hour = config.reset_hour
            config.previous_timezone = config.timezone
        config.reset_hour, config.timezone = hour, zone
        if (hour, zone) == (config.previous_reset_hour, config.previous_timezone):
            # Changed back before the switch-over: nothing is pending any more.
            config.previous_reset_hour = config.previous_timezone = None
            config.effective_from = None
    for name, value in changes.items():
        setattr(config, name, value)
    config.updated_at = now


def config_out(name: str, config: ViewingTimeConfig, now: datetime) -> ViewingTimeConfigOut:
    return ViewingTimeConfigOut(
        profile_id=config.profile_id, profile_name=name,
        weekday_limit_minutes=config.weekday_limit_minutes,
        weekend_limit_minutes=config.weekend_limit_minutes,
        reset_hour=config.reset_hour, educational_exempt=config.educational_exempt,
        timezone=config.timezone, updated_at=config.updated_at,
        effective_from=config.effective_from if _pending(config, now) else None,
    )


class ViewingConfigService:
    def __init__(self, *, configs: ViewingConfigRepository, provider: ConfigProvider,
                 pins: PinService, clock: Clock) -> None:
        self._configs = configs
        self._provider = provider
        self._pins = pins
        self._clock = clock

    async def get(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> ViewingTimeConfigOut:
        found = await self._configs.get_owned(profile_id=profile_id, account_id=account_id)
        if found is None:
            raise ProfileNotFound()
        return config_out(*found, self._clock.now())

    async def update(self, account_id: uuid.UUID, profile_id: uuid.UUID,
                     body: ViewingTimeConfigUpdate) -> ViewingTimeConfigOut:
        await self._provider.owned(profile_id, account_id, child=True)
        changes = body.changes()
        if body.SENSITIVE & changes.keys():
            if body.pin_token is None:
                raise PinTokenInvalid("A valid pin_token is required to change "
                                      "reset_hour or educational_exempt")
            await self._pins.check_token(account_id, body.pin_token)
        if not changes:
            return await self.get(account_id, profile_id)
        now = self._clock.now()
        updated = await self._configs.update_owned(
            profile_id=profile_id, account_id=account_id,
            apply=lambda config: apply_changes(config, dict(changes), now))
        if updated is None:  # deleted meanwhile
            raise ProfileNotFound()
        await self._provider.changed(profile_id)
        return config_out(*updated, now)
