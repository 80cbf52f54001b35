"""The charge decision of a continuing session's heartbeat, with no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.domain.balance import EMPTY_BALANCE, Balance
from app.domain.charging import Limit, Mode, Rules, SessionState, charge

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
RULES = Rules(interval=timedelta(seconds=30), pause_grace=timedelta(seconds=300),
              stale_gap=timedelta(seconds=300))
CHILD = Limit(is_kids=True, limit_minutes=60, educational_exempt=True, balance=EMPTY_BALANCE)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


OPENED = SessionState(last_heartbeat_at=T0, counted_until=at(30), paused_at=None,
                      is_educational=False)  # a first beat at T0 paid [T0, T0 + 30 s)


def opened(**changes: Any) -> SessionState:
    return replace(OPENED, **changes)


def test_a_beat_on_time_pays_the_next_interval_exactly():
    c = charge(opened(), now=at(30), paused=False, limit=CHILD, rules=RULES)
    assert (c.mode, c.seconds, c.counted_until) == (Mode.continue_, Decimal(30), at(60))


def test_an_early_beat_or_a_duplicate_pays_only_what_is_new():
    early = charge(opened(), now=at(10.5), paused=False, limit=CHILD, rules=RULES)
    assert (early.seconds, early.counted_until) == (Decimal("10.500"), at(40.5))
    duplicate = charge(opened(), now=T0, paused=False, limit=CHILD, rules=RULES)
    assert (duplicate.seconds, duplicate.counted_until) == (Decimal(0), at(30))


def test_a_late_beat_within_the_stale_gap_pays_the_gap_too():
    c = charge(opened(), now=at(200), paused=False, limit=CHILD, rules=RULES)
    assert (c.mode, c.seconds, c.counted_until) == (Mode.continue_, Decimal(200), at(230))


def test_after_the_stale_gap_a_fresh_window_opens_and_the_silence_is_free():
    c = charge(opened(), now=at(301), paused=False, limit=CHILD, rules=RULES)
    assert (c.mode, c.seconds, c.counted_until) == (Mode.open, Decimal(30), at(331))


def test_a_delayed_beat_from_the_past_acts_at_the_sessions_last_instant():
    later = opened(last_heartbeat_at=at(30), counted_until=at(60))
    c = charge(later, now=at(5), paused=False, limit=CHILD, rules=RULES)
    assert (c.at, c.seconds, c.counted_until) == (at(30), Decimal(0), at(60))


def test_paused_beats_count_within_the_grace_then_stop():
    start = charge(opened(), now=at(30), paused=True, limit=CHILD, rules=RULES)
    assert (start.mode, start.paused_at, start.seconds) == (Mode.continue_, at(30), Decimal(30))
    within = charge(opened(last_heartbeat_at=at(300), counted_until=at(330), paused_at=at(30)),
                    now=at(330), paused=True, limit=CHILD, rules=RULES)
    assert (within.mode, within.seconds) == (Mode.continue_, Decimal(30))
    past = charge(opened(last_heartbeat_at=at(330), counted_until=at(360), paused_at=at(30)),
                  now=at(331), paused=True, limit=CHILD, rules=RULES)
    assert (past.mode, past.seconds, past.counted_until) == (Mode.off, Decimal(0), at(360))


def test_resuming_after_a_long_pause_opens_a_fresh_window():
    idle = opened(last_heartbeat_at=at(400), counted_until=at(360), paused_at=at(30))
    c = charge(idle, now=at(430), paused=False, limit=CHILD, rules=RULES)
    assert (c.mode, c.seconds, c.paused_at, c.counted_until) == (Mode.open, Decimal(30), None,
                                                                  at(460))


def test_used_up_blocks_and_drops_the_window_unless_exempt_granted_or_adult():
    spent = Limit(True, 60, True, Balance(Decimal(3600), Decimal(0), 0, False))
    blocked = charge(opened(), now=at(30), paused=False, limit=spent, rules=RULES)
    assert (blocked.mode, blocked.seconds, blocked.counted_until) == (Mode.blocked, 0, None)
    documentary = charge(opened(is_educational=True), now=at(30), paused=False, limit=spent,
                         rules=RULES)
    assert (documentary.mode, documentary.educational) == (Mode.continue_, True)
    granted = Limit(True, 60, True, Balance(Decimal(3600), Decimal(0), 900, False))
    assert charge(opened(), now=at(30), paused=False, limit=granted,
                  rules=RULES).mode is Mode.continue_
    adult = Limit(False, 60, True, Balance(Decimal(9999), Decimal(0), 0, False))
    assert charge(opened(), now=at(30), paused=False, limit=adult,
                  rules=RULES).mode is Mode.continue_


def test_educational_time_on_a_non_exempt_profile_counts_as_used():
    strict = Limit(True, 60, False, EMPTY_BALANCE)
    c = charge(opened(is_educational=True), now=at(30), paused=False, limit=strict, rules=RULES)
    assert (c.educational, c.seconds) == (False, Decimal(30))


def test_a_duplicate_of_the_beat_that_used_the_day_up_changes_nothing():
    """Idempotent: the repeat of the beat that paid the last seconds is not a new beat."""
    used_up = replace(CHILD, balance=Balance(Decimal(3600), Decimal(0), 0, False))
    repeat = charge(opened(), now=T0, paused=False, limit=used_up, rules=RULES)
    assert (repeat.mode, repeat.seconds, repeat.counted_until) == (Mode.continue_, 0, at(30))
    later = charge(opened(), now=at(0.001), paused=False, limit=used_up, rules=RULES)
    assert (later.mode, later.seconds, later.counted_until) == (Mode.blocked, 0, None)
