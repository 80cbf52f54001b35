"""Extra viewing time for today: remote (the parent's signed-in device) or on-device (PIN or
pin_token), each with an audit row. The heartbeat reads the day's balance row on every beat,
so a grant applies from the very next heartbeat on every replica."""

from __future__ import annotations

import uuid
from decimal import Decimal

from app.domain.balance import Balance, remaining_seconds, shown_remaining
from app.domain.clock import Clock
from app.domain.errors import ProfileNotFound
from app.domain.grants import Granted, GrantRecord
from app.domain.heartbeat import Moment
from app.repositories.grants import GrantRepository
from app.services.config_cache import ConfigProvider
from app.services.pins import PinService

GRANTS_LISTED = 500  # the newest; an audit trail longer than that is for an export, not a page


class GrantService:
    def __init__(self, *, grants: GrantRepository, configs: ConfigProvider, pins: PinService,
                 clock: Clock) -> None:
        self._grants = grants
        self._configs = configs
        self._pins = pins
        self._clock = clock

    async def grant(self, account_id: uuid.UUID, profile_id: uuid.UUID, *, minutes: int | None,
                    pin: str | None, pin_token: str | None) -> Granted:
        """Add `minutes` (None: unlimited) to today; remote unless a PIN or pin_token comes."""
        facts = await self._configs.owned(profile_id, account_id, child=True)
        if pin is not None:  # on-device, with the PIN: counts toward the lockout
            await self._pins.check(account_id, pin)
        elif pin_token is not None:  # on-device, after a recent /pin/verify
            await self._pins.check_token(account_id, pin_token)
        is_remote = pin is None and pin_token is None
        now = self._clock.now()
        assert facts.limits is not None
        today = facts.limits.day_at(now)
        # what is left of the allowed hours bounds the remaining time the grant may lift
        window_left = Moment(now, None, allowance=facts.limits.allowance(now)).window_left()
        day = await self._grants.add(profile_id=profile_id, granted_by=account_id, day=today.day,
                                     minutes=minutes, is_remote=is_remote, now=now,
                                     limit_minutes=today.limit_minutes,
                                     window_seconds=window_left)
        if day is None:
            raise ProfileNotFound()
        # The viewing day's educational seconds do not enter the remaining time.
        balance = Balance(day.used_seconds, Decimal(0), day.granted_seconds,
                          day.is_unlimited_override)
        return Granted(granted_minutes=minutes,
                       remaining_minutes=shown_remaining(
                           remaining_seconds(today.limit_minutes, balance)),
                       is_unlimited_override=day.is_unlimited_override)

    async def list(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> list[GrantRecord]:
        await self._configs.owned(profile_id, account_id, child=True)
        return await self._grants.list_for(profile_id, limit=GRANTS_LISTED)
