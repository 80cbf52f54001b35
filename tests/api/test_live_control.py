"""A parent's live control: who is watching, stopping a session, locking a profile."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from tests.support import api
from tests.support.parental import PC, eligibility

pytestmark = pytest.mark.anyio
API = api.API


async def lock(parent: api.Parent, profile_id: str, until: str | None) -> dict:
    r = await parent.client.put(f"{PC}/profiles/{profile_id}/lock", headers=parent.headers,
                                json={"until": until})
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_lock_blocks_the_next_beat_charges_nothing_and_unlocking_lifts_it(
        parent, titles, clock):
    kid = await parent.child()
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    assert await lock(parent, kid, None) == {"profile_id": kid, "locked": True, "until": None}
    for _ in range(3):
        clock.advance(30)
        r = await parent.beat(kid, titles.cartoon, session)
        assert r.status_code == 200
        assert (r.json()["enforcement"], r.json()["reason"], r.json()["next_allowed_at"]) == (
            "blocked", "locked_by_parent", None)
        assert r.json()["used_minutes"] == 0.5  # only the first beat's interval was charged
    # An exempt documentary is stopped by a lock too.
    r = await parent.beat(kid, titles.documentary, device_id="tablet")
    assert (r.json()["enforcement"], r.json()["reason"]) == ("blocked", "locked_by_parent")
    assert await eligibility(parent, kid) == {
        "eligible": False, "remaining_minutes": 119.5, "reason": "locked_by_parent",
        "next_reset_at": "2026-03-05T06:00:00Z", "next_allowed_at": None}
    balance = await parent.balance(kid)
    assert (balance["reason"], balance["next_allowed_at"]) == ("locked_by_parent", None)

    r = await parent.client.delete(f"{PC}/profiles/{kid}/lock", headers=parent.headers)
    assert r.json() == {"profile_id": kid, "locked": False, "until": None}
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon)  # a new session: the tablet's was the last
    assert (r.json()["enforcement"], r.json()["reason"], r.json()["used_minutes"]) == (
        "allowed", None, 1.0)


async def test_a_lock_until_an_instant_ends_by_itself(parent, titles, clock):
    kid = await parent.child()
    until = clock.now() + timedelta(minutes=20)
    shown = until.isoformat().replace("+00:00", "Z")
    assert await lock(parent, kid, until.isoformat()) == {"profile_id": kid, "locked": True,
                                                          "until": shown}
    r = await parent.beat(kid, titles.cartoon)
    assert (r.json()["enforcement"], r.json()["next_allowed_at"]) == ("blocked", shown)
    assert (await eligibility(parent, kid))["next_allowed_at"] == shown
    clock.advance(20 * 60)
    r = await parent.beat(kid, titles.cartoon, r.json()["session_id"])
    assert (r.json()["enforcement"], r.json()["reason"]) == ("allowed", None)
    # A lock whose `until` has passed is gone.
    r = await parent.client.get(f"{API}/viewing-time/balance/{kid}", headers=parent.headers)
    assert r.json()["reason"] is None


async def test_the_block_that_ends_last_is_the_reason(parent, titles, clock):
    kid = await parent.child()
    r = await parent.client.put(f"{PC}/profiles/{kid}/viewing-time", headers=parent.headers,
                                json={"weekday_limit_minutes": 15})
    assert r.status_code == 200
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    for _ in range(30):
        clock.advance(30)
        r = await parent.beat(kid, titles.cartoon, session)
    assert (r.json()["reason"], r.json()["next_allowed_at"]) == ("daily_limit_reached",
                                                                  "2026-03-05T06:00:00Z")
    # A lock for an hour ends before the reset: the spent day is still the reason.
    await lock(parent, kid, (clock.now() + timedelta(hours=1)).isoformat())
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.json()["reason"] == "daily_limit_reached"
    # An open-ended lock ends last of all: no known resume instant.
    await lock(parent, kid, None)
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert (r.json()["reason"], r.json()["next_allowed_at"]) == ("locked_by_parent", None)
    assert (await eligibility(parent, kid))["reason"] == "locked_by_parent"


async def test_a_lock_is_refused_for_the_past_for_adults_and_for_other_accounts(parent, client,
                                                                                clock):
    kid, adult = await parent.child(), await parent.adult()
    past = (clock.now() - timedelta(seconds=1)).isoformat()
    for body in ({"until": past}, {"until": "tomorrow"}, {"until": "2026-03-05T12:00:00"}, {}):
        r = await client.put(f"{PC}/profiles/{kid}/lock", headers=parent.headers, json=body)
        assert r.status_code == 422, (body, r.text)
        assert "until" in r.json()["detail"], r.text
    stranger = await api.signed_up(client, "stranger@example.com")
    for who, profile in ((parent, adult), (parent, str(uuid.uuid4())), (stranger, kid)):
        for method in ("PUT", "DELETE"):
            r = await client.request(method, f"{PC}/profiles/{profile}/lock", headers=who.headers,
                                     json={"until": None})
            assert r.status_code == 404, r.text
    assert (await eligibility(parent, kid))["eligible"] is True


async def test_stop_ends_the_session_refunds_it_and_the_player_is_told_why(parent, titles,
                                                                          clock, client):
    kid = await parent.child()
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    clock.advance(10)
    stopped = await client.post(f"{PC}/sessions/{session}/stop", headers=parent.headers)
    assert stopped.status_code == 200
    assert stopped.json() == {"session_id": session, "total_seconds": 10.0,
                              "ended_at": "2026-03-04T12:00:10Z"}
    again = await client.post(f"{PC}/sessions/{session}/stop", headers=parent.headers)
    assert again.json() == stopped.json()
    assert (await parent.balance(kid))["used_minutes"] == round(10 / 60, 2)
    clock.advance(20)
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.status_code == 409
    assert r.json() == {"detail": "Session has ended", "code": "session_ended",
                        "reason": "stopped_by_parent"}
    # A session the player ended itself carries no reason.
    own = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    await parent.end(own)
    r = await parent.beat(kid, titles.cartoon, own)
    assert r.json() == {"detail": "Session has ended", "code": "session_ended"}
    stranger = await api.signed_up(client, "stranger@example.com")
    r = await client.post(f"{PC}/sessions/{own}/stop", headers=stranger.headers)
    assert r.status_code == 404


async def test_parents_see_who_is_watching_on_which_device(parent, titles, clock, client):
    kid = await parent.child()
    tv = await parent.pair(kid, "Mia's TV", "tv")
    tv_headers = {"Authorization": f"Bearer {tv['device_token']}"}
    first = await parent.beat(kid, titles.documentary, device_id="old-tablet",
                              device_type="tablet")
    await parent.end(first.json()["session_id"])
    clock.advance(60)
    r = await client.post(f"{API}/viewing-time/heartbeat", headers=tv_headers,
                          json={"profile_id": kid, "title_id": titles.cartoon, "is_paused": True})
    watching = r.json()["session_id"]
    r = await client.get(f"{PC}/profiles/{kid}/sessions", headers=parent.headers)
    assert r.status_code == 200
    assert r.json() == [{
        "session_id": watching, "title_id": titles.cartoon, "title_name": "Cartoon",
        "device_id": tv["id"], "device_type": "tv", "device_name": "Mia's TV",
        "started_at": "2026-03-04T12:01:00Z", "last_heartbeat_at": "2026-03-04T12:01:00Z",
        "ended_at": None, "is_paused": True, "watched_minutes": 0.5}]
    r = await client.get(f"{PC}/profiles/{kid}/sessions", headers=parent.headers,
                         params={"state": "all"})
    assert [s["session_id"] for s in r.json()] == [watching, first.json()["session_id"]]
    assert r.json()[1]["device_name"] is None and r.json()[1]["ended_at"] is not None
    r = await client.get(f"{PC}/profiles/{kid}/sessions", headers=parent.headers,
                         params={"state": "all", "limit": 1})
    assert len(r.json()) == 1
    for params in ({"state": "closed"}, {"limit": 0}, {"limit": "x"}):
        r = await client.get(f"{PC}/profiles/{kid}/sessions", headers=parent.headers,
                             params=params)
        assert r.status_code == 422, params
    stranger = await api.signed_up(client, "stranger@example.com")
    r = await client.get(f"{PC}/profiles/{kid}/sessions", headers=stranger.headers)
    assert r.status_code == 404
    r = await client.get(f"{PC}/profiles/{kid}/sessions", headers=tv_headers)
    assert r.status_code == 403  # a parent's view, not the player's
