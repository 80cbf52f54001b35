"""Device tokens: a player paired with one profile may do what a player needs, and nothing else."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from app.database import asyncpg_dsn
from app.endpoints.access import Access
from app.routes import ENDPOINTS
from tests.hardening import probe
from tests.support import api
from tests.support.apps import running_app
from tests.support.parental import grant, pin_token, set_pin

pytestmark = pytest.mark.anyio
API = api.API


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def device_beat(client: httpx.AsyncClient, token: str, profile_id: str, title_id: str,
                      **body: object) -> httpx.Response:
    return await client.post(f"{API}/viewing-time/heartbeat", headers=bearer(token),
                             json={"profile_id": profile_id, "title_id": title_id, **body})


async def test_pairing_shows_the_token_once_and_the_device_knows_itself(parent, client, clock):
    kid = await parent.child()
    device = await parent.pair(kid, "Mia's TV", "tv")
    assert set(device) == {"id", "profile_id", "name", "device_type", "created_at",
                           "last_seen_at", "device_token"}
    assert (device["profile_id"], device["name"], device["device_type"],
            device["last_seen_at"]) == (kid, "Mia's TV", "tv", None)
    listed = await client.get(f"{API}/profiles/{kid}/devices", headers=parent.headers)
    assert listed.status_code == 200
    assert listed.json() == [{k: v for k, v in device.items() if k != "device_token"}]
    me = await client.get(f"{API}/device", headers=bearer(device["device_token"]))
    assert me.status_code == 200
    assert me.json() == {"id": device["id"], "profile_id": kid, "name": "Mia's TV",
                         "device_type": "tv"}
    # /device is the device's question: an account token has no device to describe.
    assert (await client.get(f"{API}/device", headers=parent.headers)).status_code == 403


async def test_pairing_refuses_bad_bodies_and_other_accounts_profiles(parent, client):
    kid = await parent.child()
    for body in ({"name": "", "device_type": "tv"}, {"name": "TV", "device_type": "fridge"},
                 {"name": "x" * 101, "device_type": "tv"}, {"name": "TV"}):
        r = await client.post(f"{API}/profiles/{kid}/devices", headers=parent.headers,
                              json=body)
        assert r.status_code == 422, (body, r.text)
    stranger = await api.signed_up(client, "stranger@example.com")
    for method in ("POST", "GET"):
        r = await client.request(method, f"{API}/profiles/{kid}/devices",
                                 headers=stranger.headers,
                                 json={"name": "TV", "device_type": "tv"})
        assert r.status_code == 404, r.text
    r = await client.post(f"{API}/profiles/{uuid.uuid4()}/devices", headers=parent.headers,
                          json={"name": "TV", "device_type": "tv"})
    assert r.status_code == 404


async def test_a_device_beats_for_its_profile_with_its_own_id(parent, client, titles,
                                                              database_url):
    kid = await parent.child()
    device = await parent.pair(kid, "Tablet", "tablet")
    r = await device_beat(client, device["device_token"], kid, titles.cartoon)
    assert r.status_code == 200, r.text
    session_id = r.json()["session_id"]
    r = await device_beat(client, device["device_token"], kid, titles.cartoon,
                          session_id=session_id)
    assert r.status_code == 200
    # Without device_id, the session is the device's own (its id, its type).
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        row = await conn.fetchrow("SELECT device_id, device_type FROM viewing_sessions "
                                  "WHERE id = $1", uuid.UUID(session_id))
    finally:
        await conn.close()
    assert tuple(row) == (device["id"], "tablet")
    balance = await client.get(f"{API}/viewing-time/balance/{kid}",
                               headers=bearer(device["device_token"]))
    assert balance.status_code == 200 and balance.json()["used_minutes"] == 0.5
    ended = await client.post(f"{API}/viewing-time/session/{session_id}/end",
                              headers=bearer(device["device_token"]))
    assert ended.status_code == 200


async def test_a_device_cannot_reach_another_profile_of_its_account(parent, client, titles):
    kid, sibling = await parent.child("Mia"), await parent.child("Leo")
    token = (await parent.pair(kid))["device_token"]
    siblings_session = (await parent.beat(sibling, titles.cartoon)).json()["session_id"]
    assert (await device_beat(client, token, sibling, titles.cartoon)).status_code == 404
    for path in (f"viewing-time/balance/{sibling}", f"viewing-time/playback-eligible/{sibling}"):
        r = await client.get(f"{API}/{path}", headers=bearer(token))
        assert r.status_code == 404, path
    r = await client.post(f"{API}/viewing-time/session/{siblings_session}/end",
                          headers=bearer(token))
    assert r.status_code == 404
    await set_pin(parent)
    r = await grant(api.Parent(client, parent.account_id, parent.email, bearer(token)), sibling,
                    minutes=15, pin="1234")
    assert r.status_code == 404
    # The sibling's session is untouched.
    assert (await parent.beat(sibling, titles.cartoon, siblings_session)).status_code == 200


async def test_a_grant_from_the_device_needs_the_pin(parent, client):
    kid = await parent.child()
    token = (await parent.pair(kid))["device_token"]
    on_tv = api.Parent(client, parent.account_id, parent.email, bearer(token))
    await set_pin(parent)
    remote = await grant(on_tv, kid, minutes=None)
    assert remote.status_code == 403
    assert remote.json()["detail"] == "Not allowed with a device token"
    assert (await grant(on_tv, kid, minutes=15, pin="1234")).status_code == 200
    proof = await pin_token(on_tv)  # /pin/verify is on the device's list
    assert (await grant(on_tv, kid, minutes=15, pin_token=proof)).status_code == 200
    assert (await parent.balance(kid))["remaining_minutes"] == 150.0


async def test_every_endpoint_off_the_players_list_answers_403(parent, client, titles):
    kid = await parent.child()
    device = await parent.pair(kid)
    session_id = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    ids = probe.Ids(kid, session_id, titles.cartoon, device["id"])
    parents_only = [e for e in ENDPOINTS if e.access in (Access.account, Access.admin)]
    assert len(parents_only) >= 15
    for endpoint in parents_only:
        r = await probe.call(client, endpoint, ids, bearer(device["device_token"]))
        label = f"{endpoint.method} {endpoint.path}: {r.status_code} {r.text}"
        assert r.status_code == 403, label
        assert r.json() == {"detail": "Not allowed with a device token"}, label
    # Nothing was done: the profile, its device and its config are as they were.
    assert len((await client.get(f"{API}/profiles", headers=parent.headers)).json()) == 1
    listed = await client.get(f"{API}/profiles/{kid}/devices", headers=parent.headers)
    assert [d["id"] for d in listed.json()] == [device["id"]]


async def test_a_deleted_device_is_refused_at_once_and_cannot_be_deleted_twice(parent, client,
                                                                               titles):
    kid = await parent.child()
    device = await parent.pair(kid)
    token = device["device_token"]
    assert (await device_beat(client, token, kid, titles.cartoon)).status_code == 200
    stranger = await api.signed_up(client, "stranger@example.com")
    r = await client.delete(f"{API}/devices/{device['id']}", headers=stranger.headers)
    assert r.status_code == 404
    r = await client.delete(f"{API}/devices/{device['id']}", headers=parent.headers)
    assert r.status_code == 204
    r = await device_beat(client, token, kid, titles.cartoon)
    assert r.status_code == 401
    assert r.json()["detail"] == "This device was removed; pair it again"
    assert (await client.get(f"{API}/device", headers=bearer(token))).status_code == 401
    r = await client.delete(f"{API}/devices/{device['id']}", headers=parent.headers)
    assert r.status_code == 404
    assert (await client.get(f"{API}/profiles/{kid}/devices",
                             headers=parent.headers)).json() == []


async def test_deleting_the_profile_deletes_its_devices_and_their_tokens(parent, client, titles):
    kid = await parent.child()
    token = (await parent.pair(kid))["device_token"]
    assert (await device_beat(client, token, kid, titles.cartoon)).status_code == 200
    assert (await client.delete(f"{API}/profiles/{kid}", headers=parent.headers)).status_code \
        == 204
    assert (await client.get(f"{API}/device", headers=bearer(token))).status_code == 401


async def test_a_forged_or_altered_device_token_is_refused(parent, client):
    import jwt

    kid = await parent.child()
    device = await parent.pair(kid)
    claims = jwt.decode(device["device_token"], options={"verify_signature": False})
    assert set(claims) == {"sub", "typ", "dev", "prf"}
    forged = jwt.encode({**claims, "prf": str(uuid.uuid4())}, "another-key-of-at-least-32-bytes!",
                        algorithm="HS256")
    assert (await client.get(f"{API}/device", headers=bearer(forged))).status_code == 401
    # A device token is no pin_token: the grant answers 403, not 500.
    on_tv = api.Parent(client, parent.account_id, parent.email, bearer(device["device_token"]))
    await set_pin(parent)
    r = await grant(on_tv, kid, minutes=15, pin_token=device["device_token"])
    assert r.status_code == 403


async def test_last_seen_moves_with_heartbeats_at_most_once_a_minute(parent, client, titles,
                                                                     container, clock):
    kid = await parent.child()
    device = await parent.pair(kid)
    registry = await container.device_registry.async_()
    first = await device_beat(client, device["device_token"], kid, titles.cartoon)
    assert await registry.flush_seen() == 1
    session = first.json()["session_id"]
    clock.advance(30)
    await device_beat(client, device["device_token"], kid, titles.cartoon, session_id=session)
    assert await registry.flush_seen() == 0  # within the minute: nothing to write
    clock.advance(30)
    await device_beat(client, device["device_token"], kid, titles.cartoon, session_id=session)
    assert await registry.flush_seen() == 1
    [listed] = (await client.get(f"{API}/profiles/{kid}/devices", headers=parent.headers)).json()
    assert listed["last_seen_at"] == clock.now().isoformat().replace("+00:00", "Z")


async def test_device_tokens_required_refuses_account_tokens_on_player_endpoints(
        database_url, clock):
    async with running_app(database_url, clock, device_tokens_required=True) as running:
        titles = await api.seed_titles(running.container)
        parent = await api.signed_up(running.client, f"strict-{uuid.uuid4().hex[:6]}@example.com")
        kid = await parent.child()
        token = (await parent.pair(kid))["device_token"]
        r = await parent.beat(kid, titles.cartoon)
        assert r.status_code == 403
        assert r.json()["detail"] == ("Player endpoints take a device token "
                                      "(DEVICE_TOKENS_REQUIRED)")
        r = await running.client.get(f"{API}/viewing-time/playback-eligible/{kid}",
                                     headers=parent.headers)
        assert r.status_code == 403
        assert (await device_beat(running.client, token, kid, titles.cartoon)).status_code == 200
        # The parent app still reads the balance with the account token.
        assert (await parent.balance(kid))["used_minutes"] == 0.5
