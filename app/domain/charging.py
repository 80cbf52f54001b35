"""The charge decisions of a session's life as pure functions: its first beat, each beat after,
and its end.

Each heartbeat pays for the interval ahead of it, cut short where the allowed hours end. The
session remembers the end of what it has paid for (`counted_until`); a beat at instant t extends
that window to t + interval and is charged only the part not already paid, so duplicates,
retries and beats closer together than the interval never charge the same second twice.

The heartbeat statements (app/repositories/heartbeats.py: OPEN_SESSION, CONTINUE_SESSION,
END_SESSION) compute exactly this inside PostgreSQL, where it must happen atomically under the
session's row lock; this module is their reference, readable and testable without a database,
and tests/integration/test_charging_model.py holds the two together. A change to one is a change
to the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from app.domain.balance import Balance, remaining_seconds

MILLISECOND = Decimal("0.001")


class Mode(StrEnum):
    """What a beat does to the paid window."""

    continue_ = "continue"  # extend the window, charge the new part
    open = "open"  # a fresh window: nothing paid, stale, or resumed after a long pause
    blocked = "blocked"  # the day's time is used up: charge nothing, drop the window
    off = "off"  # paused past the grace: the player is idle, nothing is charged


@dataclass(frozen=True, slots=True)
class Rules:
    interval: timedelta  # I: what one beat pays for
    pause_grace: timedelta  # paused beats within this still count (a short pause is watching)
    stale_gap: timedelta  # S: silence after which the old window no longer continues


@dataclass(frozen=True, slots=True)
class SessionState:
    last_heartbeat_at: datetime
    counted_until: datetime | None  # end of the paid window; None: nothing paid
    paused_at: datetime | None  # when the current pause began; None: playing
    is_educational: bool


@dataclass(frozen=True, slots=True)
class Limit:
    """The day's limit as the beat sees it."""

    is_kids: bool
    limit_minutes: int | None  # None: unlimited today
    educational_exempt: bool
    balance: Balance
    halted: bool = False  # locked by a parent, or outside the allowed hours: nothing is charged
    window_end: datetime | None = None  # the allowed hours end then: no beat pays past it


@dataclass(frozen=True, slots=True)
class Charge:
    mode: Mode
    seconds: Decimal  # charged now
    educational: bool  # to educational_seconds instead of used_seconds
    counted_until: datetime | None
    paused_at: datetime | None
    at: datetime  # the session's new last_heartbeat_at


def _seconds(span: timedelta) -> Decimal:
    """Exact (timedelta.total_seconds() is a float)."""
    return Decimal(span.days * 86400 + span.seconds) + Decimal(span.microseconds) / 1_000_000


def _used_up_for(is_educational: bool, limit: Limit) -> bool:
    """Blocked: halted (a lock, outside the allowed hours), or (for a child, unless exempt) the
    day's time is spent."""
    if limit.halted:
        return True
    if not limit.is_kids or (is_educational and limit.educational_exempt):
        return False
    remaining = remaining_seconds(limit.limit_minutes, limit.balance)
    return remaining is not None and remaining <= 0


def reach(t: datetime, limit: Limit, rules: Rules) -> datetime:
    """How far a beat at `t` pays: one interval ahead, but never past the allowed hours' end."""
    if limit.window_end is None:
        return t + rules.interval
    return max(t, min(t + rules.interval, limit.window_end))


def _mode(session: SessionState, paused: bool, t: datetime, limit: Limit, rules: Rules) -> Mode:
    long_pause = session.paused_at is not None and t - session.paused_at > rules.pause_grace
    if paused and long_pause:
        return Mode.off
    if session.counted_until is not None and reach(t, limit, rules) <= session.counted_until:
        # Nothing new to pay (a duplicate, a retry): the beat changes nothing, so sending it
        # twice, one after the other or in parallel, is the same as sending it once.
        return Mode.continue_
    if _used_up_for(session.is_educational, limit):
        return Mode.blocked
    if (session.counted_until is None or t - session.last_heartbeat_at > rules.stale_gap
            or (not paused and long_pause)):
        return Mode.open
    return Mode.continue_


def charge(session: SessionState, *, now: datetime, paused: bool, limit: Limit,
           rules: Rules) -> Charge:
    """The charge of one beat. Time never runs backwards for a session: a beat that arrives
    with an instant before the last recorded one acts at the last one."""
    t = max(now, session.last_heartbeat_at)
    mode = _mode(session, paused, t, limit, rules)
    window_end = reach(t, limit, rules)
    seconds = Decimal(0)
    counted_until = session.counted_until
    if mode is Mode.open:
        seconds = _seconds(window_end - t).quantize(MILLISECOND, ROUND_HALF_UP)
        counted_until = window_end
    elif mode is Mode.continue_:
        assert counted_until is not None
        unpaid = _seconds(window_end - counted_until)
        seconds = max(Decimal(0), unpaid).quantize(MILLISECOND, ROUND_HALF_UP)
        counted_until = max(counted_until, window_end)
    elif mode is Mode.blocked:
        counted_until = None
    return Charge(
        mode=mode, seconds=seconds,
        educational=session.is_educational and limit.educational_exempt,
        counted_until=counted_until,
        paused_at=(session.paused_at or t) if paused else None,
        at=t,
    )


def first_charge(*, at: datetime, paused: bool, is_educational: bool, limit: Limit,
                 rules: Rules) -> Charge:
    """The first beat of a new session at `at`: it pays one interval ahead, unless the day's
    time is used up (then nothing is paid and the session has no window). `limit.balance` is
    the day's balance after the sessions this beat ends were refunded (`end`)."""
    if _used_up_for(is_educational, limit):
        return Charge(mode=Mode.blocked, seconds=Decimal(0),
                      educational=is_educational and limit.educational_exempt,
                      counted_until=None, paused_at=at if paused else None, at=at)
    paid_until = reach(at, limit, rules)
    return Charge(mode=Mode.open,
                  seconds=_seconds(paid_until - at).quantize(MILLISECOND, ROUND_HALF_UP),
                  educational=is_educational and limit.educational_exempt,
                  counted_until=paid_until, paused_at=at if paused else None, at=at)


@dataclass(frozen=True, slots=True)
class Ending:
    at: datetime  # the session's ended_at
    refund: Decimal  # the paid but unwatched part of the window, given back to the day that paid
    counted_until: datetime | None


def end(session: SessionState, *, now: datetime, rules: Rules) -> Ending:
    """A session ended at `now` (by the player, or by a first beat on another device). It ends
    no earlier than its last beat; a session silent for longer than the stale gap ends where its
    paid window ended (the viewer left long ago), or at its last beat if nothing was paid."""
    t = max(now, session.last_heartbeat_at)
    at = t
    if t - session.last_heartbeat_at > rules.stale_gap:
        at = session.counted_until or session.last_heartbeat_at
    if session.counted_until is None:
        return Ending(at=at, refund=Decimal(0), counted_until=None)
    unpaid = max(Decimal(0), _seconds(session.counted_until - at))
    return Ending(at=at, refund=unpaid.quantize(MILLISECOND, ROUND_HALF_UP),
                  counted_until=min(session.counted_until, at))
