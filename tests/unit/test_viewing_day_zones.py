"""The viewing day in several zones: reset hours 0 and 23, daylight-saving gaps and folds,
half- and quarter-hour offsets, weekend limits, and the switch-over to a changed rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.viewing_day import DayRule, LimitConfig

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
KATHMANDU = ZoneInfo("Asia/Kathmandu")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def limits(rule: DayRule, *, weekday: int | None = 60, weekend: int | None = 120,
           previous: DayRule | None = None, effective_from: datetime | None = None
           ) -> LimitConfig:
    return LimitConfig(weekday_limit_minutes=weekday, weekend_limit_minutes=weekend,
                       educational_exempt=True, rule=rule, previous_rule=previous,
                       effective_from=effective_from)


@pytest.mark.parametrize("rule, day, start", [
    # Reset at midnight: the day starts at local 00:00, whatever the offset.
    (DayRule(BERLIN, 0), date(2026, 3, 4), utc(2026, 3, 3, 23, 0)),        # CET, +1
    (DayRule(BERLIN, 0), date(2026, 7, 4), utc(2026, 7, 3, 22, 0)),        # CEST, +2
    (DayRule(KOLKATA, 0), date(2026, 3, 4), utc(2026, 3, 3, 18, 30)),      # +5:30
    (DayRule(KATHMANDU, 0), date(2026, 3, 4), utc(2026, 3, 3, 18, 15)),    # +5:45
    (DayRule(SYDNEY, 0), date(2026, 1, 10), utc(2026, 1, 9, 13, 0)),       # AEDT, +11
    (DayRule(SYDNEY, 0), date(2026, 7, 10), utc(2026, 7, 9, 14, 0)),       # AEST, +10
    # Reset at 23:00: viewing day D runs from D 23:00 to D+1 23:00, local.
    (DayRule(NEW_YORK, 23), date(2026, 3, 4), utc(2026, 3, 5, 4, 0)),      # EST, -5
    (DayRule(KATHMANDU, 23), date(2026, 3, 4), utc(2026, 3, 4, 17, 15)),
])
def test_a_day_starts_at_the_reset_hour_in_the_profiles_zone(rule, day, start):
    assert rule.start_of(day) == start
    assert rule.day_of(start) == day
    assert rule.day_of(start - timedelta(microseconds=1)) == day - timedelta(days=1)


@pytest.mark.parametrize("rule, instant, day", [
    (DayRule(KATHMANDU, 0), utc(2026, 3, 3, 18, 14, 59), date(2026, 3, 3)),  # 23:59:59
    (DayRule(KATHMANDU, 0), utc(2026, 3, 3, 18, 15), date(2026, 3, 4)),      # 00:00
    (DayRule(KOLKATA, 23), utc(2026, 3, 4, 17, 29), date(2026, 3, 3)),       # 22:59
    (DayRule(KOLKATA, 23), utc(2026, 3, 4, 17, 30), date(2026, 3, 4)),       # 23:00
    (DayRule(BERLIN, 23), utc(2026, 3, 4, 23, 30), date(2026, 3, 4)),        # Thu 00:30
])
def test_the_day_turns_exactly_at_the_reset_hour(rule, instant, day):
    assert rule.day_of(instant) == day


def test_an_instant_given_in_another_offset_is_read_in_the_profiles_zone():
    instant = datetime(2026, 3, 4, 1, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 2026-03-03 16:00 UTC
    assert DayRule(NEW_YORK, 6).day_of(instant) == date(2026, 3, 3)       # 11:00 in New York
    assert DayRule(KOLKATA, 0).day_of(instant) == date(2026, 3, 3)        # 21:30 in Kolkata


@pytest.mark.parametrize("rule, day, hours", [
    (DayRule(BERLIN, 0), date(2026, 3, 29), 23),      # spring forward inside the day
    (DayRule(BERLIN, 0), date(2026, 10, 25), 25),     # fall back inside the day
    (DayRule(BERLIN, 0), date(2026, 3, 30), 24),
    (DayRule(NEW_YORK, 0), date(2026, 3, 8), 23),
    (DayRule(NEW_YORK, 23), date(2026, 10, 31), 25),  # Sat 23:00 to Sun 23:00 spans 1 Nov
    (DayRule(SYDNEY, 0), date(2026, 10, 4), 23),      # southern spring: October
    (DayRule(SYDNEY, 0), date(2026, 4, 5), 25),       # southern autumn: April
    (DayRule(KOLKATA, 0), date(2026, 3, 29), 24),     # no daylight saving
    (DayRule(KATHMANDU, 23), date(2026, 10, 25), 24),
])
def test_a_viewing_day_lasts_23_24_or_25_hours(rule, day, hours):
    length = rule.start_of(day + timedelta(days=1)) - rule.start_of(day)
    assert length == timedelta(hours=hours)


def test_sydney_reset_inside_the_spring_forward_gap_moves_to_the_first_hour_after_it():
    rule = DayRule(SYDNEY, 2)  # 4 Oct 2026: 02:00 AEST jumps to 03:00 AEDT (16:00 UTC)
    assert rule.start_of(date(2026, 10, 4)) == utc(2026, 10, 3, 16, 0)  # 03:00 AEDT
    assert rule.day_of(utc(2026, 10, 3, 15, 59)) == date(2026, 10, 3)   # 01:59 AEST
    assert rule.start_of(date(2026, 10, 5)) - rule.start_of(date(2026, 10, 4)) \
        == timedelta(hours=23)


def test_sydney_reset_inside_the_fall_back_fold_is_its_first_occurrence():
    rule = DayRule(SYDNEY, 2)  # 5 Apr 2026: 03:00 AEDT falls back to 02:00 AEST (16:00 UTC)
    assert rule.start_of(date(2026, 4, 5)) == utc(2026, 4, 4, 15, 0)  # 02:00 AEDT
    assert rule.day_of(utc(2026, 4, 4, 14, 59)) == date(2026, 4, 4)   # 01:59 AEDT
    assert rule.day_of(utc(2026, 4, 4, 16, 30)) == date(2026, 4, 5)   # 02:30 AEST, again
    assert rule.start_of(date(2026, 4, 6)) == utc(2026, 4, 5, 16, 0)  # a 25-hour day


def test_berlin_reset_at_the_repeated_hour_does_not_start_a_second_day():
    rule = DayRule(BERLIN, 2)  # 25 Oct 2026: 03:00 CEST falls back to 02:00 CET (01:00 UTC)
    assert rule.start_of(date(2026, 10, 25)) == utc(2026, 10, 25, 0, 0)  # 02:00 CEST
    assert rule.day_of(utc(2026, 10, 25, 1, 30)) == date(2026, 10, 25)   # 02:30 CET
    assert rule.day_of(utc(2026, 10, 24, 23, 59)) == date(2026, 10, 24)  # 01:59 CEST


def test_new_york_reset_at_23_is_untouched_by_the_2am_change():
    rule = DayRule(NEW_YORK, 23)
    assert rule.start_of(date(2026, 3, 7)) == utc(2026, 3, 8, 4, 0)  # Sat 23:00 EST
    assert rule.start_of(date(2026, 3, 8)) == utc(2026, 3, 9, 3, 0)  # Sun 23:00 EDT
    assert rule.day_of(utc(2026, 3, 8, 7, 30)) == date(2026, 3, 7)   # 03:30 EDT, Sunday


# --- LimitConfig: weekday and weekend limits, next reset ---------------------------------------

@pytest.mark.parametrize("rule, instant, day, limit", [
    # Fri 6 Mar 14:00 UTC is already Saturday 01:00 in Sydney.
    (DayRule(SYDNEY, 0), utc(2026, 3, 6, 14, 0), date(2026, 3, 7), 120),
    (DayRule(SYDNEY, 6), utc(2026, 3, 6, 14, 0), date(2026, 3, 6), 60),   # before 06:00: Friday
    (DayRule(NEW_YORK, 0), utc(2026, 3, 6, 14, 0), date(2026, 3, 6), 60),
    # Reset at 23: Monday 22:00 still belongs to Sunday's day, Monday 23:00 starts Monday's.
    (DayRule(BERLIN, 23), utc(2026, 3, 9, 21, 0), date(2026, 3, 8), 120),
    (DayRule(BERLIN, 23), utc(2026, 3, 9, 22, 0), date(2026, 3, 9), 60),
    # Reset at 0: Friday 23:59 is a weekday, Saturday 00:00 the weekend.
    (DayRule(KOLKATA, 0), utc(2026, 3, 6, 18, 29), date(2026, 3, 6), 60),
    (DayRule(KOLKATA, 0), utc(2026, 3, 6, 18, 30), date(2026, 3, 7), 120),
])
def test_the_limit_is_the_weekday_or_weekend_one_of_the_viewing_day(rule, instant, day, limit):
    info = limits(rule).day_at(instant)
    assert (info.day, info.limit_minutes) == (day, limit)


@pytest.mark.parametrize("weekday, weekend, instant, expected", [
    (None, 120, utc(2026, 3, 4, 12, 0), None),   # Wednesday: unlimited on weekdays
    (None, 120, utc(2026, 3, 7, 12, 0), 120),
    (60, None, utc(2026, 3, 8, 12, 0), None),    # Sunday: unlimited at the weekend
])
def test_a_null_limit_means_unlimited_on_those_days(weekday, weekend, instant, expected):
    config = limits(DayRule(ZoneInfo("UTC"), 0), weekday=weekday, weekend=weekend)
    assert config.day_at(instant).limit_minutes == expected


@pytest.mark.parametrize("rule, instant, next_reset", [
    (DayRule(BERLIN, 0), utc(2026, 3, 28, 12, 0), utc(2026, 3, 28, 23, 0)),  # CET midnight
    (DayRule(BERLIN, 0), utc(2026, 3, 29, 12, 0), utc(2026, 3, 29, 22, 0)),  # CEST midnight
    (DayRule(NEW_YORK, 2), utc(2026, 3, 7, 12, 0), utc(2026, 3, 8, 7, 0)),   # into the gap
    (DayRule(NEW_YORK, 1), utc(2026, 10, 31, 12, 0), utc(2026, 11, 1, 5, 0)),  # first 01:00
    (DayRule(SYDNEY, 23), utc(2026, 3, 4, 11, 0), utc(2026, 3, 4, 12, 0)),   # 22:00 AEDT
    (DayRule(KATHMANDU, 0), utc(2026, 3, 4, 18, 14), utc(2026, 3, 4, 18, 15)),
])
def test_the_next_reset_is_the_start_of_the_following_viewing_day(rule, instant, next_reset):
    assert limits(rule).day_at(instant).next_reset_at == next_reset


# --- a changed rule applies from the next reset -------------------------------------------------

BERLIN_6 = DayRule(BERLIN, 6)
SWITCH = utc(2026, 3, 5, 5, 0)  # Thursday 06:00 Berlin: the next reset under the old rule


@pytest.mark.parametrize("instant, uses_previous", [
    (SWITCH - timedelta(microseconds=1), True),
    (SWITCH, False),
])
def test_the_previous_rule_holds_until_effective_from_exactly(instant, uses_previous):
    new = DayRule(KOLKATA, 0)
    config = limits(new, previous=BERLIN_6, effective_from=SWITCH)
    assert config.rule_at(instant) is (BERLIN_6 if uses_previous else new)


def test_before_the_switch_the_day_ends_at_effective_from_whatever_the_new_rule_says():
    config = limits(DayRule(SYDNEY, 23), previous=BERLIN_6, effective_from=SWITCH)
    info = config.day_at(utc(2026, 3, 4, 20, 0))  # Wednesday 21:00 Berlin
    assert (info.day, info.next_reset_at) == (date(2026, 3, 4), SWITCH)


def test_a_move_west_does_not_bring_back_the_day_that_ended():
    # At the switch it is Thursday 00:00 in New York, still Wednesday's day under a 6:00 reset;
    # the new rule starts from Thursday, the day that began at the switch.
    config = limits(DayRule(NEW_YORK, 6), previous=BERLIN_6, effective_from=SWITCH)
    for instant in (SWITCH, utc(2026, 3, 5, 10, 59), utc(2026, 3, 5, 11, 0)):
        info = config.day_at(instant)
        assert (info.day, info.next_reset_at) == (date(2026, 3, 5), utc(2026, 3, 6, 11, 0))


def test_a_move_east_gives_a_short_first_day_under_the_new_rule():
    config = limits(DayRule(KOLKATA, 6), previous=BERLIN_6, effective_from=SWITCH)
    info = config.day_at(SWITCH)  # 10:30 in Kolkata
    assert (info.day, info.next_reset_at) == (date(2026, 3, 5), utc(2026, 3, 6, 0, 30))


def test_an_earlier_reset_hour_takes_over_at_the_switch_and_resets_at_its_own_hour():
    config = limits(DayRule(BERLIN, 0), previous=BERLIN_6, effective_from=SWITCH)
    info = config.day_at(SWITCH)
    assert (info.day, info.next_reset_at) == (date(2026, 3, 5), utc(2026, 3, 5, 23, 0))


def test_the_weekend_limit_follows_the_day_kept_at_the_switch():
    # Saturday 06:00 Berlin is still Friday 00:00 in New York: the day kept is Saturday.
    saturday = utc(2026, 3, 7, 5, 0)
    config = limits(DayRule(NEW_YORK, 6), previous=BERLIN_6, effective_from=saturday)
    info = config.day_at(saturday)
    assert (info.day, info.limit_minutes) == (date(2026, 3, 7), 120)


def test_long_after_the_switch_the_new_rule_alone_decides():
    config = limits(DayRule(NEW_YORK, 6), previous=BERLIN_6, effective_from=SWITCH)
    info = config.day_at(utc(2026, 3, 10, 10, 0))  # Tuesday 06:00 EDT
    assert (info.day, info.next_reset_at) == (date(2026, 3, 10), utc(2026, 3, 11, 10, 0))


def test_effective_from_without_a_previous_rule_changes_nothing():
    config = limits(DayRule(NEW_YORK, 6), effective_from=SWITCH)
    info = config.day_at(SWITCH)  # 00:00 in New York: Wednesday's day under the 06:00 reset
    assert (info.day, info.next_reset_at) == (date(2026, 3, 4), utc(2026, 3, 5, 11, 0))
