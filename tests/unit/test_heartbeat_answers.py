"""What the player and the parent app are told, from the day's balance, with no database."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson

from app.domain.balance import EMPTY_BALANCE, Balance, Enforcement
from app.domain.control import Lock, Reason
from app.domain.heartbeat import (
    ALWAYS_ELIGIBLE,
    BeatAnswer,
    DayBalance,
    Moment,
    adult_balance,
    beat_answer,
    day_balance,
    eligibility,
)
from app.responses import ORJSONResponse
from app.schemas import BalanceOut, HeartbeatResponse

SID = uuid.UUID(int=1)
RESET = datetime(2026, 3, 5, 6, 0, tzinfo=UTC)


def used(seconds: str, granted: int = 0, unlimited: bool = False) -> Balance:
    return Balance(Decimal(seconds), Decimal(0), granted, unlimited)


NOW = RESET - timedelta(hours=5)
TODAY = Moment(NOW, RESET)


def answer(balance: Balance, **overrides: object) -> BeatAnswer:
    values: dict[str, object] = dict(is_kids=True, limit_minutes=60, balance=balance,
                                     is_educational=False, educational_exempt=True,
                                     moment=TODAY)
    values.update(overrides)
    return beat_answer(SID, **values)  # type: ignore[arg-type]


def test_a_child_with_time_left_is_allowed_and_sees_it():
    a = answer(used("600"))
    assert (a.enforcement, a.remaining_minutes, a.used_minutes) == (Enforcement.allowed, 50.0, 10.0)


def test_the_last_quarter_hour_warns_and_the_end_blocks():
    assert answer(used("2700")).enforcement is Enforcement.warning_15
    assert answer(used("3300")).enforcement is Enforcement.warning_5
    over = answer(used("3630"))
    assert (over.enforcement, over.remaining_minutes) == (Enforcement.blocked, 0.0)
    assert (over.reason, over.next_allowed_at) == (Reason.daily_limit_reached, RESET)
    assert (answer(used("3300")).reason, answer(used("3300")).next_allowed_at) == (None, None)


def test_an_exempt_documentary_plays_on_after_the_limit_but_shows_it():
    a = answer(used("3600"), is_educational=True)
    assert (a.enforcement, a.remaining_minutes, a.is_educational) == (Enforcement.allowed, 0.0,
                                                                       True)
    strict = answer(used("3600"), is_educational=True, educational_exempt=False)
    assert strict.enforcement is Enforcement.blocked


def test_a_lock_blocks_everything_and_the_later_block_is_the_reason():
    until = NOW + timedelta(hours=1)
    locked = answer(used("600"), moment=Moment(NOW, RESET, Lock(until)))
    assert (locked.enforcement, locked.reason, locked.next_allowed_at, locked.remaining_minutes) \
        == (Enforcement.blocked, Reason.locked_by_parent, until, 50.0)
    documentary = answer(used("0"), is_educational=True, moment=Moment(NOW, RESET, Lock(None)))
    assert (documentary.enforcement, documentary.reason, documentary.next_allowed_at) == (
        Enforcement.blocked, Reason.locked_by_parent, None)
    # Both hold: the day's time is spent until the 06:00 reset, the lock ends an hour earlier.
    both = answer(used("3600"), moment=Moment(NOW, RESET, Lock(RESET - timedelta(hours=1))))
    assert (both.reason, both.next_allowed_at) == (Reason.daily_limit_reached, RESET)
    past = answer(used("600"), moment=Moment(NOW, RESET, Lock(NOW)))
    assert (past.enforcement, past.reason) == (Enforcement.allowed, None)  # the lock is over


def test_adults_and_unlimited_days_have_no_remaining_time():
    assert answer(used("99999"), is_kids=False).remaining_minutes is None
    assert answer(used("99999", unlimited=True)).enforcement is Enforcement.allowed
    assert answer(used("3600", granted=900)).remaining_minutes == 15.0


def test_the_answer_is_the_heartbeat_response_as_it_is_serialised():
    """The endpoint writes the dataclass with orjson: its JSON must be HeartbeatResponse's."""
    for a in (answer(used("2712.345")), answer(used("3600"))):
        raw = orjson.loads(ORJSONResponse(a).body)
        assert raw == HeartbeatResponse.model_validate(a).model_dump(mode="json")
    assert [f.name for f in dataclasses.fields(BeatAnswer)] == list(HeartbeatResponse.model_fields)


def test_the_balance_view_has_every_field_of_the_api():
    view = day_balance(SID, limit_minutes=60, balance=used("90", granted=900), moment=TODAY)
    out = BalanceOut.model_validate(view).model_dump(mode="json")
    assert out == {"profile_id": str(SID), "is_child_profile": True, "has_limits": True,
                   "used_minutes": 1.5, "educational_minutes": 0.0, "limit_minutes": 60,
                   "remaining_minutes": 73.5, "is_unlimited_override": False,
                   "next_reset_at": "2026-03-05T06:00:00Z", "warning_threshold_minutes": [15, 5],
                   "granted_minutes": 15, "reason": None, "next_allowed_at": None}
    assert {f.name for f in dataclasses.fields(DayBalance)} | {"warning_threshold_minutes"} \
        == set(BalanceOut.model_fields)


def test_an_adult_balance_is_empty_and_limitless():
    view = adult_balance(SID)
    assert (view.is_child_profile, view.has_limits, view.remaining_minutes,
            view.next_reset_at) == (False, False, None, None)


def test_playback_may_start_until_the_time_is_used_up():
    yes = eligibility(limit_minutes=60, balance=used("3599.9"), moment=TODAY)
    assert (yes.eligible, yes.reason) == (True, None)
    no = eligibility(limit_minutes=60, balance=used("3600"), moment=TODAY)
    assert (no.eligible, no.reason, no.remaining_minutes, no.next_allowed_at) == (
        False, "viewing_time_exhausted", 0.0, RESET)
    locked = eligibility(limit_minutes=60, balance=used("0"), moment=Moment(NOW, RESET, Lock(None)))
    assert (locked.eligible, locked.reason, locked.next_allowed_at) == (
        False, "locked_by_parent", None)
    unlimited = eligibility(limit_minutes=None, balance=EMPTY_BALANCE, moment=TODAY)
    assert (unlimited.eligible, unlimited.remaining_minutes) == (True, None)
    assert ALWAYS_ELIGIBLE.eligible and ALWAYS_ELIGIBLE.next_reset_at is None
