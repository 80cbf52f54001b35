"""Every consequence of accounting.md, driven by the frozen clock through the container."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from app.services.clock import FrozenClock

pytestmark = pytest.mark.anyio


async def watch(parent, clock: FrozenClock, profile: str, title: str, *, beats: int,
                every: float = 30, session: str | None = None, **extra) -> str:
    """`beats` heartbeats `every` seconds apart (the first opens a session unless given)."""
    for i in range(beats):
        if i:
            clock.advance(every)
        r = await parent.beat(profile, title, session, **extra)
        assert r.status_code == 200, r.text
        session = r.json()["session_id"]
    assert session is not None
    return session


def used_seconds(balance: dict) -> float:
    return balance["used_minutes"] * 60


def approx_s(seconds: float):
    """Minutes are shown rounded to 2 decimals: ±0.3 s."""
    return pytest.approx(seconds, abs=0.31)


async def test_first_beat_prepays_one_interval(parent, titles):
    kid = await parent.child()
    r = await parent.beat(kid, titles.cartoon)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"session_id", "enforcement", "remaining_minutes", "used_minutes",
                         "is_educational", "reason", "next_allowed_at"}
    assert (body["reason"], body["next_allowed_at"]) == (None, None)
    assert body["used_minutes"] == 0.5
    assert body["remaining_minutes"] == 119.5  # weekday limit 120 (a Wednesday)
    assert body["enforcement"] == "allowed" and body["is_educational"] is False


async def test_ten_minutes_of_beats_then_end_charges_600_seconds(parent, titles, clock):
    kid = await parent.child()
    session = await watch(parent, clock, kid, titles.cartoon, beats=21)  # t = 0 … 600
    r = await parent.end(session)
    assert r.status_code == 200
    assert r.json()["total_seconds"] == pytest.approx(600, abs=1)
    assert used_seconds(await parent.balance(kid)) == pytest.approx(600, abs=1)


async def test_duplicate_beats_at_the_same_instant_charge_nothing(parent, titles, clock):
    kid = await parent.child()
    session = await watch(parent, clock, kid, titles.cartoon, beats=2)
    before = await parent.balance(kid)
    for _ in range(3):
        assert (await parent.beat(kid, titles.cartoon, session)).status_code == 200
    assert await parent.balance(kid) == before


async def test_a_retry_of_an_already_paid_instant_charges_nothing(parent, titles, clock):
    kid = await parent.child()
    session = await watch(parent, clock, kid, titles.cartoon, beats=2)  # paid until t=60
    clock.advance(-20)  # a delayed retry of an earlier beat (t=10, inside the paid window)
    assert (await parent.beat(kid, titles.cartoon, session)).json()["used_minutes"] == 1.0


async def test_parallel_duplicates_charge_once(parent, titles, clock):
    kid = await parent.child()
    session = await watch(parent, clock, kid, titles.cartoon, beats=1)
    clock.advance(30)
    replies = await asyncio.gather(*(parent.beat(kid, titles.cartoon, session) for _ in range(32)))
    assert {r.status_code for r in replies} == {200}
    assert used_seconds(await parent.balance(kid)) == approx_s(60)


async def test_beats_every_second_charge_one_second_each(parent, titles, clock):
    kid = await parent.child()
    await watch(parent, clock, kid, titles.cartoon, beats=11, every=1)  # t = 0 … 10
    assert used_seconds(await parent.balance(kid)) == approx_s(30 + 10)


async def test_end_refunds_the_unused_window_and_is_idempotent(parent, titles, clock):
    kid = await parent.child()
    session = await watch(parent, clock, kid, titles.cartoon, beats=2)  # paid until t=60
    clock.advance(10)  # end at t=40
    first = await parent.end(session)
    assert first.json()["total_seconds"] == pytest.approx(40)
    assert used_seconds(await parent.balance(kid)) == approx_s(40)
    clock.advance(100)
    second = await parent.end(session)
    assert second.status_code == 200 and second.json() == first.json()
    assert used_seconds(await parent.balance(kid)) == approx_s(40)


async def test_beat_after_end_is_409_and_charges_nothing(parent, titles, clock):
    kid = await parent.child()
    session = await watch(parent, clock, kid, titles.cartoon, beats=1)
    await parent.end(session)
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.status_code == 409
    assert r.json()["code"] == "session_ended"
    assert used_seconds(await parent.balance(kid)) == approx_s(0)


async def test_device_switch_ends_the_old_session_and_refunds_the_overlap(parent, titles, clock):
    kid = await parent.child()
    tv = await watch(parent, clock, kid, titles.cartoon, beats=2, device_id="tv")  # paid to 60
    clock.advance(10)  # t=40: the tablet starts; the tv's 20 unwatched seconds come back
    tablet = await parent.beat(kid, titles.cartoon, device_id="tablet")
    assert tablet.status_code == 200
    assert used_seconds(await parent.balance(kid)) == approx_s(40 + 30)
    clock.advance(5)
    r = await parent.beat(kid, titles.cartoon, tv, device_id="tv")
    assert r.status_code == 409 and r.json()["code"] == "session_ended"
    assert (await parent.end(tv)).json()["total_seconds"] == pytest.approx(40)


async def test_racing_first_beats_leave_one_open_session(parent, titles, clock, database_url):
    import asyncpg

    from app.database import asyncpg_dsn

    kid = await parent.child()
    replies = await asyncio.gather(*(parent.beat(kid, titles.cartoon, device_id=f"d{i}")
                                     for i in range(8)))
    assert {r.status_code for r in replies} == {200}
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        open_sessions = await conn.fetchval(
            "SELECT count(*) FROM viewing_sessions WHERE ended_at IS NULL")
        totals = await conn.fetchval("SELECT sum(total_seconds) FROM viewing_sessions")
        used = await conn.fetchval("SELECT sum(used_seconds) FROM daily_balances")
    finally:
        await conn.close()
    assert open_sessions == 1
    assert totals == used == 30  # every superseded session was refunded in full


async def test_pause_within_grace_counts(parent, titles, clock):
    kid = await parent.child()
    session = await watch(parent, clock, kid, titles.cartoon, beats=1)
    await watch(parent, clock, kid, titles.cartoon, beats=11, session=session, is_paused=True)
    # 10 paused beats (300 s, = grace) after the first: all counted.
    assert used_seconds(await parent.balance(kid)) == approx_s(30 + 300)


async def test_pause_beyond_grace_stops_counting_and_resume_opens_a_window(parent, titles, clock):
    kid = await parent.child()
    session = await watch(parent, clock, kid, titles.cartoon, beats=1)  # t=0, paid to 30
    clock.advance(30)
    await parent.beat(kid, titles.cartoon, session, is_paused=True)  # t=30 paused_at, to 60
    for _ in range(20):  # paused until t=630
        clock.advance(30)
        await parent.beat(kid, titles.cartoon, session, is_paused=True)
    # counted while t - paused_at <= 300: beats at 60..330 → paid until 360
    assert used_seconds(await parent.balance(kid)) == approx_s(360)
    clock.advance(30)  # t=660: resume → new window
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.json()["used_minutes"] * 60 == approx_s(390)


async def test_gap_longer_than_stale_is_not_charged(parent, titles, clock):
    kid = await parent.child()
    session = await watch(parent, clock, kid, titles.cartoon, beats=1)
    clock.advance(301)
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.status_code == 200
    assert r.json()["used_minutes"] * 60 == approx_s(60)


async def test_educational_title_is_exempt_by_default(parent, titles, clock):
    kid = await parent.child()
    r = await parent.beat(kid, titles.documentary)
    assert r.json()["is_educational"] is True
    assert r.json()["used_minutes"] == 0
    balance = await parent.balance(kid)
    assert balance["used_minutes"] == 0 and balance["educational_minutes"] == 0.5
    assert balance["remaining_minutes"] == 120


async def test_educational_title_counts_when_not_exempt(parent, titles, clock, database_url,
                                                        container):
    import asyncpg

    from app.database import asyncpg_dsn

    kid = await parent.child()
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    await conn.execute("UPDATE viewing_time_configs SET educational_exempt = false")
    await conn.close()
    r = await parent.beat(kid, titles.documentary)
    assert r.json()["is_educational"] is True and r.json()["used_minutes"] == 0.5


async def _set_limits(database_url: str, **columns) -> None:
    import asyncpg

    from app.database import asyncpg_dsn

    assignments = ", ".join(f"{k} = {v if v is not None else 'NULL'}" for k, v in columns.items())
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    await conn.execute(f"UPDATE viewing_time_configs SET {assignments}")
    await conn.close()


async def test_warnings_then_block_then_no_more_charges(parent, titles, clock, database_url,
                                                         container):
    kid = await parent.child()
    await _set_limits(database_url, weekday_limit_minutes=15)
    session = await watch(parent, clock, kid, titles.cartoon, beats=1)
    states = []
    for _ in range(35):
        clock.advance(30)
        states.append((await parent.beat(kid, titles.cartoon, session)).json())
    # states[i] is the beat at t = 30(i+1), paid until 30(i+2): remaining 900 - 30(i+2) s
    assert states[0]["enforcement"] == "warning_15"        # 14 min left
    assert states[17]["enforcement"] == "warning_15"       # 5.5 min left
    assert states[18]["enforcement"] == "warning_5"        # 5 min left
    assert states[28]["enforcement"] == "blocked"          # 0 left
    assert states[28]["remaining_minutes"] == 0
    assert all(s["enforcement"] == "blocked" and s["used_minutes"] == 15 for s in states[28:])


async def test_lowering_a_limit_below_usage_blocks_at_once(parent, titles, clock, database_url,
                                                            container):
    kid = await parent.child()
    session = await watch(parent, clock, kid, titles.cartoon, beats=41)  # 20.5 min
    await _set_limits(database_url, weekday_limit_minutes=15)
    (await container.config_provider()).invalidate(__import__("uuid").UUID(kid))
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.json()["enforcement"] == "blocked" and r.json()["remaining_minutes"] == 0
    assert r.json()["used_minutes"] == 20.5  # no charge once blocked


async def test_unlimited_limit_is_always_allowed(parent, titles, clock, database_url):
    kid = await parent.child()
    await _set_limits(database_url, weekday_limit_minutes=None)
    r = await parent.beat(kid, titles.cartoon)
    assert r.json()["enforcement"] == "allowed" and r.json()["remaining_minutes"] is None
    balance = await parent.balance(kid)
    assert balance["has_limits"] is False and balance["limit_minutes"] is None


async def test_adult_profiles_are_never_limited_but_sessions_are_recorded(parent, titles, clock):
    adult = await parent.adult()
    session = await watch(parent, clock, adult, titles.cartoon, beats=3)
    r = await parent.beat(adult, titles.cartoon, session)
    assert r.json()["enforcement"] == "allowed" and r.json()["remaining_minutes"] is None
    assert await parent.balance(adult) == {
        "profile_id": adult, "is_child_profile": False, "has_limits": False, "used_minutes": 0,
        "educational_minutes": 0, "limit_minutes": None, "remaining_minutes": None,
        "is_unlimited_override": False, "next_reset_at": None, "warning_threshold_minutes": [15, 5],
        "granted_minutes": 0, "reason": None, "next_allowed_at": None}
    clock.advance(15)
    assert (await parent.end(session)).json()["total_seconds"] == pytest.approx(75)


async def test_weekend_limit_on_saturday_viewing_day(parent, titles, clock):
    kid = await parent.child()
    clock.set(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))  # Saturday
    await parent.login()
    balance = await parent.balance(kid)
    assert balance["limit_minutes"] == 180
    # Monday 03:00 UTC is still Sunday's viewing day (reset hour 6)
    clock.set(datetime(2026, 3, 9, 3, 0, tzinfo=UTC))
    await parent.login()
    assert (await parent.balance(kid))["limit_minutes"] == 180
    clock.set(datetime(2026, 3, 9, 6, 0, tzinfo=UTC))
    await parent.login()
    assert (await parent.balance(kid))["limit_minutes"] == 120


async def test_reset_hour_boundary_starts_a_new_day(parent, titles, clock):
    kid = await parent.child()
    clock.set(datetime(2026, 3, 4, 5, 59, 0, tzinfo=UTC))
    await parent.login()
    session = await watch(parent, clock, kid, titles.cartoon, beats=2)  # 05:59:00, 05:59:30
    balance = await parent.balance(kid)
    assert balance["used_minutes"] == 1.0
    assert balance["next_reset_at"] == "2026-03-04T06:00:00Z"
    clock.advance(30)  # 06:00:00 — a new viewing day: charged to it, old day untouched
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.json()["used_minutes"] == 0.5
    assert (await parent.balance(kid))["next_reset_at"] == "2026-03-05T06:00:00Z"


@pytest.mark.parametrize("zone, instant, expected_reset", [
    # Europe/Berlin springs forward on 2026-03-29 (02:00 → 03:00): the 06:00 reset is 04:00Z
    ("Europe/Berlin", datetime(2026, 3, 28, 12, 0, tzinfo=UTC), "2026-03-29T04:00:00Z"),
    ("Europe/Berlin", datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "2026-03-30T04:00:00Z"),
    # … and falls back on 2026-10-25: the 06:00 reset is 05:00Z
    ("Europe/Berlin", datetime(2026, 10, 24, 12, 0, tzinfo=UTC), "2026-10-25T05:00:00Z"),
    # America/New_York springs forward on 2026-03-08, falls back on 2026-11-01
    ("America/New_York", datetime(2026, 3, 7, 17, 0, tzinfo=UTC), "2026-03-08T10:00:00Z"),
    ("America/New_York", datetime(2026, 10, 31, 17, 0, tzinfo=UTC), "2026-11-01T11:00:00Z"),
])
async def test_next_reset_across_daylight_saving_changes(parent, clock, zone, instant,
                                                         expected_reset):
    kid = await parent.child(timezone=zone)
    clock.set(instant)
    await parent.login()
    assert (await parent.balance(kid))["next_reset_at"] == expected_reset


async def test_dst_day_is_23_hours_long_in_new_york(parent, titles, clock):
    kid = await parent.child(timezone="America/New_York")
    clock.set(datetime(2026, 3, 8, 9, 59, 30, tzinfo=UTC))  # 04:59:30 EST, Saturday's day
    await parent.login()
    session = await watch(parent, clock, kid, titles.cartoon, beats=1)
    assert (await parent.balance(kid))["limit_minutes"] == 180
    clock.advance(30)  # 10:00Z = 06:00 EDT: Sunday's viewing day begins
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.json()["used_minutes"] == 0.5
    balance = await parent.balance(kid)
    assert balance["limit_minutes"] == 180  # Sunday
    assert balance["next_reset_at"] == "2026-03-09T10:00:00Z"  # 23 h later


async def test_stale_sweep_ends_sessions_at_the_end_of_their_paid_window(parent, titles, clock,
                                                                          container):
    kid = await parent.child()
    session = await watch(parent, clock, kid, titles.cartoon, beats=2)  # paid until t=60
    paid_until = clock.now().isoformat().replace("+00:00", "Z")
    clock.advance(301)
    viewing = await container.viewing_time()
    assert await viewing.sweep() == 1
    clock.advance(100)
    r = await parent.end(session)
    assert r.json()["total_seconds"] == 60
    assert r.json()["ended_at"] > paid_until
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.status_code == 409
