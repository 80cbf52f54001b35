"""Schedules without a database: validation, and the allowed hours read on a zone's wall clock
across daylight-saving changes (gaps, folds), midnight and the 30/45-minute-offset zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.schedules import (
    ALL_DAY,
    Allowance,
    InvalidSchedule,
    Window,
    local_instant,
    parse_schedule,
)
from app.domain.viewing_day import LimitConfig

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ADELAIDE = ZoneInfo("Australia/Adelaide")  # +9:30 / +10:30, daylight saving October to April
KATHMANDU = ZoneInfo("Asia/Kathmandu")  # +5:45
SCHOOL_DAYS = ("mon", "tue", "wed", "thu", "fri")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def hours(**days: list[tuple[str, str]]) -> dict:
    return {day: [{"start": a, "end": b} for a, b in windows] for day, windows in days.items()}


def allowance(allowed: dict, instant: datetime, zone: ZoneInfo) -> Allowance:
    schedule = parse_schedule(None, allowed)
    assert schedule.hours is not None
    return schedule.hours.at(instant, zone)


def inside_until(end: datetime | None) -> Allowance:
    return Allowance(True, end, None)


def outside_until(start: datetime | None) -> Allowance:
    return Allowance(False, None, start)


# -- validation ----------------------------------------------------------------------------

def test_a_schedule_as_the_parent_writes_it():
    schedule = parse_schedule({"mon": 60, "fri": 90, "sat": None},
                              hours(mon=[("07:00", "19:30")], sun=[]))
    assert schedule.limits == {0: 60, 4: 90, 5: None}
    assert schedule.hours is not None
    assert schedule.hours.by_weekday == {0: (Window(7 * 60, 19 * 60 + 30),), 6: ()}
    assert schedule.stored() == ({"mon": 60, "fri": 90, "sat": None},
                                 {"mon": [{"start": "07:00", "end": "19:30"}], "sun": []})


def test_no_keys_is_no_schedule():
    schedule = parse_schedule({}, {})
    assert (schedule.limits, schedule.hours) == ({}, None)


def test_every_bad_field_is_named_at_once():
    with pytest.raises(InvalidSchedule) as raised:
        parse_schedule(
            {"mon": 20, "holiday": 60, "tue": "60", "wed": 495, "thu": True, "fri": 45},
            {"mon": [{"start": "19:30", "end": "07:00"}],
             "tue": {"start": "07:00", "end": "08:00"},
             "wed": [{"start": "7:00", "end": "24:01"}],
             "thu": [{"start": "08:00", "end": "10:00"}, {"start": "09:00", "end": "11:00"}],
             "fri": [{"start": f"{h:02d}:00", "end": f"{h:02d}:30"} for h in range(7)],
             "sat": [{"start": "24:00", "end": "24:00"}, {"start": "08:00"}],
             "sunday": []})
    assert raised.value.problems == [
        ("limits.mon", "must be a multiple of 15"),
        ("limits.holiday", "unknown day (the days are mon, tue, wed, thu, fri, sat, sun)"),
        ("limits.tue", "must be a whole number of minutes or null"),
        ("limits.wed", "must be between 15 and 480 (or null for unlimited)"),
        ("limits.thu", "must be a whole number of minutes or null"),
        ("allowed_hours.mon[0].end", "must be after start"),
        ("allowed_hours.tue", "must be a list of windows ([] allows no watching that day)"),
        ("allowed_hours.wed[0].start", 'must be a time "HH:MM" from "00:00" to "24:00"'),
        ("allowed_hours.wed[0].end", 'must be a time "HH:MM" from "00:00" to "24:00"'),
        ("allowed_hours.thu[1]", "overlaps allowed_hours.thu[0]"),
        ("allowed_hours.fri", "at most 6 windows a day"),
        ("allowed_hours.sat[0].end", "must be after start"),
        ("allowed_hours.sat[1]", 'must be {"start": "HH:MM", "end": "HH:MM"}'),
        ("allowed_hours.sunday",
         "unknown day (the days are mon, tue, wed, thu, fri, sat, sun)"),
    ]
    assert raised.value.extra()["errors"][0] == {"field": "limits.mon",
                                                 "message": "must be a multiple of 15"}
    assert str(raised.value).startswith("limits.mon: must be a multiple of 15; limits.holiday")


def test_the_shapes_that_are_not_objects():
    with pytest.raises(InvalidSchedule) as raised:
        parse_schedule([60], "07:00-19:30")
    assert [where for where, _ in raised.value.problems] == ["limits", "allowed_hours"]


def test_touching_windows_are_allowed_and_24_00_ends_a_day():
    schedule = parse_schedule(None, hours(fri=[("20:00", "24:00"), ("06:00", "20:00")]))
    assert schedule.hours is not None
    assert schedule.hours.by_weekday[4] == (Window(1200, 1440), Window(360, 1200))


# -- limits per weekday ----------------------------------------------------------------------

def test_a_weekday_limit_overrides_the_weekday_or_weekend_default():
    limits = LimitConfig.stored(
        weekday_limit_minutes=60, weekend_limit_minutes=120, educational_exempt=True,
        timezone="UTC", reset_hour=6, previous_timezone=None, previous_reset_hour=None,
        effective_from=None, schedule=parse_schedule({"fri": 90, "sat": None, "sun": 45}, None))
    assert limits.week() == (60, 60, 60, 60, 90, None, 45)
    assert limits.limit_for(date(2026, 3, 6)) == 90  # a Friday
    assert limits.allowance(utc(2026, 3, 6, 12)) is None  # no allowed hours: any hour


def test_the_viewing_day_picks_the_limit_and_the_calendar_day_the_hours():
    """Reset at 04:00: Saturday 02:00 still belongs to Friday's viewing day (Friday's limit),
    but is read against Saturday's allowed hours."""
    limits = LimitConfig.stored(
        weekday_limit_minutes=60, weekend_limit_minutes=120, educational_exempt=True,
        timezone="UTC", reset_hour=4, previous_timezone=None, previous_reset_hour=None,
        effective_from=None,
        schedule=parse_schedule({"fri": 90}, hours(sat=[("09:00", "12:00")])))
    saturday_night = utc(2026, 3, 7, 2)
    assert limits.day_at(saturday_night).limit_minutes == 90
    assert limits.allowance(saturday_night) == outside_until(utc(2026, 3, 7, 9))
    assert limits.opens_at(saturday_night) == utc(2026, 3, 7, 9)
    assert limits.opens_at(utc(2026, 3, 7, 10)) == utc(2026, 3, 7, 10)


# -- allowed hours ------------------------------------------------------------------------

def test_a_school_night_bedtime_in_berlin():
    bedtime = hours(**{day: [("07:00", "19:30")] for day in SCHOOL_DAYS})
    # Wednesday 19:00 CET: half an hour left.
    assert allowance(bedtime, utc(2026, 3, 4, 18), BERLIN) == inside_until(utc(2026, 3, 4, 18, 30))
    assert allowance(bedtime, utc(2026, 3, 4, 18), BERLIN).left(utc(2026, 3, 4, 18)) == \
        timedelta(minutes=30)
    # 20:00 CET: outside until Thursday 07:00 CET.
    assert allowance(bedtime, utc(2026, 3, 4, 19), BERLIN) == outside_until(utc(2026, 3, 5, 6))
    assert allowance(bedtime, utc(2026, 3, 4, 19), BERLIN).left(utc(2026, 3, 4, 19)) == \
        timedelta(0)
    # Friday after bedtime: the weekend is allowed all day, from Saturday 00:00 CET.
    assert allowance(bedtime, utc(2026, 3, 6, 20), BERLIN) == outside_until(utc(2026, 3, 6, 23))
    # Saturday: all day, and on through Sunday until Monday 00:00 CET (school starts at 07:00).
    assert allowance(bedtime, utc(2026, 3, 7, 12), BERLIN) == inside_until(utc(2026, 3, 8, 23))


def test_windows_touching_midnight_are_one_allowance():
    late = hours(fri=[("20:00", "24:00")], sat=[("00:00", "01:00"), ("09:00", "12:00")])
    friday_night = utc(2026, 3, 6, 23)
    assert allowance(late, friday_night, UTC) == inside_until(utc(2026, 3, 7, 1))
    assert allowance(late, utc(2026, 3, 7, 0, 30), UTC) == inside_until(utc(2026, 3, 7, 1))
    assert allowance(late, utc(2026, 3, 7, 1), UTC) == outside_until(utc(2026, 3, 7, 9))
    # Thursday is allowed all day and touches Friday's midnight: it runs into Friday 00:00 only.
    assert allowance(late, utc(2026, 3, 5, 23), UTC) == inside_until(utc(2026, 3, 6, 0))


def test_an_empty_day_allows_nothing():
    no_sunday = hours(sun=[])
    assert allowance(no_sunday, utc(2026, 3, 8, 10), UTC) == outside_until(utc(2026, 3, 9))
    assert allowance(no_sunday, utc(2026, 3, 7, 10), UTC) == inside_until(utc(2026, 3, 8))


def test_no_window_in_the_week_has_no_next_start():
    never = hours(**{day: [] for day in (*SCHOOL_DAYS, "sat", "sun")})
    assert allowance(never, utc(2026, 3, 4, 12), UTC) == outside_until(None)


def test_a_day_listed_as_all_day_has_no_end_soon():
    assert allowance(hours(mon=[("00:00", "24:00")]), utc(2026, 3, 4, 12), BERLIN) == \
        inside_until(None)


def test_the_answer_is_kept_for_the_span_and_worked_out_again_after_it():
    bedtime = parse_schedule(None, hours(wed=[("07:00", "19:30")])).hours
    assert bedtime is not None
    at = utc(2026, 3, 4, 18)
    assert bedtime.at(at, BERLIN) == bedtime.at(at + timedelta(minutes=29), BERLIN)
    assert bedtime.at(at + timedelta(minutes=30), BERLIN) == outside_until(utc(2026, 3, 4, 23))
    assert bedtime.at(at, UTC) == inside_until(utc(2026, 3, 4, 19, 30))  # another zone
    assert bedtime.at(at - timedelta(days=7), BERLIN) == inside_until(utc(2026, 2, 25, 18, 30))


# -- daylight saving ----------------------------------------------------------------------

@pytest.mark.parametrize(("zone", "day", "minute", "expected"), [
    # Spring forward: a bound in the gap is the first instant after it.
    (BERLIN, date(2026, 3, 29), 2 * 60 + 30, utc(2026, 3, 29, 1)),
    (NEW_YORK, date(2026, 3, 8), 2 * 60 + 15, utc(2026, 3, 8, 7)),
    (ADELAIDE, date(2026, 10, 4), 2 * 60 + 30, utc(2026, 10, 3, 16, 30)),
    # Fall back: a bound that occurs twice is its first occurrence.
    (BERLIN, date(2026, 10, 25), 2 * 60 + 30, utc(2026, 10, 25, 0, 30)),
    (NEW_YORK, date(2026, 11, 1), 60 + 30, utc(2026, 11, 1, 5, 30)),
    (ADELAIDE, date(2026, 4, 5), 2 * 60 + 30, utc(2026, 4, 4, 16)),
    # Ordinary instants, and the offsets that are not whole hours.
    (KATHMANDU, date(2026, 3, 4), 19 * 60 + 30, utc(2026, 3, 4, 13, 45)),
    (ADELAIDE, date(2026, 7, 1), 19 * 60 + 30, utc(2026, 7, 1, 10)),
    (BERLIN, date(2026, 3, 4), 24 * 60, utc(2026, 3, 4, 23)),  # 24:00 is the next midnight
])
def test_local_instants(zone, day, minute, expected):
    assert local_instant(day, minute, zone) == expected


def test_a_window_starting_in_the_spring_gap_opens_when_the_clock_jumps():
    early = hours(sun=[("02:30", "04:00")])
    assert allowance(early, utc(2026, 3, 29, 0, 59), BERLIN) == outside_until(utc(2026, 3, 29, 1))
    assert allowance(early, utc(2026, 3, 29, 1), BERLIN) == inside_until(utc(2026, 3, 29, 2))
    # On the other side of the world the same day is autumn.
    assert allowance(hours(sun=[("02:30", "05:00")]), utc(2026, 10, 3, 17), ADELAIDE) == \
        inside_until(utc(2026, 10, 3, 18, 30))


def test_a_window_ending_in_the_autumn_fold_ends_at_the_first_occurrence():
    night = hours(sun=[("00:00", "02:30")])
    # Berlin, 25 October: 02:30 CEST is 00:30 UTC; Monday starts at 23:00 UTC (CET).
    assert allowance(night, utc(2026, 10, 25, 0), BERLIN) == inside_until(utc(2026, 10, 25, 0, 30))
    assert allowance(night, utc(2026, 10, 25, 0, 45), BERLIN) == \
        outside_until(utc(2026, 10, 25, 23))
    # Adelaide, 5 April: 02:30 ACDT is 16:00 UTC the day before.
    assert allowance(night, utc(2026, 4, 4, 15), ADELAIDE) == inside_until(utc(2026, 4, 4, 16))


def test_a_window_wholly_inside_the_gap_allows_nothing():
    gone = hours(sun=[("02:10", "02:40")])
    assert allowance(gone, utc(2026, 3, 8, 6, 50), NEW_YORK) == outside_until(utc(2026, 3, 9, 4))


def test_a_bedtime_in_kathmandu():
    bedtime = hours(**{day: [("07:00", "19:30")] for day in SCHOOL_DAYS})
    assert allowance(bedtime, utc(2026, 3, 4, 13, 40), KATHMANDU) == \
        inside_until(utc(2026, 3, 4, 13, 45))
    assert allowance(bedtime, utc(2026, 3, 4, 13, 45), KATHMANDU) == \
        outside_until(utc(2026, 3, 5, 1, 15))


def test_all_day_is_one_window():
    assert ALL_DAY == (Window(0, 1440),)
