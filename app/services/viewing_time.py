"""Heartbeats, session ends, balances and eligibility: the rules of accounting.md.

The charge itself is computed inside one SQL statement (see app/repositories/heartbeats.py);
this module decides the viewing day and limit, checks ownership against cached immutable facts,
turns outcomes into enforcement states, and fails closed.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from typing import Any, NoReturn

import asyncpg

from app.domain.balance import (
    Balance,
    Enforcement,
    enforcement_for,
    minutes,
    remaining_seconds,
    shown_remaining,
)
from app.domain.clock import Clock
from app.domain.errors import (
    DatabaseUnavailable,
    DomainError,
    EnforcementUnavailable,
    ProfileNotFound,
    SessionEnded,
    SessionNotFound,
    SessionTitleMismatch,
    TitleNotFound,
)
from app.domain.profile import ProfileFacts
from app.domain.viewing_day import DayInfo
from app.repositories.heartbeats import BeatOutcome, HeartbeatRepository
from app.schemas import (
    BalanceOut,
    EligibilityOut,
    HeartbeatRequest,
    HeartbeatResponse,
    SessionEndOut,
)
from app.services.config_cache import ConfigProvider
from app.services.metrics import MetricsCollector

log = logging.getLogger(__name__)

OPEN_RETRIES = 10  # racing first beats of one profile: losers retry in turn, ending the winner


class ViewingTimeService:
    def __init__(self, *, heartbeats: HeartbeatRepository, configs: ConfigProvider,
                 clock: Clock, metrics: MetricsCollector) -> None:
        self._heartbeats = heartbeats
        self._configs = configs
        self._clock = clock
        self._metrics = metrics

    def _today(self, facts: ProfileFacts, now: datetime) -> DayInfo | None:
        return facts.limits.day_at(now) if facts.limits is not None else None

    async def heartbeat(self, account_id: uuid.UUID, beat: HeartbeatRequest) -> HeartbeatResponse:
        started = time.perf_counter()
        try:
            response, round_trips = await self._heartbeat(account_id, beat)
        except DatabaseUnavailable as exc:  # the pool is down or not connected yet: fail closed
            self._fail_closed("heartbeat", exc)
        except DomainError:  # the request's own fault (404, 409): the player gets the reason
            raise
        except Exception as exc:  # fail closed: never `allowed` when the check did not happen
            self._fail_closed("heartbeat", exc)
        self._metrics.heartbeat_done(duration_seconds=time.perf_counter() - started,
                                     round_trips=round_trips,
                                     enforcement=response.enforcement.value,
                                     profile_id=beat.profile_id)
        return response

    async def _heartbeat(self, account_id: uuid.UUID,
                         beat: HeartbeatRequest) -> tuple[HeartbeatResponse, int]:
        facts, loaded = await self._configs.lookup_owned(beat.profile_id, account_id)
        if facts is None:
            raise ProfileNotFound()
        statements = 1 + loaded
        if beat.session_id is None:
            session_id = uuid.uuid4()
            for attempt in range(OPEN_RETRIES):
                try:
                    async with self._heartbeats.connected() as db:
                        now = self._clock.now()  # each attempt acts at its own instant
                        limit_minutes, common = self._beat_args(facts, beat, now)
                        outcome = await db.open_session(
                            session_id=session_id, account_id=account_id,
                            device_id=beat.device_id, device_type=beat.device_type.value,
                            serialized=attempt > 0, **common)
                    break
                except asyncpg.UniqueViolationError:
                    if attempt == OPEN_RETRIES - 1:
                        raise
                    statements += 4  # the retry: BEGIN, lock, statement, COMMIT
            if not outcome.found:
                raise TitleNotFound()
        else:
            session_id = beat.session_id
            async with self._heartbeats.connected() as db:
                now = self._clock.now()
                limit_minutes, common = self._beat_args(facts, beat, now)
                outcome = await db.continue_session(session_id=session_id, **common)
            self._raise_for(outcome)
        return self._respond(session_id, facts, limit_minutes, outcome), statements

    def _beat_args(self, facts: ProfileFacts, beat: HeartbeatRequest,
                   now: datetime) -> tuple[int | None, dict[str, Any]]:
        """The viewing day and limit at `now`, and the statement's arguments."""
        today = self._today(facts, now)
        limit_minutes = today.limit_minutes if today else None
        exempt = facts.limits.educational_exempt if facts.limits else False
        return limit_minutes, dict(
            profile_id=beat.profile_id, title_id=beat.title_id, now=now,
            is_paused=beat.is_paused, day=today.day if today else now.date(),
            limit_seconds=None if limit_minutes is None else limit_minutes * 60,
            educational_exempt=exempt, is_kids=facts.is_kids)

    def _fail_closed(self, check: str, exc: Exception) -> NoReturn:
        """Never `allowed` when the check did not happen: a blocked answer, counted and logged."""
        log.warning("%s failed closed: %r", check, exc)
        if check == "heartbeat":
            self._metrics.heartbeat_failed()
            raise EnforcementUnavailable() from exc
        raise EnforcementUnavailable(eligibility=True) from exc

    @staticmethod
    def _raise_for(outcome: BeatOutcome) -> None:
        if not outcome.found:
            raise SessionNotFound()
        if outcome.ended:
            raise SessionEnded()
        if outcome.title_mismatch:
            raise SessionTitleMismatch()

    @staticmethod
    def _respond(session_id: uuid.UUID, facts: ProfileFacts, limit_minutes: int | None,
                 outcome: BeatOutcome) -> HeartbeatResponse:
        balance = outcome.balance
        remaining = remaining_seconds(limit_minutes, balance) if facts.is_kids else None
        exempt_session = outcome.is_educational and facts.limits is not None \
            and facts.limits.educational_exempt
        # An exempt educational title is never counted against the limit, so it is never
        # stopped by it either; the remaining time is still shown.
        state = Enforcement.allowed if exempt_session else enforcement_for(remaining)
        return HeartbeatResponse(session_id=session_id, enforcement=state,
                                 remaining_minutes=shown_remaining(remaining),
                                 used_minutes=minutes(balance.used_seconds),
                                 is_educational=outcome.is_educational)

    async def end_session(self, account_id: uuid.UUID, session_id: uuid.UUID) -> SessionEndOut:
        async with self._heartbeats.connected() as db:
            ended = await db.end_session(session_id=session_id, account_id=account_id,
                                         now=self._clock.now())
        if ended is None:
            raise SessionNotFound()
        return SessionEndOut(session_id=ended.session_id, total_seconds=float(ended.total_seconds),
                             ended_at=ended.ended_at)

    async def _child_balance(self, facts: ProfileFacts) -> tuple[DayInfo, Balance]:
        today = self._today(facts, self._clock.now())
        assert today is not None
        return today, await self._heartbeats.balance(profile_id=facts.profile_id, day=today.day)

    async def balance(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> BalanceOut:
        facts = await self._configs.owned(profile_id, account_id)
        if not facts.is_kids:
            return BalanceOut(profile_id=profile_id, is_child_profile=False, has_limits=False,
                              used_minutes=0, educational_minutes=0, limit_minutes=None,
                              remaining_minutes=None, is_unlimited_override=False,
                              next_reset_at=None)
        today, balance = await self._child_balance(facts)
        remaining = remaining_seconds(today.limit_minutes, balance)
        return BalanceOut(profile_id=profile_id, is_child_profile=True,
                          has_limits=today.limit_minutes is not None,
                          used_minutes=minutes(balance.used_seconds),
                          educational_minutes=minutes(balance.educational_seconds),
                          limit_minutes=today.limit_minutes,
                          remaining_minutes=shown_remaining(remaining),
                          is_unlimited_override=balance.is_unlimited_override,
                          next_reset_at=today.next_reset_at)

    async def playback_eligible(self, account_id: uuid.UUID,
                                profile_id: uuid.UUID) -> EligibilityOut:
        try:
            facts = await self._configs.owned(profile_id, account_id)
            if not facts.is_kids:
                return EligibilityOut(eligible=True, remaining_minutes=None, reason=None,
                                      next_reset_at=None)
            today, balance = await self._child_balance(facts)
        except DatabaseUnavailable as exc:
            self._fail_closed("eligibility", exc)
        except DomainError:
            raise
        except Exception as exc:
            self._fail_closed("eligibility", exc)
        remaining = remaining_seconds(today.limit_minutes, balance)
        exhausted = remaining is not None and remaining <= 0
        return EligibilityOut(eligible=not exhausted, remaining_minutes=shown_remaining(remaining),
                              reason="viewing_time_exhausted" if exhausted else None,
                              next_reset_at=today.next_reset_at)

    async def sweep(self) -> int:
        """Close sessions silent for longer than the stale gap."""
        return await self._heartbeats.sweep_stale(now=self._clock.now())
