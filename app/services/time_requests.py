"""Asking for more time: the child (a player's device, or the account) asks, a parent decides.

The viewing day and its limit come from the cached profile facts, as for the heartbeat; what
only the database knows (a pending request, the day's count, an unlimited grant) is checked
in the creating transaction. An approval is a remote grant by the deciding account, so it
applies from the very next heartbeat.
"""

from __future__ import annotations

import uuid

from app.domain.clock import Clock
from app.domain.errors import AccountGone
from app.domain.heartbeat import Moment
from app.domain.time_requests import (
    EXPIRED,
    NotLimited,
    TimeRequest,
    TimeRequestNotFound,
    expiry,
    granted_minutes,
)
from app.repositories.time_requests import Outcome, TimeRequestRepository
from app.services.config_cache import ConfigProvider
from app.services.metrics import MetricsCollector

LISTED = 500  # newest first; 3 a day per child makes this months of requests


class TimeRequestService:
    def __init__(self, *, requests: TimeRequestRepository, configs: ConfigProvider,
                 clock: Clock, metrics: MetricsCollector, ttl_seconds: int) -> None:
        self._requests = requests
        self._configs = configs
        self._clock = clock
        self._metrics = metrics
        self._ttl = ttl_seconds

    async def create(self, account_id: uuid.UUID, profile_id: uuid.UUID, *, minutes: int,
                     message: str | None) -> TimeRequest:
        facts = await self._configs.owned(profile_id, account_id, child=True)
        assert facts.limits is not None
        now = self._clock.now()
        today = facts.limits.day_at(now)
        if today.limit_minutes is None:  # no limit today (the week's or the schedule's)
            raise NotLimited()
        outcome = await self._requests.create(
            profile_id=profile_id, day=today.day, minutes=minutes, message=message, now=now,
            expires_at=expiry(now, ttl_seconds=self._ttl, day_ends_at=today.next_reset_at),
            next_day_at=today.next_reset_at)
        request = self._settled(outcome)
        self._metrics.time_request_made()
        return request

    async def get(self, account_id: uuid.UUID, request_id: uuid.UUID, *,
                  profile_id: uuid.UUID | None = None) -> TimeRequest:
        """`profile_id`: a device's call, which sees its own profile's requests only."""
        request = await self._requests.get(account_id=account_id, request_id=request_id)
        if request is None or (profile_id is not None and request.profile_id != profile_id):
            raise TimeRequestNotFound()
        return request.seen_at(self._clock.now())

    async def list(self, account_id: uuid.UUID, *, pending_only: bool) -> list[TimeRequest]:
        now = self._clock.now()
        listed = await self._requests.list_for(account_id=account_id, pending_only=pending_only,
                                               now=now, limit=LISTED)
        # None: maybe a deleted account whose token is still signed and unexpired.
        if not listed and not await self._requests.account_exists(account_id):
            raise AccountGone()
        return [request.seen_at(now) for request in listed]

    async def decide(self, account_id: uuid.UUID, request_id: uuid.UUID, *, approve: bool,
                     minutes: int | None, minutes_given: bool) -> TimeRequest:
        """Approve (`minutes` when `minutes_given`, None there = unlimited; else as asked) or
        deny; RequestClosed once decided or expired."""
        asked = await self._requests.get(account_id=account_id, request_id=request_id)
        if asked is None:
            raise TimeRequestNotFound()
        granted = granted_minutes(asked.minutes, decided=minutes, given=minutes_given)
        now = self._clock.now()
        # the request's viewing day is today's: a request expires when its day ends
        facts = await self._configs.owned(asked.profile_id, account_id, child=True)
        assert facts.limits is not None
        window_left = Moment(now, None, allowance=facts.limits.allowance(now)).window_left()
        outcome = await self._requests.decide(account_id=account_id, request_id=request_id,
                                              approve=approve, granted_minutes=granted, now=now,
                                              limit_minutes=facts.limits.day_at(now).limit_minutes,
                                              window_seconds=window_left)
        request = self._settled(outcome)
        self._metrics.time_request_closed(request.status)
        return request

    async def sweep(self) -> int:
        """Expire every pending request past its expiry (each replica, every few seconds)."""
        expired = await self._requests.expire_due(now=self._clock.now())
        for _ in expired:
            self._metrics.time_request_closed(EXPIRED)
        return len(expired)

    def _settled(self, outcome: Outcome) -> TimeRequest:
        """The request made or decided; counts what was found expired on the way and raises
        the refusal, if any (the expiries are committed either way)."""
        for _ in outcome.expired:
            self._metrics.time_request_closed(EXPIRED)
        if outcome.refused is not None:
            raise outcome.refused
        assert outcome.request is not None
        return outcome.request
