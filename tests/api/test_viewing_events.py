"""The webhook events the heartbeat and grants write: viewing.*, session.superseded and
grant.created, read back from the outbox exactly as the delivery worker will find them."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest

from tests.support import api
from tests.support.db import fetch
from tests.support.parental import PC, grant, grants, put_config, set_pin

pytestmark = pytest.mark.anyio

ALL_EVENTS = ["viewing.warning_15", "viewing.warning_5", "viewing.blocked",
              "time_request.created", "time_request.expired", "grant.created", "pin.locked",
              "session.superseded"]
LIMIT, HOURS, LOCKED = "daily_limit_reached", "outside_allowed_hours", "locked_by_parent"
DAY = "2026-03-04"  # the clock fixture's Wednesday


async def subscribe(database_url: str, parent: api.Parent,
                    events: list[str] = ALL_EVENTS) -> uuid.UUID:
    """A subscription row written directly (the endpoints that create them live elsewhere)."""
    sub = uuid.uuid4()
    await fetch(database_url, "INSERT INTO webhook_subscriptions "
               "(id, account_id, url, events, secret, created_at) "
               "VALUES ($1, $2, 'https://hooks.example.com/vt', $3, 'whsec_test', now())",
               sub, uuid.UUID(parent.account_id), events)
    return sub


async def outbox(database_url: str, prefix: str = "") -> list[tuple[str, dict]]:
    rows = await fetch(database_url, "SELECT event_type, data FROM webhook_outbox "
                      "WHERE event_type LIKE $1 ORDER BY id", prefix + "%")
    return [(r["event_type"], json.loads(r["data"])) for r in rows]


async def marks(database_url: str, profile_id: str) -> set[str]:
    rows = await fetch(database_url, "SELECT threshold FROM threshold_marks WHERE profile_id = $1",
                      uuid.UUID(profile_id))
    return {r["threshold"] for r in rows}


def viewing(parent: api.Parent, kid: str, state: str, remaining: float, reason: str,
            name: str = "Kid") -> tuple[str, dict]:
    return (f"viewing.{state}", {"account_id": parent.account_id, "profile_id": kid,
                                 "profile_name": name, "viewing_day": DAY,
                                 "remaining_minutes": remaining, "reason": reason})


class Player:
    """One device's player, beating every 30 s on the frozen clock."""

    def __init__(self, parent: api.Parent, clock, kid: str, title: str, device: str = "tv-1"):
        self.parent, self.clock, self.kid, self.title, self.device = (parent, clock, kid, title,
                                                                      device)
        self.session: str | None = None

    async def beat(self) -> dict:
        r = await self.parent.beat(self.kid, self.title, self.session, device_id=self.device)
        assert r.status_code == 200, r.text
        self.session = r.json()["session_id"]
        return r.json()

    async def watch(self, beats: int) -> dict:
        """`beats` more beats, 30 s apart (the first opens the session if none is open)."""
        for _ in range(beats):
            if self.session is not None:
                self.clock.advance(30)
            answer = await self.beat()
        return answer

    async def until(self, state: str, *, limit: int = 300) -> dict:
        """Beat every 30 s until the answer's enforcement is `state`."""
        for _ in range(limit):
            if self.session is not None:
                self.clock.advance(30)
            answer = await self.beat()
            if answer["enforcement"] == state:
                return answer
        raise AssertionError(f"never reached {state}")


async def limited_child(parent: api.Parent, minutes: int, name: str = "Kid") -> str:
    kid = await parent.child(name)
    assert (await put_config(parent, kid, weekday_limit_minutes=minutes)).status_code == 200
    return kid


async def test_each_threshold_fires_once_as_the_time_runs_out(parent, titles, clock,
                                                              database_url):
    await subscribe(database_url, parent)
    kid = await limited_child(parent, 30)
    player = Player(parent, clock, kid, titles.cartoon)
    assert (await player.until("warning_15"))["remaining_minutes"] == 15.0
    assert await outbox(database_url) == [viewing(parent, kid, "warning_15", 15.0, LIMIT)]
    await player.until("warning_5")
    await player.until("blocked")
    for _ in range(3):  # beats at a state already marked fire nothing
        clock.advance(30)
        assert (await player.beat())["enforcement"] == "blocked"
    assert await outbox(database_url) == [viewing(parent, kid, "warning_15", 15.0, LIMIT),
                                          viewing(parent, kid, "warning_5", 5.0, LIMIT),
                                          viewing(parent, kid, "blocked", 0.0, LIMIT)]
    assert await marks(database_url, kid) == {"warning_15", "warning_5", "blocked"}


async def test_a_beat_crossing_two_thresholds_fires_only_the_lowest(parent, titles, clock,
                                                                    database_url):
    await subscribe(database_url, parent)
    kid, other = await limited_child(parent, 30), await limited_child(parent, 45, "Other")
    player = Player(parent, clock, kid, titles.cartoon)
    assert (await player.watch(21))["enforcement"] == "allowed"  # used 630 s of 30 minutes
    await put_config(parent, kid, weekday_limit_minutes=15)  # a lower limit applies at once
    assert (await player.watch(1))["enforcement"] == "warning_5"  # 900 - 660 s left
    assert await outbox(database_url) == [viewing(parent, kid, "warning_5", 4.0, LIMIT)]
    assert await marks(database_url, kid) == {"warning_15", "warning_5"}

    # lowered below what was watched: blocked at once, past all three thresholds
    other_player = Player(parent, clock, other, titles.cartoon, "tv-2")
    await other_player.watch(32)  # used 960 s
    await put_config(parent, other, weekday_limit_minutes=15)
    assert (await other_player.watch(1))["enforcement"] == "blocked"
    assert await marks(database_url, other) == {"warning_15", "warning_5", "blocked"}
    assert await outbox(database_url, "viewing.") == [
        viewing(parent, kid, "warning_5", 4.0, LIMIT),
        viewing(parent, other, "blocked", 0.0, LIMIT, name="Other")]


async def test_parallel_beats_and_a_second_device_fire_once(parent, titles, clock, database_url):
    await subscribe(database_url, parent)
    kid = await limited_child(parent, 30)
    tv = Player(parent, clock, kid, titles.cartoon, "tv")
    assert (await tv.watch(29))["remaining_minutes"] == 15.5
    clock.advance(30)
    # 32 copies of the beat that crosses warning_15 (900 s left), all at once
    replies = await asyncio.gather(*(parent.beat(kid, titles.cartoon, tv.session, device_id="tv")
                                     for _ in range(32)))
    assert {r.json()["enforcement"] for r in replies} == {"warning_15"}
    clock.advance(10)  # the tablet takes over, still under 15 minutes: no second warning
    tablet = Player(parent, clock, kid, titles.cartoon, "tablet")
    assert (await tablet.beat())["enforcement"] == "warning_15"
    assert [e for e, _ in await outbox(database_url, "viewing.")] == ["viewing.warning_15"]


async def test_a_grant_rearms_only_the_thresholds_it_lifts_the_time_above(parent, titles, clock,
                                                                          database_url):
    await subscribe(database_url, parent, ["viewing.warning_15", "viewing.warning_5",
                                           "viewing.blocked"])
    kid = await limited_child(parent, 15)
    player = Player(parent, clock, kid, titles.cartoon)  # the first beat leaves 14.5 minutes
    await player.until("blocked")  # 0 left: every threshold marked
    assert (await grant(parent, kid, minutes=15)).json()["remaining_minutes"] == 15.0
    # 15 minutes left is not above warning_15's 15: only warning_5 and blocked are re-armed
    assert await marks(database_url, kid) == {"warning_15"}
    assert (await player.until("warning_15"))["remaining_minutes"] == 14.5  # unblocked
    await player.until("warning_5")
    await player.until("blocked")
    assert await outbox(database_url) == [viewing(parent, kid, "warning_15", 14.5, LIMIT),
                                          viewing(parent, kid, "warning_5", 5.0, LIMIT),
                                          viewing(parent, kid, "blocked", 0.0, LIMIT),
                                          viewing(parent, kid, "warning_5", 5.0, LIMIT),
                                          viewing(parent, kid, "blocked", 0.0, LIMIT)]


async def test_a_grant_above_fifteen_minutes_rearms_both_warnings(parent, titles, clock,
                                                                  database_url):
    await subscribe(database_url, parent, ["viewing.warning_15"])
    kid = await limited_child(parent, 15)
    player = Player(parent, clock, kid, titles.cartoon)
    await player.until("warning_5")  # 5 minutes left
    await grant(parent, kid, minutes=15)  # 20 minutes left
    assert await marks(database_url, kid) == set()
    assert (await player.until("warning_15"))["remaining_minutes"] == 15.0
    assert await outbox(database_url) == [viewing(parent, kid, "warning_15", 14.5, LIMIT),
                                          viewing(parent, kid, "warning_15", 15.0, LIMIT)]


async def test_an_unlimited_grant_rearms_every_threshold_and_fires_nothing(parent, titles, clock,
                                                                           database_url):
    await subscribe(database_url, parent, ["viewing.warning_15", "viewing.warning_5",
                                           "viewing.blocked"])
    kid = await limited_child(parent, 15)
    player = Player(parent, clock, kid, titles.cartoon)
    await player.until("warning_5")
    await grant(parent, kid, minutes=None)
    assert await marks(database_url, kid) == set()
    for _ in range(20):
        clock.advance(30)
        assert (await player.beat())["enforcement"] == "allowed"
    assert [e for e, _ in await outbox(database_url)] == ["viewing.warning_15",
                                                          "viewing.warning_5"]


async def test_the_end_of_the_allowed_hours_warns_then_blocks_with_its_reason(
        parent, titles, clock, database_url):
    await subscribe(database_url, parent)
    kid = await parent.child()
    r = await parent.client.put(f"{PC}/profiles/{kid}/schedule", headers=parent.headers,
                                json={"limits": {"wed": 120},
                                      "allowed_hours": {"wed": [{"start": "07:00",
                                                                 "end": "12:20"}]}})
    assert r.status_code == 200, r.text
    player = Player(parent, clock, kid, titles.cartoon)
    assert (await player.until("warning_15"))["remaining_minutes"] == 15.0  # at 12:05
    await player.until("warning_5")
    blocked = await player.until("blocked")  # 12:20: outside the allowed hours
    assert blocked["reason"] == HOURS
    assert await outbox(database_url) == [viewing(parent, kid, "warning_15", 15.0, HOURS),
                                          viewing(parent, kid, "warning_5", 5.0, HOURS),
                                          viewing(parent, kid, "blocked", 0.0, HOURS)]


async def test_a_lock_fires_blocked_with_its_reason_and_marks_no_warning(parent, titles, clock,
                                                                         database_url):
    await subscribe(database_url, parent)
    kid = await limited_child(parent, 60)
    player = Player(parent, clock, kid, titles.cartoon)
    await player.beat()
    r = await parent.client.put(f"{PC}/profiles/{kid}/lock", headers=parent.headers,
                                json={"until": None})
    assert r.status_code == 200, r.text
    clock.advance(30)
    assert (await player.beat())["reason"] == LOCKED
    assert await outbox(database_url) == [viewing(parent, kid, "blocked", 59.5, LOCKED)]
    assert await marks(database_url, kid) == {"blocked"}


async def test_without_a_subscription_marks_are_kept_and_no_event_written(parent, titles, clock,
                                                                          database_url):
    kid = await limited_child(parent, 15)
    await Player(parent, clock, kid, titles.cartoon).until("warning_15")
    assert await outbox(database_url) == []
    assert await marks(database_url, kid) == {"warning_15"}


async def test_adults_and_unlimited_days_fire_nothing(parent, titles, clock, database_url):
    await subscribe(database_url, parent)
    adult = await parent.adult()
    free = await parent.child("Free")
    assert (await put_config(parent, free, weekday_limit_minutes=None)).status_code == 200
    for profile in (adult, free):
        player = Player(parent, clock, profile, titles.cartoon)
        for _ in range(40):
            await player.until("allowed")
    assert await outbox(database_url) == []
    assert await marks(database_url, adult) == await marks(database_url, free) == set()


async def test_a_device_switch_supersedes_the_old_session_a_stop_does_not(parent, titles, clock,
                                                                          database_url):
    await subscribe(database_url, parent)
    kid = await parent.child()
    tv = Player(parent, clock, kid, titles.cartoon, "tv")
    await tv.beat()
    clock.advance(30)
    tablet = Player(parent, clock, kid, titles.cartoon, "tablet")
    await tablet.beat()
    assert await outbox(database_url) == [("session.superseded", {
        "account_id": parent.account_id, "profile_id": kid, "profile_name": "Kid",
        "viewing_day": DAY, "session_id": tv.session, "device_id": "tv",
        "new_session_id": tablet.session, "new_device_id": "tablet"})]

    # a parent's stop, the player's own end, the same device's next title: no event
    clock.advance(30)
    r = await parent.client.post(f"{PC}/sessions/{tablet.session}/stop", headers=parent.headers)
    assert r.status_code == 200, r.text
    tv.session = None
    await tv.beat()
    clock.advance(30)
    assert (await parent.end(tv.session)).status_code == 200
    tablet.session = None
    await tablet.beat()
    clock.advance(30)
    tablet.session, tablet.title = None, titles.documentary
    await tablet.beat()
    assert len(await outbox(database_url)) == 1


async def test_a_stale_session_ended_by_another_device_is_not_superseded(parent, titles, clock,
                                                                         database_url):
    await subscribe(database_url, parent)
    kid = await parent.child()
    await Player(parent, clock, kid, titles.cartoon, "tv").beat()
    clock.advance(301)  # silent for longer than the stale gap
    await Player(parent, clock, kid, titles.cartoon, "tablet").beat()
    assert await outbox(database_url) == []


async def test_grants_remote_and_on_device_write_grant_created(parent, titles, clock,
                                                              database_url):
    await subscribe(database_url, parent)
    kid = await limited_child(parent, 60, "Mia")
    assert (await grant(parent, kid, minutes=15)).status_code == 200
    await set_pin(parent)
    clock.advance(60)
    assert (await grant(parent, kid, minutes=None, pin="1234")).status_code == 200
    records = {g["id"]: g for g in (await grants(parent, kid)).json()}
    events = await outbox(database_url, "grant.")
    assert [e for e, _ in events] == ["grant.created", "grant.created"]
    for (_, data), minutes, remote, at in zip(events, (15, None), (True, False),
                                              ("12:00:00", "12:01:00"), strict=True):
        record = data.pop("grant")
        assert data == {"account_id": parent.account_id, "profile_id": kid,
                        "profile_name": "Mia", "viewing_day": DAY}
        assert record == {"id": record["id"], "granted_minutes": minutes, "is_remote": remote,
                          "granted_at": f"{DAY}T{at}Z", "granted_by": parent.account_id,
                          "request_id": None}
        listed = records[record["id"]]
        assert (listed["granted_minutes"], listed["is_remote"]) == (minutes, remote)
        assert datetime.fromisoformat(listed["granted_at"]) == datetime.fromisoformat(
            record["granted_at"]).astimezone(UTC)
