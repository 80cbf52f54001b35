"""A heartbeat as the player reports it, and the answers the player and the parent app get.

The answers are computed here from the day's balance, the same way for every endpoint: a beat,
a balance, an eligibility check. The field names are the API's, so the heartbeat's answer is
serialised as it is (no copy into a response model on the hot path).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from app.domain.balance import (
    Balance,
    Enforcement,
    enforcement_for,
    minutes,
    remaining_seconds,
    shown_remaining,
)
from app.domain.control import Block, Lock, Reason, blocks_at, decisive


@dataclass(frozen=True, slots=True)
class Beat:
    profile_id: uuid.UUID
    title_id: uuid.UUID
    session_id: uuid.UUID | None  # None: the first beat, which opens a session
    device_id: str
    device_type: str
    is_paused: bool


@dataclass(frozen=True, slots=True)
class Moment:
    """Where a child's day stands at an instant, beside its balance."""

    now: datetime
    next_reset_at: datetime | None
    lock: Lock | None = None


@dataclass(frozen=True, slots=True)
class BeatAnswer:
    session_id: uuid.UUID
    enforcement: Enforcement
    remaining_minutes: float | None
    used_minutes: float
    is_educational: bool
    reason: Reason | None  # why not allowed; None while watching is allowed
    next_allowed_at: datetime | None  # when blocked: when watching may resume, if known


def _block(remaining: Decimal | None, moment: Moment) -> Block | None:
    exhausted = remaining is not None and remaining <= 0
    return decisive(blocks_at(moment.now, exhausted=exhausted,
                              next_reset_at=moment.next_reset_at, lock=moment.lock))


def beat_answer(session_id: uuid.UUID, *, is_kids: bool, limit_minutes: int | None,
                balance: Balance, is_educational: bool, educational_exempt: bool,
                moment: Moment) -> BeatAnswer:
    """An exempt educational title is never counted against the limit, so it is never stopped
    by it either (a parent's lock stops it); the remaining time is still shown."""
    remaining = remaining_seconds(limit_minutes, balance) if is_kids else None
    exempt = is_educational and educational_exempt
    block = _block(None if exempt else remaining, moment)
    if block is not None:
        state = Enforcement.blocked
    else:
        state = Enforcement.allowed if exempt else enforcement_for(remaining)
    return BeatAnswer(session_id=session_id, enforcement=state,
                      remaining_minutes=shown_remaining(remaining),
                      used_minutes=minutes(balance.used_seconds), is_educational=is_educational,
                      reason=block.reason if block else None,
                      next_allowed_at=block.until if block else None)


@dataclass(frozen=True, slots=True)
class EndedSession:
    session_id: uuid.UUID
    total_seconds: Decimal
    ended_at: datetime


@dataclass(frozen=True, slots=True)
class DayBalance:
    """Today's balance as the parent app shows it."""

    profile_id: uuid.UUID
    is_child_profile: bool
    has_limits: bool
    used_minutes: float
    educational_minutes: float
    limit_minutes: int | None
    remaining_minutes: float | None
    is_unlimited_override: bool
    next_reset_at: datetime | None
    granted_minutes: int = 0  # granted today (the unlimited grant is is_unlimited_override)
    reason: Reason | None = None  # what the next heartbeat (of a regular title) would answer
    next_allowed_at: datetime | None = None


def day_balance(profile_id: uuid.UUID, *, limit_minutes: int | None, balance: Balance,
                moment: Moment) -> DayBalance:
    remaining = remaining_seconds(limit_minutes, balance)
    block = _block(remaining, moment)
    return DayBalance(profile_id=profile_id, is_child_profile=True,
                      has_limits=limit_minutes is not None,
                      used_minutes=minutes(balance.used_seconds),
                      educational_minutes=minutes(balance.educational_seconds),
                      limit_minutes=limit_minutes, remaining_minutes=shown_remaining(remaining),
                      is_unlimited_override=balance.is_unlimited_override,
                      next_reset_at=moment.next_reset_at,
                      granted_minutes=balance.granted_seconds // 60,
                      reason=block.reason if block else None,
                      next_allowed_at=block.until if block else None)


def adult_balance(profile_id: uuid.UUID) -> DayBalance:
    """Adults have no limits: their balance is always empty."""
    return DayBalance(profile_id=profile_id, is_child_profile=False, has_limits=False,
                      used_minutes=0.0, educational_minutes=0.0,
                      limit_minutes=None, remaining_minutes=None, is_unlimited_override=False,
                      next_reset_at=None)


@dataclass(frozen=True, slots=True)
class Eligibility:
    eligible: bool
    remaining_minutes: float | None
    reason: str | None
    next_reset_at: datetime | None
    next_allowed_at: datetime | None = None


ALWAYS_ELIGIBLE = Eligibility(eligible=True, remaining_minutes=None, reason=None,
                              next_reset_at=None)
# Eligibility keeps the name existing player apps match on for a spent day.
ELIGIBILITY_REASONS = {Reason.daily_limit_reached: "viewing_time_exhausted"}


def eligibility(*, limit_minutes: int | None, balance: Balance, moment: Moment) -> Eligibility:
    """May playback start? Not once the day's time is used up, nor while locked."""
    remaining = remaining_seconds(limit_minutes, balance)
    block = _block(remaining, moment)
    reason = None if block is None else ELIGIBILITY_REASONS.get(block.reason, block.reason.value)
    return Eligibility(eligible=block is None, remaining_minutes=shown_remaining(remaining),
                       reason=reason, next_reset_at=moment.next_reset_at,
                       next_allowed_at=block.until if block else None)
