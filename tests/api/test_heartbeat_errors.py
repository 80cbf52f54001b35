"""Every error of the heartbeat API."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api import API

pytestmark = pytest.mark.anyio


async def test_unknown_profile_title_and_session_are_404(parent, titles):
    kid = await parent.child()
    r = await parent.beat(str(uuid.uuid4()), titles.cartoon)
    assert r.status_code == 404 and r.json() == {"detail": "Profile not found"}
    r = await parent.beat(kid, str(uuid.uuid4()))
    assert r.status_code == 404 and r.json() == {"detail": "Title not found"}
    r = await parent.beat(kid, titles.cartoon, str(uuid.uuid4()))
    assert r.status_code == 404 and r.json() == {"detail": "Session not found"}
    r = await parent.end(str(uuid.uuid4()))
    assert r.status_code == 404 and r.json() == {"detail": "Session not found"}
    for path in ("balance", "playback-eligible"):
        r = await parent.client.get(f"{API}/viewing-time/{path}/{uuid.uuid4()}",
                                    headers=parent.headers)
        assert r.status_code == 404


async def test_unknown_title_does_not_end_the_running_session(parent, titles, clock):
    kid = await parent.child()
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    assert (await parent.beat(kid, str(uuid.uuid4()), device_id="other")).status_code == 404
    clock.advance(30)
    assert (await parent.beat(kid, titles.cartoon, session)).status_code == 200


async def test_title_mismatch_is_409_and_charges_nothing(parent, titles, clock):
    kid = await parent.child()
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    clock.advance(30)
    r = await parent.beat(kid, titles.documentary, session)
    assert r.status_code == 409
    assert r.json()["code"] == "session_title_mismatch" and isinstance(r.json()["detail"], str)
    assert (await parent.balance(kid))["used_minutes"] == 0.5


async def test_session_of_a_sibling_profile_is_404(parent, titles):
    kid, sibling = await parent.child(), await parent.child("Sibling")
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    r = await parent.beat(sibling, titles.cartoon, session)
    assert r.status_code == 404


@pytest.mark.parametrize("change, field", [
    ({"profile_id": "123"}, "profile_id"),
    ({"title_id": None}, "title_id"),
    ({"device_id": ""}, "device_id"),
    ({"device_id": "d" * 101}, "device_id"),
    ({"device_type": "fridge"}, "device_type"),
    ({"is_paused": 1}, "is_paused"),
    ({"is_paused": "false"}, "is_paused"),
    ({"session_id": 5}, "session_id"),
])
async def test_bad_heartbeat_bodies_are_422(parent, titles, change, field):
    kid = await parent.child()
    body = {"profile_id": kid, "title_id": titles.cartoon, "device_id": "tv", **change}
    r = await parent.client.post(f"{API}/viewing-time/heartbeat", headers=parent.headers, json=body)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(f"{field}:")


async def test_heartbeat_without_token_is_401(client, titles):
    r = await client.post(f"{API}/viewing-time/heartbeat",
                          json={"profile_id": str(uuid.uuid4()), "title_id": titles.cartoon,
                                "device_id": "tv"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


async def test_unknown_fields_are_ignored(parent, titles):
    kid = await parent.child()
    r = await parent.beat(kid, titles.cartoon, client_time="2020-01-01T00:00:00Z")
    assert r.status_code == 200
