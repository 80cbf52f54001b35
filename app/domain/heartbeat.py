"""A heartbeat as the player reports it, and the answers the player and the parent app get.

The answers are computed here from the day's balance, the same way for every endpoint: a beat,
a balance, an eligibility check. The field names are the API's, so the heartbeat's answer is
serialised as it is (no copy into a response model on the hot path).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
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
from app.domain.schedules import Allowance


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
    """Where a child's day stands at an instant, beside its balance: the lock, and where the
    instant stands in the allowed hours (`opens_at`: the first allowed instant from a given one,
    None if none within a week)."""

    now: datetime
    next_reset_at: datetime | None
    lock: Lock | None = None
    allowance: Allowance | None = None  # None: no allowed hours set (any hour is allowed)
    opens_at: Callable[[datetime], datetime | None] | None = None

    def window_left(self) -> Decimal | None:
        """Seconds until the allowed hours end (0 outside them; None: no end soon)."""
        left = None if self.allowance is None else self.allowance.left(self.now)
        return None if left is None else _seconds(left)


def _seconds(span: timedelta) -> Decimal:
    return Decimal(span.days * 86400 + span.seconds) + Decimal(span.microseconds) / 1_000_000


def _least(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    """The smaller of two remaining times, None standing for no end."""
    if a is None or b is None:
        return b if a is None else a
    return min(a, b)


@dataclass(frozen=True, slots=True)
class BeatAnswer:
    session_id: uuid.UUID
    enforcement: Enforcement
    remaining_minutes: float | None
    used_minutes: float
    is_educational: bool
    reason: Reason | None  # why not allowed; None while watching is allowed
    next_allowed_at: datetime | None  # when blocked: when watching may resume, if known


def _block(limit_left: Decimal | None, moment: Moment) -> Block | None:
    """What blocks watching now, if anything, and when watching may resume: the end of the
    block that lasts longest, moved on to the next allowed hours if it ends outside them."""
    exhausted = limit_left is not None and limit_left <= 0
    outside = moment.allowance is not None and not moment.allowance.inside
    block = decisive(blocks_at(
        moment.now, exhausted=exhausted, next_reset_at=moment.next_reset_at, lock=moment.lock,
        outside_until=moment.allowance.next_start if outside and moment.allowance else None,
        outside=outside))
    if block is None or block.until is None or moment.opens_at is None:
        return block
    return replace(block, until=moment.opens_at(block.until))


def beat_answer(session_id: uuid.UUID, *, is_kids: bool, limit_minutes: int | None,
                balance: Balance, is_educational: bool, educational_exempt: bool,
                moment: Moment) -> BeatAnswer:
    """An exempt educational title is never counted against the limit, so it is never stopped
    by it either; a parent's lock and the allowed hours stop it, so warnings still come before
    bedtime. The remaining time shown is the lesser of the limit's and the allowed hours'."""
    limit_left = remaining_seconds(limit_minutes, balance) if is_kids else None
    window_left = moment.window_left()
    remaining = _least(limit_left, window_left)
    exempt = is_educational and educational_exempt
    block = _block(None if exempt else limit_left, moment)
    if block is not None:
        state = Enforcement.blocked
    else:
        state = enforcement_for(window_left if exempt else remaining)
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
    limit_left = remaining_seconds(limit_minutes, balance)
    remaining = _least(limit_left, moment.window_left())
    block = _block(limit_left, moment)
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
    """May playback start? Not once the day's time is used up, nor while locked, nor outside
    the allowed hours."""
    limit_left = remaining_seconds(limit_minutes, balance)
    remaining = _least(limit_left, moment.window_left())
    block = _block(limit_left, moment)
    reason = None if block is None else ELIGIBILITY_REASONS.get(block.reason, block.reason.value)
    return Eligibility(eligible=block is None, remaining_minutes=shown_remaining(remaining),
                       reason=reason, next_reset_at=moment.next_reset_at,
                       next_allowed_at=block.until if block else None)
