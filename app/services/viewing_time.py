"""Heartbeats, session ends, balances and eligibility: the rules of docs/time-accounting.md.

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

from app.domain.balance import Balance
from app.domain.clock import Clock
from app.domain.control import STOPPED_BY_PARENT, LiveSession, Reason
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
from app.domain.heartbeat import (
    ALWAYS_ELIGIBLE,
    Beat,
    BeatAnswer,
    DayBalance,
    Eligibility,
    EndedSession,
    Moment,
    adult_balance,
    beat_answer,
    day_balance,
    eligibility,
)
from app.domain.profile import ProfileFacts
from app.domain.viewing_day import DayInfo
from app.repositories.heartbeats import BeatOutcome, HeartbeatRepository
from app.repositories.live_sessions import LiveSessionRepository
from app.services.config_cache import ConfigProvider
from app.services.metrics import MetricsCollector

log = logging.getLogger(__name__)

OPEN_RETRIES = 10  # racing first beats of one profile: losers retry in turn, ending the winner


def _moment(facts: ProfileFacts, today: DayInfo | None, now: datetime) -> Moment:
    """Where the profile's day stands at `now` (adults: nothing limits them)."""
    limits = facts.limits
    if limits is None or today is None:
        return Moment(now, None)
    return Moment(now, today.next_reset_at, limits.lock, limits.allowance(now),
                  limits.opens_at if limits.schedule.hours is not None else None)


def _halt_reason(*, outside: bool, locked: bool) -> str | None:
    """Why a beat is halted, for its statement (None: it is not). Outside the allowed hours
    comes first: then no time is left in them, whatever else holds."""
    if outside:
        return Reason.outside_allowed_hours.value
    return Reason.locked_by_parent.value if locked else None


class ViewingTimeService:
    def __init__(self, *, heartbeats: HeartbeatRepository, live: LiveSessionRepository,
                 configs: ConfigProvider, clock: Clock, metrics: MetricsCollector) -> None:
        self._heartbeats = heartbeats
        self._live = live
        self._configs = configs
        self._clock = clock
        self._metrics = metrics

    def _today(self, facts: ProfileFacts, now: datetime) -> DayInfo | None:
        return facts.limits.day_at(now) if facts.limits is not None else None

    async def heartbeat(self, account_id: uuid.UUID, beat: Beat) -> BeatAnswer:
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

    async def _heartbeat(self, account_id: uuid.UUID, beat: Beat) -> tuple[BeatAnswer, int]:
        """The answer, and the database round trips it took (the config load's included)."""
        facts, loaded = await self._configs.lookup_owned(beat.profile_id, account_id)
        if facts is None:
            raise ProfileNotFound()
        round_trips = int(loaded)  # a cache miss loaded the profile's facts: one round trip
        if beat.session_id is None:
            session_id = uuid.uuid4()
            for attempt in range(OPEN_RETRIES):
                async with self._heartbeats.connected() as db:
                    now = self._clock.now()  # each attempt acts at its own instant
                    today, moment, common = self._beat_args(facts, beat, now)
                    outcome = await db.open_session(
                        session_id=session_id, account_id=account_id,
                        device_id=beat.device_id, device_type=beat.device_type,
                        serialized=attempt > 0, **common)
                round_trips += outcome.round_trips
                if not outcome.raced:
                    break
            else:
                raise RuntimeError(f"first beats kept racing for {OPEN_RETRIES} attempts")
            if not outcome.found:
                raise TitleNotFound()
        else:
            session_id = beat.session_id
            async with self._heartbeats.connected() as db:
                now = self._clock.now()
                today, moment, common = self._beat_args(facts, beat, now)
                outcome = await db.continue_session(session_id=session_id, **common)
            round_trips += outcome.round_trips
            self._raise_for(outcome)
        limits = facts.limits
        return beat_answer(session_id, is_kids=facts.is_kids,
                           limit_minutes=today.limit_minutes if today else None,
                           balance=outcome.balance, is_educational=outcome.is_educational,
                           educational_exempt=limits is not None and limits.educational_exempt,
                           moment=moment), round_trips

    def _beat_args(self, facts: ProfileFacts, beat: Beat,
                   now: datetime) -> tuple[DayInfo | None, Moment, dict[str, Any]]:
        """The viewing day and limit at `now` (None for adults), where the day stands (the
        answer needs it too), and the statement's arguments."""
        today = self._today(facts, now)
        limit_minutes = today.limit_minutes if today else None
        limits = facts.limits
        moment = _moment(facts, today, now)
        allowance = moment.allowance
        outside = allowance is not None and not allowance.inside
        return today, moment, dict(
            profile_id=beat.profile_id, title_id=beat.title_id, now=now,
            is_paused=beat.is_paused, day=today.day if today else now.date(),
            limit_seconds=None if limit_minutes is None else limit_minutes * 60,
            educational_exempt=limits.educational_exempt if limits else False,
            is_kids=facts.is_kids,
            halt_reason=_halt_reason(outside=outside,
                                     locked=limits is not None and limits.locked_at(now)),
            window_end=allowance.ends_at if allowance is not None else None)

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
            raise SessionEnded(reason=outcome.end_reason)
        if outcome.title_mismatch:
            raise SessionTitleMismatch()

    async def end_session(self, account_id: uuid.UUID, session_id: uuid.UUID, *,
                          profile_id: uuid.UUID | None = None) -> EndedSession:
        """`profile_id`: a device's call, which reaches its own profile's sessions only."""
        async with self._heartbeats.connected() as db:
            ended = await db.end_session(session_id=session_id, account_id=account_id,
                                         profile_id=profile_id, now=self._clock.now())
        if ended is None:
            raise SessionNotFound()
        return ended

    async def stop(self, account_id: uuid.UUID, session_id: uuid.UUID) -> EndedSession:
        """A parent ends a session at once (refunds as for any end); the player's next beat
        answers 409 with reason stopped_by_parent. Stopping twice answers the same."""
        async with self._heartbeats.connected() as db:
            ended = await db.end_session(session_id=session_id, account_id=account_id,
                                         profile_id=None, now=self._clock.now(),
                                         end_reason=STOPPED_BY_PARENT)
        if ended is None:
            raise SessionNotFound()
        return ended

    async def sessions(self, account_id: uuid.UUID, profile_id: uuid.UUID, *, open_only: bool,
                       limit: int) -> list[LiveSession]:
        await self._configs.owned(profile_id, account_id)
        return await self._live.list_for(account_id=account_id, profile_id=profile_id,
                                         open_only=open_only, limit=limit)

    async def _child_balance(self, facts: ProfileFacts) -> tuple[DayInfo, Balance, Moment]:
        now = self._clock.now()
        today = self._today(facts, now)
        assert today is not None and facts.limits is not None
        balance = await self._heartbeats.balance(profile_id=facts.profile_id, day=today.day)
        return today, balance, _moment(facts, today, now)

    async def balance(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> DayBalance:
        facts = await self._configs.owned(profile_id, account_id)
        if not facts.is_kids:
            return adult_balance(profile_id)
        today, balance, moment = await self._child_balance(facts)
        return day_balance(profile_id, limit_minutes=today.limit_minutes, balance=balance,
                           moment=moment)

    async def playback_eligible(self, account_id: uuid.UUID,
                                profile_id: uuid.UUID) -> Eligibility:
        try:
            facts = await self._configs.owned(profile_id, account_id)
            if not facts.is_kids:
                return ALWAYS_ELIGIBLE
            today, balance, moment = await self._child_balance(facts)
        except DatabaseUnavailable as exc:
            self._fail_closed("eligibility", exc)
        except DomainError:
            raise
        except Exception as exc:
            self._fail_closed("eligibility", exc)
        return eligibility(limit_minutes=today.limit_minutes, balance=balance, moment=moment)

    async def sweep(self) -> int:
        """Close sessions silent for longer than the stale gap."""
        return await self._heartbeats.sweep_stale(now=self._clock.now())
