"""A session's times only move forward, whatever order racing requests reach the database in.

A request reads the clock, then may wait (for a pooled connection, for a row lock, for a retry)
while another request that read the clock later writes the session first. Moving the frozen
clock backwards between requests replays exactly that order, deterministically.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg
import pytest

from app.database import asyncpg_dsn

pytestmark = pytest.mark.anyio

SESSIONS = """
SELECT id, started_at, last_heartbeat_at, ended_at, total_seconds
FROM viewing_sessions ORDER BY started_at, ended_at NULLS LAST
"""


async def _fetch(database_url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


async def sessions(database_url: str) -> dict[str, asyncpg.Record]:
    return {str(r["id"]): r for r in await _fetch(database_url, SESSIONS)}


async def used_seconds(database_url: str):
    rows = await _fetch(database_url, "SELECT sum(used_seconds) AS used FROM daily_balances")
    return rows[0]["used"]


async def test_twenty_racing_first_beats_never_run_time_backwards(parent, titles, clock,
                                                                   database_url):
    kid = await parent.child()
    clock.ticking(0.001)  # each request reads its own instant
    replies = await asyncio.gather(*(parent.beat(kid, titles.cartoon, device_id=f"d{i}")
                                     for i in range(20)))
    assert {r.status_code for r in replies} == {200}

    rows = sorted((await sessions(database_url)).values(), key=lambda r: r["started_at"])
    assert len(rows) == 20
    assert [r["ended_at"] is None for r in rows] == [False] * 19 + [True]
    for earlier, later in zip(rows, rows[1:]):
        assert earlier["started_at"] <= earlier["ended_at"]
        assert earlier["total_seconds"] >= 0
        # paid exactly for the time it was open, and the next one starts where it ended
        assert float(earlier["total_seconds"]) == pytest.approx(
            (earlier["ended_at"] - earlier["started_at"]).total_seconds(), abs=0.0005)
        assert later["started_at"] == earlier["ended_at"]
    assert rows[-1]["total_seconds"] == 30
    assert await used_seconds(database_url) == sum(r["total_seconds"] for r in rows)


async def test_a_first_beat_that_read_the_clock_earlier_ends_the_other_session_at_its_last_beat(
        parent, titles, clock, database_url):
    kid = await parent.child()
    start = clock.now()
    clock.advance(10)
    tv = (await parent.beat(kid, titles.cartoon, device_id="tv")).json()["session_id"]
    clock.set(start)  # the tablet's beat read the clock before the tv's, and arrives after it
    tablet = (await parent.beat(kid, titles.cartoon, device_id="tablet")).json()["session_id"]

    rows = await sessions(database_url)
    assert rows[tv]["ended_at"] == start + timedelta(seconds=10)
    assert rows[tv]["total_seconds"] == 0  # its whole window refunded, and no more
    assert rows[tablet]["started_at"] == start + timedelta(seconds=10)
    assert await used_seconds(database_url) == 30


async def test_a_delayed_duplicate_does_not_move_the_last_heartbeat_back(parent, titles, clock,
                                                                          database_url):
    kid = await parent.child()
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    last = clock.advance(30)
    assert (await parent.beat(kid, titles.cartoon, session)).status_code == 200
    clock.advance(-20)  # a copy of a beat from t=10, delivered late
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.status_code == 200 and r.json()["used_minutes"] == 1.0
    assert (await sessions(database_url))[session]["last_heartbeat_at"] == last


async def test_an_end_racing_a_later_beat_refunds_no_more_than_the_paid_window(
        parent, titles, clock, database_url):
    kid = await parent.child()
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    last = clock.advance(30)  # paid until t=60
    assert (await parent.beat(kid, titles.cartoon, session)).status_code == 200
    clock.advance(-20)  # the end read the clock at t=10, before the beat at t=30 got in
    r = await parent.end(session)
    assert r.status_code == 200
    assert r.json()["total_seconds"] == 30  # watched until the last beat: refund 30 s, not 50
    row = (await sessions(database_url))[session]
    assert row["ended_at"] == last and row["total_seconds"] == 30
    assert await used_seconds(database_url) == 30


async def test_an_adult_watches_on_two_devices_at_once(parent, titles, clock, database_url):
    """One stream per *child* profile: an adult's second device does not end the first."""
    adult = await parent.adult()
    tv = (await parent.beat(adult, titles.cartoon, device_id="tv")).json()["session_id"]
    phone = (await parent.beat(adult, titles.documentary, device_id="phone")).json()["session_id"]
    clock.advance(30)
    for session, title in ((tv, titles.cartoon), (phone, titles.documentary)):
        r = await parent.beat(adult, title, session)
        assert r.status_code == 200, r.text
        assert r.json()["enforcement"] == "allowed" and r.json()["remaining_minutes"] is None
    rows = await sessions(database_url)
    assert [rows[s]["ended_at"] for s in (tv, phone)] == [None, None]
    assert [rows[s]["total_seconds"] for s in (tv, phone)] == [60, 60]
    # A child's second device still ends the first.
    kid = await parent.child()
    first = (await parent.beat(kid, titles.cartoon, device_id="tv")).json()["session_id"]
    await parent.beat(kid, titles.cartoon, device_id="tablet")
    r = await parent.beat(kid, titles.cartoon, first)
    assert r.status_code == 409 and r.json()["code"] == "session_ended"


STALE = 300  # the default stale gap


async def _stale_session(parent, kid, titles, clock) -> tuple[str, object]:
    """Two beats (paid until t0 + 60 s), then silence past the stale gap."""
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    clock.advance(30)
    await parent.beat(kid, titles.cartoon, session)
    paid_until = clock.now() + timedelta(seconds=30)
    clock.advance(STALE + 100)
    return session, paid_until


async def test_a_stale_session_ended_late_ends_at_its_paid_window(parent, titles, clock,
                                                                   database_url):
    kid = await parent.child()
    session, paid_until = await _stale_session(parent, kid, titles, clock)
    r = await parent.end(session)
    assert r.status_code == 200
    assert datetime.fromisoformat(r.json()["ended_at"]) == paid_until
    assert r.json()["total_seconds"] == 60
    assert (await parent.balance(kid))["used_minutes"] == 1.0


async def test_a_stale_session_superseded_ends_at_its_paid_window(parent, titles, clock,
                                                                   database_url):
    kid = await parent.child()
    session, paid_until = await _stale_session(parent, kid, titles, clock)
    r = await parent.beat(kid, titles.cartoon, device_id="tablet")
    assert r.status_code == 200
    row = (await sessions(database_url))[session]
    assert row["ended_at"] == paid_until and row["total_seconds"] == 60
    assert (await parent.balance(kid))["used_minutes"] == 1.5  # 60 s + the new window


async def test_a_swept_session_ends_at_its_paid_window_not_at_its_last_paused_beat(
        parent, titles, clock, container, database_url):
    kid = await parent.child()
    start = clock.now()
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    clock.advance(30)
    await parent.beat(kid, titles.cartoon, session, is_paused=True)  # the pause starts at +30
    for _ in range(12):  # paused beats for 6 minutes: past the 5-minute grace they pay nothing
        clock.advance(30)
        assert (await parent.beat(kid, titles.cartoon, session, is_paused=True)).status_code == 200
    clock.advance(STALE + 1)
    assert await (await container.viewing_time()).sweep() == 1
    # Beats up to +330 were within the grace and paid to +360; those at +360 and +390 did not.
    assert (await parent.balance(kid))["used_minutes"] == 6.0
    assert (await sessions(database_url))[session]["ended_at"] == start + timedelta(seconds=360)
