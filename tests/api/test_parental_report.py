"""The weekly report: every child's last 7 viewing days, totals, limit usage, top titles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.support.api import signed_up
from tests.support.parental import put_config, weekly_report

pytestmark = pytest.mark.anyio


async def _watch(parent, kid: str, title: str, clock, *, at: datetime, minutes: int) -> None:
    clock.set(at)
    await parent.login()
    r = await parent.beat(kid, title)
    session = r.json()["session_id"]
    for _ in range(minutes * 2):
        clock.advance(30)
        await parent.beat(kid, title, session)
    assert (await parent.end(session)).json()["total_seconds"] == minutes * 60


async def test_a_childs_week(parent, titles, clock, container):
    puzzle = str(uuid.uuid4())
    await (await container.titles()).upsert_many([(uuid.UUID(puzzle), "Puzzle", False)])
    kid = await parent.child("Mia")
    await parent.adult()  # adults are not in the report
    wednesday = datetime(2026, 3, 4, 8, tzinfo=UTC)
    await _watch(parent, kid, titles.cartoon, clock, at=wednesday, minutes=10)
    await _watch(parent, kid, titles.documentary, clock, at=wednesday.replace(hour=9), minutes=5)
    await _watch(parent, kid, titles.cartoon, clock, at=datetime(2026, 3, 2, 18, tzinfo=UTC),
                 minutes=20)
    await _watch(parent, kid, puzzle, clock, at=datetime(2026, 3, 1, 10, tzinfo=UTC), minutes=2)
    # Outside the week (Wednesday 25 February): in no total.
    await _watch(parent, kid, puzzle, clock, at=datetime(2026, 2, 25, 10, tzinfo=UTC), minutes=50)
    clock.set(datetime(2026, 3, 4, 12, tzinfo=UTC))
    await parent.login()

    r = await weekly_report(parent)
    assert r.status_code == 200
    body = r.json()
    assert (body["week_start"], body["week_end"]) == ("2026-02-26", "2026-03-04")
    [mia] = body["profiles"]
    assert (mia["profile_id"], mia["profile_name"]) == (kid, "Mia")
    assert [d["date"] for d in mia["daily_totals"]] == [
        "2026-02-26", "2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02", "2026-03-03",
        "2026-03-04"]
    assert [d["limit_minutes"] for d in mia["daily_totals"]] == [120, 120, 180, 180, 120, 120, 120]
    assert [d["minutes"] for d in mia["daily_totals"]] == [0, 0, 0, 2, 20, 0, 15]
    assert mia["daily_totals"][-1] == {"date": "2026-03-04", "minutes": 15, "counted_minutes": 10,
                                       "educational_minutes": 5, "limit_minutes": 120}
    assert mia["total_minutes"] == 37 and mia["educational_minutes"] == 5
    assert mia["average_daily_minutes"] == round(37 / 7, 2)
    assert mia["limit_usage_percent"] == round(32 / 960 * 100, 2)
    assert mia["top_titles"] == [
        {"title_id": titles.cartoon, "title_name": "Cartoon", "total_minutes": 30},
        {"title_id": titles.documentary, "title_name": "Documentary", "total_minutes": 5},
        {"title_id": puzzle, "title_name": "Puzzle", "total_minutes": 2},
    ]


async def test_limit_usage_is_null_when_every_day_is_unlimited(parent, titles, clock):
    kid = await parent.child()
    await put_config(parent, kid, weekday_limit_minutes=None, weekend_limit_minutes=None)
    await _watch(parent, kid, titles.cartoon, clock, at=datetime(2026, 3, 4, 12, tzinfo=UTC),
                 minutes=4)
    [week] = (await weekly_report(parent)).json()["profiles"]
    assert week["limit_usage_percent"] is None
    assert all(d["limit_minutes"] is None for d in week["daily_totals"])
    assert week["total_minutes"] == 4


async def test_only_weekend_limits_count_toward_usage(parent, titles, clock):
    kid = await parent.child()
    await put_config(parent, kid, weekday_limit_minutes=None, weekend_limit_minutes=60)
    await _watch(parent, kid, titles.cartoon, clock, at=datetime(2026, 3, 1, 12, tzinfo=UTC),
                 minutes=30)  # a Sunday
    await _watch(parent, kid, titles.cartoon, clock, at=datetime(2026, 3, 2, 12, tzinfo=UTC),
                 minutes=30)  # a Monday: unlimited, not in the ratio
    clock.set(datetime(2026, 3, 4, 12, tzinfo=UTC))
    await parent.login()
    [week] = (await weekly_report(parent)).json()["profiles"]
    assert week["limit_usage_percent"] == 25.0  # 30 of 2 × 60


async def test_an_account_without_children(parent):
    r = await weekly_report(parent)
    assert r.status_code == 200
    assert r.json() == {"week_start": "2026-02-26", "week_end": "2026-03-04", "profiles": []}


async def test_each_child_has_its_own_zone_and_only_the_callers_children(client, parent, clock):
    berlin = await parent.child("Ben", timezone="Europe/Berlin")
    # Children are listed by creation time, then id: a distinct instant keeps the order fixed
    # (at the same frozen instant it followed the random ids, and failed half the runs).
    clock.advance(1)
    # 12:00 UTC is 04:00 in Los Angeles: before the reset, so still Tuesday's viewing day.
    angeles = await parent.child("Sam", timezone="America/Los_Angeles")
    other = await signed_up(client, "other@example.com")
    await other.child("Not yours")
    body = (await weekly_report(parent)).json()
    assert [p["profile_id"] for p in body["profiles"]] == [berlin, angeles]
    weeks = {p["profile_name"]: (p["week_start"], p["week_end"]) for p in body["profiles"]}
    assert weeks == {"Ben": ("2026-02-26", "2026-03-04"), "Sam": ("2026-02-25", "2026-03-03")}
    assert (body["week_start"], body["week_end"]) == ("2026-02-25", "2026-03-04")
    assert all(len(p["daily_totals"]) == 7 and p["top_titles"] == [] for p in body["profiles"])
