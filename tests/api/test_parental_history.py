"""Viewing history: grouping by the profile's viewing day, ranges, limits, shapes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from app.database import asyncpg_dsn
from tests.support.api import signed_up
from tests.support.parental import history

pytestmark = pytest.mark.anyio


async def _watch(parent, kid: str, title: str, clock, *, at: datetime, minutes: int) -> str:
    clock.set(at)
    await parent.login()  # the frozen clock may have jumped past the token's expiry
    r = await parent.beat(kid, title)
    session = r.json()["session_id"]
    for _ in range(minutes * 2):
        clock.advance(30)
        await parent.beat(kid, title, session)
    r = await parent.end(session)
    assert r.status_code == 200 and r.json()["total_seconds"] == minutes * 60, r.text
    return session


async def test_days_follow_the_reset_hour_newest_first(parent, titles, clock):
    kid = await parent.child()  # UTC, reset at 06:00
    a = await _watch(parent, kid, titles.cartoon, clock, at=datetime(2026, 3, 4, 12, tzinfo=UTC),
                     minutes=10)
    # Thursday 05:00 is still Wednesday's viewing day.
    b = await _watch(parent, kid, titles.documentary, clock,
                     at=datetime(2026, 3, 5, 5, tzinfo=UTC), minutes=5)
    c = await _watch(parent, kid, titles.cartoon, clock, at=datetime(2026, 3, 5, 7, tzinfo=UTC),
                     minutes=3)
    r = await history(parent, kid)
    assert r.status_code == 200
    body = r.json()
    assert body["profile_id"] == kid
    assert (body["from_date"], body["to_date"]) == ("2026-02-04", "2026-03-05")  # last 30 days
    assert body["truncated"] is False
    thursday, wednesday = body["days"]
    assert thursday["date"] == "2026-03-05"
    assert [s["session_id"] for s in thursday["sessions"]] == [c]
    assert (thursday["total_minutes"], thursday["counted_minutes"],
            thursday["educational_minutes"]) == (3, 3, 0)
    assert wednesday["date"] == "2026-03-04"
    assert [s["session_id"] for s in wednesday["sessions"]] == [b, a]  # newest first
    assert (wednesday["total_minutes"], wednesday["counted_minutes"],
            wednesday["educational_minutes"]) == (15, 10, 5)
    assert wednesday["sessions"][0] == {
        "session_id": b, "title_id": titles.documentary, "title_name": "Documentary",
        "device_type": "web", "is_educational": True, "started_at": "2026-03-05T05:00:00Z",
        "ended_at": "2026-03-05T05:05:00Z", "duration_minutes": 5.0}


async def test_days_follow_the_profiles_time_zone(parent, titles, clock):
    kid = await parent.child(timezone="America/New_York")  # UTC-5 in March before DST
    # 10:30 UTC is 05:30 in New York: before the 06:00 reset, so Tuesday's viewing day.
    early = await _watch(parent, kid, titles.cartoon, clock,
                         at=datetime(2026, 3, 4, 10, 30, tzinfo=UTC), minutes=2)
    late = await _watch(parent, kid, titles.cartoon, clock,
                        at=datetime(2026, 3, 4, 11, 30, tzinfo=UTC), minutes=2)
    r = await history(parent, kid, from_date="2026-03-01", to_date="2026-03-04")
    days = {d["date"]: [s["session_id"] for s in d["sessions"]] for d in r.json()["days"]}
    assert days == {"2026-03-04": [late], "2026-03-03": [early]}
    r = await history(parent, kid, from_date="2026-03-04", to_date="2026-03-04")
    assert [d["date"] for d in r.json()["days"]] == ["2026-03-04"]


async def test_an_open_session_is_listed_without_an_end(parent, titles):
    kid = await parent.child()
    await parent.beat(kid, titles.cartoon)
    day = (await history(parent, kid)).json()["days"][0]
    assert day["sessions"][0]["ended_at"] is None
    assert day["sessions"][0]["duration_minutes"] == 0.5  # the first paid window


@pytest.mark.parametrize("params, field", [
    ({"from_date": "2026-03-05", "to_date": "2026-03-04"}, "from_date"),
    ({"from_date": "2025-12-01", "to_date": "2026-03-04"}, "from_date"),   # 93 days
    ({"from_date": "2025-11-01"}, "from_date"),                            # up to today
    ({"from_date": "2026-13-01"}, "from_date"),
    ({"to_date": "yesterday"}, "to_date"),
    ({"from_date": "2026-03-05"}, "from_date"),                            # after today
])
async def test_bad_ranges_are_422(parent, params, field):
    kid = await parent.child()
    r = await history(parent, kid, **params)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"{field}:")


async def test_ninety_days_is_the_longest_range(parent):
    kid = await parent.child()
    r = await history(parent, kid, from_date="2025-12-04", to_date="2026-03-04")
    assert r.status_code == 200 and r.json()["days"] == []
    r = await history(parent, kid, to_date="2026-01-10")  # from defaults to 30 days before
    assert (r.json()["from_date"], r.json()["to_date"]) == ("2025-12-12", "2026-01-10")


async def test_adult_unknown_and_other_accounts_profiles_are_404(client, parent):
    other = await signed_up(client, "other@example.com")
    for profile in (await parent.adult(), str(uuid.uuid4()), await other.child()):
        r = await history(parent, profile)
        assert r.status_code == 404 and r.json() == {"detail": "Profile not found"}


async def test_at_most_500_sessions_newest_first(parent, titles, database_url):
    kid = await parent.child()
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        # 600 one-minute sessions, one every 2 minutes from Wednesday 06:00 UTC back in time.
        await conn.execute("""
            INSERT INTO viewing_sessions (id, profile_id, title_id, device_id, device_type,
                is_educational, started_at, last_heartbeat_at, ended_at, total_seconds)
            SELECT gen_random_uuid(), $1, $2, 'tv', 'tv', false, t, t, t + interval '1 minute', 60
            FROM generate_series(timestamptz '2026-03-04 06:00+00' - interval '2 minutes',
                                 timestamptz '2026-03-04 06:00+00' - interval '1200 minutes',
                                 interval '-2 minutes') AS t
        """, uuid.UUID(kid), uuid.UUID(titles.cartoon))
    finally:
        await conn.close()
    r = await history(parent, kid, from_date="2026-03-01", to_date="2026-03-04")
    body = r.json()
    sessions = [s for d in body["days"] for s in d["sessions"]]
    assert len(sessions) == 500 and body["truncated"] is True
    starts = [s["started_at"] for s in sessions]
    assert starts == sorted(starts, reverse=True)
    assert starts[0] == "2026-03-04T05:58:00Z"


async def test_openapi_documents_the_query_parameters(client):
    doc = (await client.get("/openapi.json")).json()
    op = doc["paths"]["/api/v1/parental-controls/profiles/{profile_id}/history"]["get"]
    assert [(p["name"], p["in"]) for p in op["parameters"]] == [
        ("profile_id", "path"), ("from_date", "query"), ("to_date", "query")]
