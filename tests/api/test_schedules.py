"""Schedules through the API: per-weekday limits, allowed hours (bedtime) and what the
heartbeat, the balance and eligibility answer with them, in several zones, across daylight
saving, midnight and a reset hour after midnight; and past days that keep their own limits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from app.database import asyncpg_dsn
from tests.support import api
from tests.support.parental import (
    PC,
    eligibility,
    history,
    pin_token,
    put_config,
    set_pin,
    weekly_report,
)

pytestmark = pytest.mark.anyio
API = api.API
SCHOOL_DAYS = ("mon", "tue", "wed", "thu", "fri")
ALL_DAY = [{"start": "00:00", "end": "24:00"}]


def windows(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"start": a, "end": b} for a, b in pairs]


BEDTIME = {day: windows(("07:00", "19:30")) for day in SCHOOL_DAYS}


async def put_schedule(parent: api.Parent, kid: str, **body: object) -> httpx.Response:
    return await parent.client.put(f"{PC}/profiles/{kid}/schedule", headers=parent.headers,
                                   json=body)


async def scheduled(parent: api.Parent, kid: str, **body: object) -> dict:
    r = await put_schedule(parent, kid, **body)
    assert r.status_code == 200, r.text
    return r.json()


async def at(parent: api.Parent, clock, instant: datetime) -> None:  # type: ignore[no-untyped-def]
    clock.set(instant)
    await parent.login()  # the token of an hour ago may have expired


def state(r: httpx.Response) -> tuple:
    body = r.json()
    return (body["enforcement"], body["remaining_minutes"], body["reason"],
            body["next_allowed_at"])


async def test_a_new_child_has_the_config_defaults_every_day_and_all_day(parent):
    kid = await parent.child()
    r = await parent.client.get(f"{PC}/profiles/{kid}/schedule", headers=parent.headers)
    assert r.status_code == 200
    assert r.json() == {
        "profile_id": kid, "limits": {}, "allowed_hours": {},
        "updated_at": "2026-03-04T12:00:00Z",
        "week": [{"day": day, "limit_minutes": 120 if day in SCHOOL_DAYS else 180,
                  "allowed_hours": ALL_DAY}
                 for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]}


async def test_a_schedule_is_stored_as_given_and_the_week_fills_in_the_defaults(parent, clock):
    kid = await parent.child()
    await put_config(parent, kid, weekday_limit_minutes=45, weekend_limit_minutes=90)
    clock.advance(60)
    body = {"limits": {"mon": 60, "fri": 90, "sat": None},
            "allowed_hours": {"mon": windows(("19:00", "19:30"), ("07:00", "08:00")),
                              "sun": []}}
    expected = {
        "profile_id": kid, "limits": body["limits"], "allowed_hours": body["allowed_hours"],
        "updated_at": "2026-03-04T12:01:00Z",
        "week": [
            {"day": "mon", "limit_minutes": 60,
             "allowed_hours": windows(("19:00", "19:30"), ("07:00", "08:00"))},
            {"day": "tue", "limit_minutes": 45, "allowed_hours": ALL_DAY},
            {"day": "wed", "limit_minutes": 45, "allowed_hours": ALL_DAY},
            {"day": "thu", "limit_minutes": 45, "allowed_hours": ALL_DAY},
            {"day": "fri", "limit_minutes": 90, "allowed_hours": ALL_DAY},
            {"day": "sat", "limit_minutes": None, "allowed_hours": ALL_DAY},
            {"day": "sun", "limit_minutes": 90, "allowed_hours": []},
        ]}
    assert await scheduled(parent, kid, **body) == expected
    r = await parent.client.get(f"{PC}/profiles/{kid}/schedule", headers=parent.headers)
    assert r.json() == expected
    # The weekday/weekend fields stay the defaults the schedule overrides.
    r = await put_config(parent, kid, weekday_limit_minutes=30)
    assert r.status_code == 200
    week = (await parent.client.get(f"{PC}/profiles/{kid}/schedule",
                                    headers=parent.headers)).json()["week"]
    assert [d["limit_minutes"] for d in week] == [60, 30, 30, 30, 90, None, 90]
    # Replacing the schedule with nothing goes back to the defaults.
    cleared = await scheduled(parent, kid)
    assert (cleared["limits"], cleared["allowed_hours"]) == ({}, {})
    assert [d["limit_minutes"] for d in cleared["week"]] == [30] * 5 + [90] * 2


async def test_every_bad_field_is_named_and_nothing_changes(parent):
    kid = await parent.child()
    await scheduled(parent, kid, limits={"mon": 60})
    r = await put_schedule(parent, kid, limits={"mon": 70, "noday": 60},
                           allowed_hours={"mon": windows(("19:30", "07:00")),
                                          "tue": windows(("07:00", "25:00")),
                                          "wed": [{"start": "07:00", "end": "08:00"}] * 7})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "limits.mon", "message": "must be a multiple of 15"},
        {"field": "limits.noday",
         "message": "unknown day (the days are mon, tue, wed, thu, fri, sat, sun)"},
        {"field": "allowed_hours.mon[0].end", "message": "must be after start"},
        {"field": "allowed_hours.tue[0].end",
         "message": 'must be a time "HH:MM" from "00:00" to "24:00"'},
        {"field": "allowed_hours.wed", "message": "at most 6 windows a day"},
    ]
    assert r.json()["detail"].startswith("limits.mon: must be a multiple of 15; ")
    for body in ({"limits": [60]}, {"allowed_hours": "07:00-19:30"},
                 {"allowed_hours": {"mon": [{"start": "07:00", "end": "08:00", "x": 1}]}}):
        r = await put_schedule(parent, kid, **body)
        assert r.status_code == 422, (body, r.text)
    r = await parent.client.get(f"{PC}/profiles/{kid}/schedule", headers=parent.headers)
    assert (r.json()["limits"], r.json()["allowed_hours"]) == ({"mon": 60}, {})


async def test_only_the_owner_reaches_a_childs_schedule(parent, client):
    kid, adult = await parent.child(), await parent.adult()
    stranger = await api.signed_up(client, "stranger@example.com")
    for who, profile in ((parent, adult), (parent, str(uuid.uuid4())), (stranger, kid)):
        r = await client.get(f"{PC}/profiles/{profile}/schedule", headers=who.headers)
        assert r.status_code == 404, r.text
        r = await client.put(f"{PC}/profiles/{profile}/schedule", headers=who.headers,
                             json={"limits": {"mon": 15}})
        assert r.status_code == 404, r.text
    device = await parent.pair(kid)
    player = {"Authorization": f"Bearer {device['device_token']}"}
    for method in ("GET", "PUT"):
        r = await client.request(method, f"{PC}/profiles/{kid}/schedule", headers=player,
                                 json={"allowed_hours": {}})
        assert r.status_code == 403, r.text
    r = await client.get(f"{PC}/profiles/{kid}/schedule", headers=parent.headers)
    assert r.json()["limits"] == {}


async def test_bedtime_warns_first_stops_the_beat_at_the_window_and_blocks_after(
        parent, titles, clock, database_url):
    kid = await parent.child(timezone="Europe/Berlin")
    await scheduled(parent, kid, allowed_hours=BEDTIME)
    start = datetime(2026, 3, 4, 18, 10, 15, tzinfo=UTC)  # Wednesday 19:10:15 CET
    await at(parent, clock, start)
    r = await parent.beat(kid, titles.cartoon)
    assert state(r) == ("allowed", 19.75, None, None)  # the window, not the 119.5 of the limit
    session = r.json()["session_id"]
    answers = {}
    for n in range(1, 40):
        clock.set(start + timedelta(seconds=30 * n))
        answers[n] = state(await parent.beat(kid, titles.cartoon, session))
    assert answers[9] == ("allowed", 15.25, None, None)  # 19:14:45
    assert answers[10] == ("warning_15", 14.75, None, None)
    assert answers[30] == ("warning_5", 4.75, None, None)  # 19:25:15
    assert answers[39] == ("warning_5", 0.25, None, None)  # 19:29:45: pays 15 s, not 30
    assert (await parent.balance(kid))["used_minutes"] == 19.75  # 39 × 30 s + 15 s
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        counted_until = await conn.fetchval(
            "SELECT counted_until FROM viewing_sessions WHERE id = $1", uuid.UUID(session))
    finally:
        await conn.close()
    assert counted_until == datetime(2026, 3, 4, 18, 30, tzinfo=UTC)  # the window's end
    thursday_7 = "2026-03-05T06:00:00Z"
    clock.set(start + timedelta(seconds=30 * 40))  # 19:30:15
    r = await parent.beat(kid, titles.cartoon, session)
    assert state(r) == ("blocked", 0.0, "outside_allowed_hours", thursday_7)
    assert r.json()["used_minutes"] == 19.75
    # An exempt documentary is stopped at bedtime too (the limit is not the reason).
    r = await parent.beat(kid, titles.documentary, device_id="tablet")
    assert state(r) == ("blocked", 0.0, "outside_allowed_hours", thursday_7)
    assert await eligibility(parent, kid) == {
        "eligible": False, "remaining_minutes": 0.0, "reason": "outside_allowed_hours",
        "next_reset_at": "2026-03-05T05:00:00Z", "next_allowed_at": thursday_7}
    balance = await parent.balance(kid)
    assert (balance["remaining_minutes"], balance["reason"], balance["next_allowed_at"],
            balance["used_minutes"]) == (0.0, "outside_allowed_hours", thursday_7, 19.75)
    # The next morning the window opens again.
    await at(parent, clock, datetime(2026, 3, 5, 6, 0, tzinfo=UTC))
    r = await parent.beat(kid, titles.cartoon)
    assert state(r) == ("allowed", 119.5, None, None)


@pytest.mark.parametrize(("zone", "evening"), [
    ("Europe/Berlin", datetime(2026, 3, 4, 18, 20, tzinfo=UTC)),  # CET, +1
    ("America/New_York", datetime(2026, 3, 5, 0, 20, tzinfo=UTC)),  # EST, -5: still Wednesday
    ("Australia/Adelaide", datetime(2026, 3, 4, 8, 50, tzinfo=UTC)),  # ACDT, +10:30
    ("Asia/Kathmandu", datetime(2026, 3, 4, 13, 35, tzinfo=UTC)),  # +5:45
])
async def test_bedtime_is_read_on_the_childs_own_clock(parent, titles, clock, zone, evening):
    """19:20 on a Wednesday, wherever the child lives: ten minutes to bedtime."""
    kid = await parent.child(timezone=zone)
    await scheduled(parent, kid, allowed_hours=BEDTIME)
    await at(parent, clock, evening)
    r = await parent.beat(kid, titles.cartoon)
    assert state(r) == ("warning_15", 10.0, None, None)
    clock.advance(10 * 60)
    r = await parent.beat(kid, titles.cartoon, r.json()["session_id"])
    thursday_7 = (evening + timedelta(hours=11, minutes=40)).isoformat().replace("+00:00", "Z")
    assert state(r) == ("blocked", 0.0, "outside_allowed_hours", thursday_7)


async def test_a_window_bound_in_the_spring_gap_opens_when_the_clock_jumps(parent, titles,
                                                                          clock):
    """New York, Sunday 8 March 2026: 02:00 EST jumps to 03:00 EDT, so 02:30 never happens; a
    window from 02:30 opens at 03:00 EDT (07:00 UTC)."""
    kid = await parent.child(timezone="America/New_York")
    await scheduled(parent, kid, allowed_hours={"sun": windows(("02:30", "05:00"))})
    await at(parent, clock, datetime(2026, 3, 8, 6, 59, tzinfo=UTC))  # 01:59 EST
    r = await parent.beat(kid, titles.cartoon)
    assert state(r) == ("blocked", 0.0, "outside_allowed_hours", "2026-03-08T07:00:00Z")
    clock.set(datetime(2026, 3, 8, 7, 0, tzinfo=UTC))
    r = await parent.beat(kid, titles.cartoon, r.json()["session_id"])
    # Saturday's viewing day (reset 06:00) has 179.5 minutes left; the window ends sooner.
    assert state(r) == ("allowed", 120.0, None, None)
    assert r.json()["used_minutes"] == 0.5


async def test_a_window_ending_in_the_autumn_fold_ends_at_its_first_occurrence(parent, titles,
                                                                              clock):
    """Berlin, Sunday 25 October 2026: 03:00 CEST falls back to 02:00 CET, so 02:30 happens
    twice; a window until 02:30 ends at the first (00:30 UTC)."""
    kid = await parent.child(timezone="Europe/Berlin")
    await scheduled(parent, kid, allowed_hours={"sun": windows(("00:00", "02:30"))})
    await at(parent, clock, datetime(2026, 10, 25, 0, 20, tzinfo=UTC))  # 02:20 CEST
    r = await parent.beat(kid, titles.cartoon)
    assert state(r) == ("warning_15", 10.0, None, None)
    clock.set(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    r = await parent.beat(kid, titles.cartoon, r.json()["session_id"])
    monday = "2026-10-25T23:00:00Z"  # Monday 00:00 CET
    assert state(r) == ("blocked", 0.0, "outside_allowed_hours", monday)


async def test_windows_touching_midnight_are_one_allowance(parent, titles, clock):
    kid = await parent.child()
    await scheduled(parent, kid, allowed_hours={"fri": windows(("20:00", "24:00")),
                                                "sat": windows(("00:00", "01:00"),
                                                               ("09:00", "12:00"))})
    await at(parent, clock, datetime(2026, 3, 6, 23, 50, tzinfo=UTC))  # Friday 23:50
    r = await parent.beat(kid, titles.cartoon)
    assert state(r) == ("allowed", 70.0, None, None)  # on until Saturday 01:00
    await at(parent, clock, datetime(2026, 3, 7, 0, 50, tzinfo=UTC))
    r = await parent.beat(kid, titles.cartoon, r.json()["session_id"])
    assert state(r) == ("warning_15", 10.0, None, None)
    await at(parent, clock, datetime(2026, 3, 7, 1, 0, tzinfo=UTC))
    r = await parent.beat(kid, titles.cartoon, r.json()["session_id"])
    assert state(r) == ("blocked", 0.0, "outside_allowed_hours", "2026-03-07T09:00:00Z")


async def test_an_empty_day_allows_nothing_and_a_week_without_windows_has_no_next(parent,
                                                                                 titles):
    kid = await parent.child()
    await scheduled(parent, kid, allowed_hours={"wed": []})  # today
    r = await parent.beat(kid, titles.cartoon)
    assert state(r) == ("blocked", 0.0, "outside_allowed_hours", "2026-03-05T00:00:00Z")
    assert r.json()["used_minutes"] == 0.0
    await scheduled(parent, kid, allowed_hours={day: [] for day in
                                                (*SCHOOL_DAYS, "sat", "sun")})
    r = await parent.beat(kid, titles.cartoon, r.json()["session_id"])
    assert state(r) == ("blocked", 0.0, "outside_allowed_hours", None)
    assert (await eligibility(parent, kid))["next_allowed_at"] is None


async def test_a_schedule_change_takes_effect_on_the_next_beat(parent, titles, clock):
    kid = await parent.child()
    r = await parent.beat(kid, titles.cartoon)
    session = r.json()["session_id"]
    await scheduled(parent, kid, allowed_hours={"wed": windows(("00:00", "12:05"))})
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert state(r) == ("warning_5", 4.5, None, None)
    await scheduled(parent, kid, allowed_hours={"wed": windows(("13:00", "14:00"))})
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert state(r) == ("blocked", 0.0, "outside_allowed_hours", "2026-03-04T13:00:00Z")
    assert r.json()["used_minutes"] == 1.0  # the blocked beat charged nothing
    await scheduled(parent, kid)
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert state(r) == ("allowed", 118.5, None, None)  # a fresh paid window


async def test_the_day_spent_inside_the_hours_resumes_at_the_next_window(parent, titles, clock):
    """The limit is the reason, but watching may resume only when both allow it: after the
    06:00 reset, at the 07:00 window."""
    kid = await parent.child()
    await scheduled(parent, kid, limits={"wed": 15},
                    allowed_hours={day: windows(("07:00", "20:00")) for day in SCHOOL_DAYS})
    r = await parent.beat(kid, titles.cartoon)
    session = r.json()["session_id"]
    for _ in range(30):
        clock.advance(30)
        r = await parent.beat(kid, titles.cartoon, session)
    assert state(r) == ("blocked", 0.0, "daily_limit_reached", "2026-03-05T07:00:00Z")


async def test_the_limit_is_the_viewing_days_and_the_hours_the_calendar_days(parent, titles,
                                                                             clock):
    """Reset at 04:00: Saturday 02:00 still belongs to Friday's viewing day and its limit, but
    is read against Saturday's allowed hours."""
    kid = await parent.child()
    await set_pin(parent)
    r = await put_config(parent, kid, reset_hour=4, pin_token=await pin_token(parent))
    assert r.status_code == 200, r.text
    await scheduled(parent, kid, limits={"fri": 30, "sat": 60},
                    allowed_hours={"fri": windows(("07:00", "24:00")),
                                   "sat": windows(("00:00", "02:30"), ("09:00", "21:00"))})
    await at(parent, clock, datetime(2026, 3, 7, 2, 0, tzinfo=UTC))
    r = await parent.beat(kid, titles.cartoon)
    assert state(r) == ("allowed", 29.5, None, None)  # Friday's 30, not Saturday's 60
    balance = await parent.balance(kid)
    assert (balance["limit_minutes"], balance["next_reset_at"]) == (30, "2026-03-07T04:00:00Z")
    clock.set(datetime(2026, 3, 7, 2, 30, tzinfo=UTC))
    r = await parent.beat(kid, titles.cartoon, r.json()["session_id"])
    assert state(r) == ("blocked", 0.0, "outside_allowed_hours", "2026-03-07T09:00:00Z")
    await at(parent, clock, datetime(2026, 3, 7, 9, 0, tzinfo=UTC))
    r = await parent.beat(kid, titles.cartoon)
    assert state(r) == ("allowed", 59.5, None, None)


async def test_past_days_keep_their_limits_when_this_weeks_change(parent, titles, clock):
    await at(parent, clock, datetime(2026, 2, 23, 12, tzinfo=UTC))  # a Monday
    kid = await parent.child()
    await put_config(parent, kid, weekday_limit_minutes=60, weekend_limit_minutes=90)
    for day in range(24, 28):  # 10 minutes on Tuesday..Friday: 20 beats, 30 s apart
        await at(parent, clock, datetime(2026, 2, day, 12, tzinfo=UTC))
        session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
        for _ in range(19):
            clock.advance(30)
            await parent.beat(kid, titles.cartoon, session)
    await at(parent, clock, datetime(2026, 3, 2, 12, tzinfo=UTC))  # the next Monday
    before = (await weekly_report(parent)).json()["profiles"][0]
    assert [d["limit_minutes"] for d in before["daily_totals"]] == [60, 60, 60, 60, 90, 90, 60]
    assert before["limit_usage_percent"] == round(40 / 480 * 100, 2)

    await put_config(parent, kid, weekday_limit_minutes=30)
    await scheduled(parent, kid, limits={"tue": 120, "sat": None})
    after = (await weekly_report(parent)).json()["profiles"][0]
    assert [d["limit_minutes"] for d in after["daily_totals"]] == [60, 60, 60, 60, 90, 90, 30]
    assert after["limit_usage_percent"] == round(40 / 450 * 100, 2)  # only today's moved

    await at(parent, clock, datetime(2026, 3, 3, 12, tzinfo=UTC))  # a day later
    later = (await weekly_report(parent)).json()["profiles"][0]
    assert [d["limit_minutes"] for d in later["daily_totals"]] == [60, 60, 60, 90, 90, 30, 120]
    r = await history(parent, kid, from_date="2026-02-23", to_date="2026-03-03")
    assert [(d["date"], d["limit_minutes"]) for d in r.json()["days"]] == [
        ("2026-02-27", 60), ("2026-02-26", 60), ("2026-02-25", 60), ("2026-02-24", 60)]
    r = await history(parent, kid)  # today listed once watched
    assert r.status_code == 200


async def test_days_before_the_profile_existed_take_its_first_days_limits(parent, clock):
    kid = await parent.child()
    await put_config(parent, kid, weekday_limit_minutes=None, weekend_limit_minutes=None)
    [week] = (await weekly_report(parent)).json()["profiles"]
    assert [d["limit_minutes"] for d in week["daily_totals"]] == [None] * 7
    assert week["limit_usage_percent"] is None
