"""The viewing day and its reset instant, across daylight-saving changes and rule changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from app.domain.viewing_day import DayRule, LimitConfig

BERLIN = DayRule(ZoneInfo("Europe/Berlin"), 6)
NEW_YORK_2AM = DayRule(ZoneInfo("America/New_York"), 2)


@pytest.mark.parametrize("rule, instant, day", [
    (BERLIN, datetime(2026, 3, 4, 4, 59, tzinfo=UTC), date(2026, 3, 3)),   # 05:59 local
    (BERLIN, datetime(2026, 3, 4, 5, 0, tzinfo=UTC), date(2026, 3, 4)),    # 06:00 local
    (BERLIN, datetime(2026, 3, 29, 3, 59, tzinfo=UTC), date(2026, 3, 28)), # 05:59 CEST
    (BERLIN, datetime(2026, 3, 29, 4, 0, tzinfo=UTC), date(2026, 3, 29)),  # 06:00 CEST
    # New York, reset at 02:00 on the night 02:00 does not exist: the day turns at 03:00 EDT
    (NEW_YORK_2AM, datetime(2026, 3, 8, 6, 59, tzinfo=UTC), date(2026, 3, 7)),  # 01:59 EST
    (NEW_YORK_2AM, datetime(2026, 3, 8, 7, 0, tzinfo=UTC), date(2026, 3, 8)),   # 03:00 EDT
])
def test_day_of(rule, instant, day):
    assert rule.day_of(instant) == day


def test_start_of_day_in_a_spring_forward_gap_is_the_first_instant_past_the_reset():
    assert NEW_YORK_2AM.start_of(date(2026, 3, 8)) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_start_of_day_in_a_fall_back_fold_is_the_first_occurrence():
    rule = DayRule(ZoneInfo("America/New_York"), 1)
    assert rule.start_of(date(2026, 11, 1)) == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # 01:00 EDT
    # the repeated 01:xx EST hour stays in the same viewing day
    assert rule.day_of(datetime(2026, 11, 1, 6, 30, tzinfo=UTC)) == date(2026, 11, 1)


def test_weekend_limit_follows_the_viewing_day_not_the_calendar_day():
    config = LimitConfig(weekday_limit_minutes=60, weekend_limit_minutes=120,
                         educational_exempt=True, rule=BERLIN)
    monday_early = datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # 05:00 Monday: still Sunday's day
    info = config.day_at(monday_early)
    assert info.day == date(2026, 3, 8) and info.limit_minutes == 120
    assert info.next_reset_at == datetime(2026, 3, 9, 5, 0, tzinfo=UTC)


def test_a_rule_change_waits_for_the_next_reset():
    effective = datetime(2026, 3, 5, 5, 0, tzinfo=UTC)  # Berlin 06:00 next morning
    config = LimitConfig(weekday_limit_minutes=60, weekend_limit_minutes=60,
                         educational_exempt=True,
                         rule=DayRule(ZoneInfo("America/New_York"), 9),
                         previous_rule=BERLIN, effective_from=effective)
    before = config.day_at(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))
    assert before.day == date(2026, 3, 4) and before.next_reset_at == effective
    after = config.day_at(datetime(2026, 3, 5, 15, 0, tzinfo=UTC))  # 10:00 in New York
    assert after.day == date(2026, 3, 5)
    assert after.next_reset_at == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)


def test_a_later_reset_hour_does_not_bring_back_the_day_that_ended():
    effective = datetime(2026, 3, 5, 5, 0, tzinfo=UTC)  # Thursday 06:00 Berlin (old reset)
    config = LimitConfig(weekday_limit_minutes=60, weekend_limit_minutes=60,
                         educational_exempt=True, rule=DayRule(ZoneInfo("Europe/Berlin"), 8),
                         previous_rule=BERLIN, effective_from=effective)
    info = config.day_at(datetime(2026, 3, 5, 6, 0, tzinfo=UTC))  # 07:00: before the new 08:00
    assert info.day == date(2026, 3, 5)
    assert info.next_reset_at == datetime(2026, 3, 6, 7, 0, tzinfo=UTC)  # Friday 08:00 Berlin


def test_a_stored_config_becomes_its_rules_with_the_previous_one_only_when_pending():
    switch = datetime(2026, 3, 5, 5, 0, tzinfo=UTC)
    stored = dict(weekday_limit_minutes=60, weekend_limit_minutes=None, educational_exempt=True,
                  timezone="Europe/Berlin", reset_hour=7, effective_from=switch)
    pending = LimitConfig.stored(**stored, previous_timezone="UTC", previous_reset_hour=5)
    assert pending.rule == DayRule(ZoneInfo("Europe/Berlin"), 7)
    assert pending.previous_rule == DayRule(ZoneInfo("UTC"), 5)
    assert (pending.limit_for(switch.date()), pending.effective_from) == (60, switch)
    settled = LimitConfig.stored(**stored, previous_timezone=None, previous_reset_hour=None)
    assert settled.previous_rule is None
