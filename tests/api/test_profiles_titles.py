"""Profiles, titles and isolation between accounts."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from app.database import asyncpg_dsn
from tests.support import api
from tests.support.api import API

pytestmark = pytest.mark.anyio


async def test_create_and_list_profiles(client, parent, clock):
    r = await client.post(f"{API}/profiles", headers=parent.headers,
                          json={"name": "Mia", "is_kids": True, "timezone": "Europe/Berlin"})
    assert r.status_code == 201
    mia = r.json()
    assert set(mia) == {"id", "name", "is_kids", "created_at"}
    assert mia["name"] == "Mia" and mia["is_kids"] is True
    clock.advance(1)
    await parent.adult("Dad")
    listed = (await client.get(f"{API}/profiles", headers=parent.headers)).json()
    assert [p["name"] for p in listed] == ["Mia", "Dad"]


async def test_child_profile_gets_the_default_config_at_once(client, parent, database_url):
    kid = await parent.child(timezone="Europe/Berlin")
    adult = await parent.adult()
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch("SELECT * FROM viewing_time_configs")
    finally:
        await conn.close()
    assert len(rows) == 1
    config = rows[0]
    assert str(config["profile_id"]) == kid != adult
    assert (config["weekday_limit_minutes"], config["weekend_limit_minutes"], config["reset_hour"],
            config["educational_exempt"], config["timezone"]) == (120, 180, 6, True, "Europe/Berlin")


@pytest.mark.parametrize("body, field", [
    ({"name": "", "is_kids": True}, "name"),
    ({"name": "x" * 101, "is_kids": True}, "name"),
    ({"name": "Kid", "is_kids": 1}, "is_kids"),
    ({"name": "Kid", "is_kids": "true"}, "is_kids"),
    ({"name": "Kid", "is_kids": True, "timezone": "Mars/Olympus"}, "timezone"),
    ({"is_kids": True}, "name"),
])
async def test_profile_validation(client, parent, body, field):
    r = await client.post(f"{API}/profiles", headers=parent.headers, json=body)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(f"{field}:")


async def test_delete_profile_erases_all_its_viewing_data(client, parent, titles, clock,
                                                          database_url):
    kid = await parent.child()
    other = await parent.child("Sibling")
    for profile in (kid, other):
        r = await parent.beat(profile, titles.cartoon)
        assert r.status_code == 200
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    await conn.execute(
        "INSERT INTO time_grants (id, profile_id, granted_by, granted_minutes, is_remote,"
        " reset_date, granted_at) VALUES ($1, $2, $3, 15, true, '2026-03-04', now())",
        uuid.uuid4(), uuid.UUID(kid), uuid.UUID(parent.account_id))
    r = await client.delete(f"{API}/profiles/{kid}", headers=parent.headers)
    assert r.status_code == 204 and r.content == b""
    counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t} WHERE profile_id = $1",
                                     uuid.UUID(kid))
              for t in ("viewing_sessions", "daily_balances", "time_grants", "viewing_time_configs")}
    sibling_sessions = await conn.fetchval(
        "SELECT count(*) FROM viewing_sessions WHERE profile_id = $1", uuid.UUID(other))
    await conn.close()
    assert counts == dict.fromkeys(counts, 0)
    assert sibling_sessions == 1
    assert (await client.delete(f"{API}/profiles/{kid}", headers=parent.headers)).status_code == 404
    r = await parent.beat(kid, titles.cartoon)
    assert r.status_code == 404  # the cached facts went with it


async def test_another_accounts_ids_are_404_everywhere(client, parent, titles, clock):
    kid = await parent.child()
    first = await parent.beat(kid, titles.cartoon)
    session = first.json()["session_id"]
    intruder = await api.signed_up(client, "intruder@example.com")
    own_kid = await intruder.child()

    requests = [
        ("DELETE", f"{API}/profiles/{kid}", None),
        ("GET", f"{API}/viewing-time/balance/{kid}", None),
        ("GET", f"{API}/viewing-time/playback-eligible/{kid}", None),
        ("POST", f"{API}/viewing-time/session/{session}/end", None),
        ("POST", f"{API}/viewing-time/heartbeat",
         {"profile_id": kid, "title_id": titles.cartoon, "device_id": "x"}),
        ("POST", f"{API}/viewing-time/heartbeat",
         {"profile_id": kid, "title_id": titles.cartoon, "device_id": "x", "session_id": session}),
        # the intruder's own profile with the victim's session id
        ("POST", f"{API}/viewing-time/heartbeat",
         {"profile_id": own_kid, "title_id": titles.cartoon, "device_id": "x",
          "session_id": session}),
    ]
    for method, url, body in requests:
        r = await client.request(method, url, headers=intruder.headers, json=body)
        assert r.status_code == 404, (method, url, r.text)
        assert isinstance(r.json()["detail"], str)
    # nothing the intruder did touched the victim's session
    clock.advance(30)
    assert (await parent.beat(kid, titles.cartoon, session)).status_code == 200


async def test_titles_upsert_is_admin_only_and_get_works(client, parent, container):
    title_id = str(uuid.uuid4())
    body = {"titles": [{"id": title_id, "title": "Ocean", "is_educational": True}]}
    r = await client.put(f"{API}/admin/titles", headers=parent.headers, json=body)
    assert r.status_code == 403
    assert (await client.put(f"{API}/admin/titles", json=body)).status_code == 401
    await api.make_admin(container, parent)
    r = await client.put(f"{API}/admin/titles", headers=parent.headers, json=body)
    assert r.status_code == 200 and r.json() == {"upserted": 1}
    body["titles"][0]["title"] = "Ocean II"
    await client.put(f"{API}/admin/titles", headers=parent.headers, json=body)
    r = await client.get(f"{API}/titles/{title_id}", headers=parent.headers)
    assert r.json() == {"id": title_id, "title": "Ocean II", "is_educational": True}
    r = await client.get(f"{API}/titles/{uuid.uuid4()}", headers=parent.headers)
    assert r.status_code == 404 and r.json() == {"detail": "Title not found"}


async def test_titles_upsert_takes_10000_in_one_call_and_refuses_more(client, parent, container):
    await api.make_admin(container, parent)

    def batch(n: int) -> dict:
        return {"titles": [{"id": str(uuid.uuid4()), "title": f"Title {i}",
                            "is_educational": i % 2 == 0} for i in range(n)]}

    r = await client.put(f"{API}/admin/titles", headers=parent.headers, json=batch(10_000))
    assert r.status_code == 200 and r.json() == {"upserted": 10_000}
    r = await client.put(f"{API}/admin/titles", headers=parent.headers, json=batch(10_001))
    assert r.status_code == 422 and r.json()["detail"].startswith("titles:")
