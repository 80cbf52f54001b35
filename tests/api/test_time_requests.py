"""Time requests: a child asks for more time, a parent decides; expiry, limits, scoping, events.

The app's clock is frozen (Wednesday 2026-03-04 12:00 UTC; a child's viewing day resets at
06:00 in its zone, UTC here), so every instant below is exact.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from app.database import asyncpg_dsn
from containers import Container
from tests.support import api
from tests.support.api import API, Parent
from tests.support.apps import running_app
from tests.support.db import truncate_all
from tests.support.parental import PC, blocked_child, grant, grants, put_config

pytestmark = pytest.mark.anyio

ASK = f"{API}/viewing-time/time-requests"
INBOX = f"{PC}/time-requests"
NOON = "2026-03-04T12:00:00Z"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def ask(who: Parent | dict[str, str], client: httpx.AsyncClient, profile_id: str,
              minutes: object = 15, **extra: object) -> httpx.Response:
    headers = who.headers if isinstance(who, Parent) else who
    return await client.post(ASK, headers=headers,
                             json={"profile_id": profile_id, "minutes": minutes, **extra})


async def asked(parent: Parent, profile_id: str, minutes: int = 15, **extra: object) -> dict:
    r = await ask(parent, parent.client, profile_id, minutes, **extra)
    assert r.status_code == 201, r.text
    return r.json()


async def decide(parent: Parent, request_id: str, **body: object) -> httpx.Response:
    return await parent.client.post(f"{INBOX}/{request_id}/decision", headers=parent.headers,
                                    json=body)


async def inbox(parent: Parent, **params: str) -> list[dict]:
    r = await parent.client.get(INBOX, headers=parent.headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def fetch(database_url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def subscribe(database_url: str, account_id: str, events: list[str]) -> uuid.UUID:
    """A webhook subscription written directly (its API is another part of this issue)."""
    subscription = uuid.uuid4()
    await fetch(database_url, "INSERT INTO webhook_subscriptions (id, account_id, url, events, "
                "secret, created_at) VALUES ($1, $2, 'https://hooks.example.com/x', $3, "
                "'whsec_test', now())", subscription, uuid.UUID(account_id), events)
    return subscription


async def outbox(database_url: str) -> list[tuple[uuid.UUID, str, dict]]:
    rows = await fetch(database_url, "SELECT subscription_id, event_type, data FROM "
                       "webhook_outbox ORDER BY id")
    return [(r["subscription_id"], r["event_type"], json.loads(r["data"])) for r in rows]


async def test_a_child_asks_from_the_tv_and_the_parent_sees_it(parent, client):
    kid = await parent.child("Mia")
    tv = bearer((await parent.pair(kid))["device_token"])
    r = await ask(tv, client, kid, 30, message="Just one more episode, please!")
    assert r.status_code == 201, r.text
    made = r.json()
    assert made == {"id": made["id"], "profile_id": kid, "profile_name": "Mia", "minutes": 30,
                    "message": "Just one more episode, please!", "status": "pending",
                    "created_at": NOON, "expires_at": "2026-03-04T12:15:00Z",
                    "decided_at": None, "granted_minutes": None, "grant_id": None}
    r = await client.get(f"{ASK}/{made['id']}", headers=tv)
    assert r.status_code == 200 and r.json() == made
    r = await client.get(f"{ASK}/{made['id']}", headers=parent.headers)
    assert r.status_code == 200 and r.json() == made
    assert await inbox(parent) == [made]
    assert await inbox(parent, status="pending") == [made]
    # The account token may ask too (a player signed in as the parent), without a message.
    sibling = await parent.child("Leo")
    assert (await asked(parent, sibling))["message"] is None


async def test_bad_bodies_paths_and_queries_are_422_naming_the_field(parent, client,
                                                                     database_url):
    kid = await parent.child()
    for body, field in (
            ({"profile_id": kid, "minutes": 20}, "minutes"),
            ({"profile_id": kid, "minutes": "30"}, "minutes"),
            ({"profile_id": kid, "minutes": 30.0}, "minutes"),
            ({"profile_id": kid, "minutes": None}, "minutes"),
            ({"profile_id": kid}, "minutes"),
            ({"profile_id": kid, "minutes": 15, "message": "x" * 201}, "message"),
            ({"profile_id": kid, "minutes": 15, "message": 5}, "message"),
            ({"profile_id": "not-a-uuid", "minutes": 15}, "profile_id"),
            ({"minutes": 15}, "profile_id")):
        r = await client.post(ASK, headers=parent.headers, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"].startswith(f"{field}: "), (body, r.text)
    assert await fetch(database_url, "SELECT id FROM time_requests") == []
    assert (await asked(parent, kid, message="x" * 200))["message"] == "x" * 200

    r = await client.get(f"{ASK}/not-a-uuid", headers=parent.headers)
    assert r.status_code == 422 and r.json()["detail"] == "request_id: must be a UUID"
    r = await client.get(INBOX, headers=parent.headers, params={"status": "open"})
    assert r.status_code == 422 and r.json()["detail"].startswith("status: ")
    request_id = (await inbox(parent))[0]["id"]
    for body, field in (({"approve": "true"}, "approve"), ({"approve": 1}, "approve"),
                        ({}, "approve"), ({"approve": True, "minutes": 20}, "minutes"),
                        ({"approve": True, "minutes": "15"}, "minutes")):
        r = await decide(parent, request_id, **body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"].startswith(f"{field}: "), (body, r.text)
    r = await parent.client.post(f"{INBOX}/nope/decision", headers=parent.headers,
                                 json={"approve": True})
    assert r.status_code == 422 and r.json()["detail"] == "request_id: must be a UUID"
    assert (await inbox(parent))[0]["status"] == "pending"  # nothing was decided


async def test_unknown_other_accounts_and_adult_profiles_are_404(parent, client, database_url):
    kid, sibling, adult = await parent.child(), await parent.child("Leo"), await parent.adult()
    stranger = await api.signed_up(client, "stranger@example.com")
    strangers_kid = await stranger.child()
    tv = bearer((await parent.pair(kid))["device_token"])
    for who, profile_id in ((parent, str(uuid.uuid4())), (parent, strangers_kid),
                            (parent, adult), (tv, sibling), (tv, strangers_kid)):
        r = await ask(who, client, profile_id)
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Profile not found"}
    assert await fetch(database_url, "SELECT id FROM time_requests") == []


async def test_reading_and_deciding_is_scoped_to_the_account_and_the_device(parent, client):
    kid, sibling = await parent.child(), await parent.child("Leo")
    kids_tv = bearer((await parent.pair(kid))["device_token"])
    siblings = await asked(parent, sibling)
    stranger = await api.signed_up(client, "stranger@example.com")
    for headers in (kids_tv, stranger.headers):
        r = await client.get(f"{ASK}/{siblings['id']}", headers=headers)
        assert r.status_code == 404 and r.json() == {"detail": "Time request not found"}
    r = await client.get(f"{ASK}/{uuid.uuid4()}", headers=parent.headers)
    assert r.status_code == 404
    r = await decide(stranger, siblings["id"], approve=True)
    assert r.status_code == 404 and r.json() == {"detail": "Time request not found"}
    assert (await decide(parent, str(uuid.uuid4()), approve=True)).status_code == 404
    assert await inbox(stranger, status="all") == []
    # The inbox and decisions are the parent's: a device token gets 403.
    r = await client.get(INBOX, headers=kids_tv)
    assert r.status_code == 403
    r = await client.post(f"{INBOX}/{siblings['id']}/decision", headers=kids_tv,
                          json={"approve": True})
    assert r.status_code == 403 and r.json() == {"detail": "Not allowed with a device token"}
    assert (await inbox(parent))[0]["status"] == "pending"


async def test_one_pending_request_per_profile(parent, client, clock):
    kid, sibling = await parent.child(), await parent.child("Leo")
    first = await asked(parent, kid)
    clock.advance(60)
    r = await ask(parent, client, kid, 60)
    assert r.status_code == 409
    assert r.json() == {"detail": "A time request is already pending for this profile",
                        "code": "request_pending", "request_id": first["id"]}
    assert (await ask(parent, client, sibling)).status_code == 201  # per profile
    assert (await decide(parent, first["id"], approve=False)).status_code == 200
    assert (await ask(parent, client, kid, 60)).status_code == 201  # decided: ask again


async def test_parallel_creates_give_one_201_and_one_409(parent, client, database_url):
    kid = await parent.child()
    tv = bearer((await parent.pair(kid))["device_token"])
    for _ in range(3):
        await fetch(database_url, "DELETE FROM time_requests")
        answers = await asyncio.gather(ask(tv, client, kid, 15), ask(parent, client, kid, 30))
        codes = sorted(r.status_code for r in answers)
        assert codes == [201, 409], [r.text for r in answers]
        made = next(r.json() for r in answers if r.status_code == 201)
        refused = next(r.json() for r in answers if r.status_code == 409)
        assert refused["code"] == "request_pending" and refused["request_id"] == made["id"]
        rows = await fetch(database_url, "SELECT id FROM time_requests")
        assert [str(r["id"]) for r in rows] == [made["id"]]


async def test_no_request_when_today_is_not_limited(parent, client, clock):
    """No limit on this weekday (the config's or the schedule's), or an unlimited grant."""
    no_limit, scheduled, granted = (await parent.child("A"), await parent.child("B"),
                                    await parent.child("C"))
    await put_config(parent, no_limit, weekday_limit_minutes=None)
    r = await client.put(f"{PC}/profiles/{scheduled}/schedule", headers=parent.headers,
                         json={"limits": {"wed": None}})
    assert r.status_code == 200, r.text
    assert (await grant(parent, granted, minutes=None)).status_code == 200
    for kid in (no_limit, scheduled, granted):
        r = await ask(parent, client, kid)
        assert r.status_code == 409, r.text
        assert r.json() == {"detail": "Today is not limited for this profile: there is no "
                                      "time to ask for", "code": "not_limited"}
    # Thursday's viewing day: the granted child is limited again, the Wednesday-only
    # schedule no longer applies.
    clock.set(datetime(2026, 3, 5, 6, 0, tzinfo=UTC))
    await parent.login()
    assert (await ask(parent, client, granted)).status_code == 201
    assert (await ask(parent, client, scheduled)).status_code == 201
    assert (await ask(parent, client, no_limit)).status_code == 409


async def test_three_requests_a_viewing_day_then_429_until_the_next_day(parent, client, clock):
    kid = await parent.child()
    for outcome in ("deny", "expire", "approve"):
        made = await asked(parent, kid)
        if outcome == "expire":
            clock.advance(900)
        else:
            r = await decide(parent, made["id"], approve=outcome == "approve")
            assert r.status_code == 200, r.text
        clock.advance(60)
    r = await ask(parent, client, kid)
    assert r.status_code == 429
    assert r.json() == {"detail": "At most 3 time requests per viewing day; ask again "
                                  "tomorrow", "code": "too_many_requests"}
    # 12:18 to 06:00 the next morning.
    assert r.headers["retry-after"] == str(17 * 3600 + 42 * 60)
    clock.set(datetime(2026, 3, 5, 5, 59, 59, 500_000, tzinfo=UTC))
    await parent.login()
    r = await ask(parent, client, kid)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    clock.set(datetime(2026, 3, 5, 6, 0, tzinfo=UTC))
    assert (await ask(parent, client, kid)).status_code == 201


async def test_a_request_expires_after_the_ttl_and_cannot_be_decided(parent, client, clock,
                                                                     database_url):
    subscription = await subscribe(database_url, parent.account_id,
                                   ["time_request.created", "time_request.expired"])
    kid = await parent.child("Mia")
    made = await asked(parent, kid)
    clock.advance(899)
    assert (await client.get(f"{ASK}/{made['id']}", headers=parent.headers)).json() == made
    clock.advance(1)
    # Read as expired at once, before any sweep has flipped the row.
    seen = (await client.get(f"{ASK}/{made['id']}", headers=parent.headers)).json()
    assert seen == {**made, "status": "expired"}
    assert await inbox(parent) == []
    assert await inbox(parent, status="all") == [seen]
    [row] = await fetch(database_url, "SELECT status FROM time_requests")
    assert row["status"] == "pending"
    for _ in range(2):  # the first decision flips the row and writes the event, once
        r = await decide(parent, made["id"], approve=True)
        assert r.status_code == 409
        assert r.json() == {"detail": "This time request was already decided or has expired",
                            "code": "request_closed"}
    [row] = await fetch(database_url, "SELECT status, decided_at FROM time_requests")
    assert (row["status"], row["decided_at"]) == ("expired", None)
    assert await fetch(database_url, "SELECT id FROM time_grants") == []
    data = {"account_id": parent.account_id, "profile_id": kid, "profile_name": "Mia",
            "viewing_day": "2026-03-04"}
    assert await outbox(database_url) == [
        (subscription, "time_request.created", {**data, "request": made}),
        (subscription, "time_request.expired", {**data, "request": seen})]


async def test_a_request_expires_when_its_viewing_day_ends(parent, client, clock):
    kid = await parent.child()
    clock.set(datetime(2026, 3, 5, 5, 50, tzinfo=UTC))  # ten minutes before the reset
    await parent.login()
    made = await asked(parent, kid)
    assert made["expires_at"] == "2026-03-05T06:00:00Z"
    clock.set(datetime(2026, 3, 5, 6, 0, tzinfo=UTC))
    r = await decide(parent, made["id"], approve=True)
    assert r.status_code == 409 and r.json()["code"] == "request_closed"
    # The new day's first request is the new day's own (none pending, none counted).
    assert (await asked(parent, kid))["expires_at"] == "2026-03-05T06:15:00Z"


async def test_a_new_request_after_one_expired_writes_its_expiry_once(parent, clock, container,
                                                                      database_url):
    subscription = await subscribe(database_url, parent.account_id, ["time_request.expired"])
    kid = await parent.child()
    first = await asked(parent, kid)
    clock.advance(900)
    second = await asked(parent, kid, 30)
    assert second["id"] != first["id"]
    statuses = await fetch(database_url, "SELECT id, status FROM time_requests ORDER BY seq")
    assert [(str(r["id"]), r["status"]) for r in statuses] == [(first["id"], "expired"),
                                                               (second["id"], "pending")]
    assert await sweep(container) == 0  # nothing left for the sweeper
    events = await outbox(database_url)
    assert [(s, t, d["request"]["id"], d["request"]["status"]) for s, t, d in events] == [
        (subscription, "time_request.expired", first["id"], "expired")]


async def sweep(container: Container) -> int:
    """One round of the background sweeper."""
    return await (await container.time_request_service.async_()).sweep()


async def test_an_approval_applies_from_the_very_next_heartbeat(parent, client, titles, clock,
                                                                database_url):
    kid, session = await blocked_child(parent, titles, clock)
    made = await asked(parent, kid, 30)
    clock.advance(5)
    r = await decide(parent, made["id"], approve=True)  # minutes absent: as asked
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided == {**made, "status": "approved", "decided_at": "2026-03-04T12:15:05Z",
                       "granted_minutes": 30, "grant_id": decided["grant_id"]}
    assert decided["grant_id"] is not None
    clock.advance(25)
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.json()["enforcement"] == "allowed" and r.json()["remaining_minutes"] == 29.5
    # The grant is a remote grant by the parent that names the request; a direct grant
    # names none.
    assert (await grant(parent, kid, minutes=15)).status_code == 200
    listed = (await grants(parent, kid)).json()
    assert [(g["granted_minutes"], g["is_remote"], g["granted_by"], g["request_id"])
            for g in listed] == [(15, True, parent.account_id, None),
                                 (30, True, parent.account_id, made["id"])]
    assert listed[1]["id"] == decided["grant_id"]
    [row] = await fetch(database_url, "SELECT reset_date, request_id FROM time_grants "
                        "WHERE id = $1", uuid.UUID(decided["grant_id"]))
    assert (str(row["reset_date"]), str(row["request_id"])) == ("2026-03-04", made["id"])
    r = await client.get(f"{ASK}/{made['id']}", headers=parent.headers)
    assert r.json() == decided


async def test_a_parent_may_grant_other_minutes_or_the_rest_of_the_day(parent, client, titles,
                                                                       clock):
    kid, session = await blocked_child(parent, titles, clock)
    made = await asked(parent, kid, 15)
    r = await decide(parent, made["id"], approve=True, minutes=60)
    assert r.json()["granted_minutes"] == 60
    assert (await parent.balance(kid))["remaining_minutes"] == 60.0
    clock.advance(60)
    made = await asked(parent, kid, 15)
    r = await decide(parent, made["id"], approve=True, minutes=None)  # null: unlimited
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["granted_minutes"]) == ("approved", None)
    balance = await parent.balance(kid)
    assert balance["is_unlimited_override"] is True and balance["remaining_minutes"] is None
    assert [g["granted_minutes"] for g in (await grants(parent, kid)).json()] == [None, 60]


async def test_a_denial_grants_nothing_and_closes_the_request(parent, client, database_url,
                                                              clock):
    kid = await parent.child()
    made = await asked(parent, kid)
    clock.advance(30)
    r = await decide(parent, made["id"], approve=False, minutes=60)  # minutes ignored
    assert r.status_code == 200
    assert r.json() == {**made, "status": "denied", "decided_at": "2026-03-04T12:00:30Z"}
    assert await fetch(database_url, "SELECT id FROM time_grants") == []
    assert (await parent.balance(kid))["remaining_minutes"] == 120.0
    denied = r.json()
    for approve in (True, False):
        r = await decide(parent, made["id"], approve=approve)
        assert r.status_code == 409 and r.json()["code"] == "request_closed"
    assert await inbox(parent) == []
    assert await inbox(parent, status="all") == [denied]


async def test_parallel_decisions_give_one_200_and_one_409(parent, client, database_url, clock):
    kid = await parent.child()
    for approve_first in (True, False):
        made = await asked(parent, kid)
        answers = await asyncio.gather(decide(parent, made["id"], approve=approve_first),
                                       decide(parent, made["id"], approve=not approve_first))
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        won = next(r.json() for r in answers if r.status_code == 200)
        lost = next(r.json() for r in answers if r.status_code == 409)
        assert lost["code"] == "request_closed"
        grant_rows = await fetch(database_url, "SELECT id FROM time_grants WHERE request_id = "
                                 "$1", uuid.UUID(made["id"]))
        assert len(grant_rows) == (1 if won["status"] == "approved" else 0)
        clock.advance(60)


async def test_the_inbox_lists_every_child_newest_first(parent, client, clock):
    mia, leo = await parent.child("Mia"), await parent.child("Leo")
    stranger = await api.signed_up(client, "stranger@example.com")
    await asked(stranger, await stranger.child())
    old = await asked(parent, mia)
    clock.advance(60)
    denied = await asked(parent, leo, 30)
    denied = (await decide(parent, denied["id"], approve=False)).json()
    pending = await asked(parent, leo, 60)  # the same instant as the denial: seq orders them
    clock.advance(60)
    assert await inbox(parent) == [pending, old]
    everything = await inbox(parent, status="all")
    assert everything == [pending, denied, old]
    clock.advance(780)  # 12:15: `old` has expired, `pending` not yet
    assert await inbox(parent) == [pending]
    assert [r["status"] for r in await inbox(parent, status="all")] == ["pending", "denied",
                                                                       "expired"]


async def test_the_sweeper_expires_due_requests_and_writes_their_events(parent, client, clock,
                                                                        container, database_url):
    takes_all = await subscribe(database_url, parent.account_id,
                                ["time_request.created", "time_request.expired"])
    await subscribe(database_url, parent.account_id, ["grant.created"])  # takes neither
    stranger = await api.signed_up(client, "stranger@example.com")
    mia, leo = await parent.child("Mia"), await parent.child("Leo")
    first = await asked(parent, mia)
    clock.advance(300)
    second = await asked(parent, leo)
    await asked(stranger, await stranger.child())  # no subscription: no outbox row
    clock.advance(600)  # first is due, second not yet
    assert await sweep(container) == 1
    clock.advance(300)
    assert await sweep(container) == 2  # the second, and the stranger's
    assert await sweep(container) == 0
    rows = await fetch(database_url, "SELECT status FROM time_requests")
    assert {r["status"] for r in rows} == {"expired"}
    events = await outbox(database_url)
    assert [(s, t, d["profile_name"], d["request"]["id"], d["request"]["status"])
            for s, t, d in events] == [
        (takes_all, "time_request.created", "Mia", first["id"], "pending"),
        (takes_all, "time_request.created", "Leo", second["id"], "pending"),
        (takes_all, "time_request.expired", "Mia", first["id"], "expired"),
        (takes_all, "time_request.expired", "Leo", second["id"], "expired")]
    assert events[2][2] == {"account_id": parent.account_id, "profile_id": mia,
                            "profile_name": "Mia", "viewing_day": "2026-03-04",
                            "request": {**first, "status": "expired"}}


async def test_each_replica_sweeps_in_the_background(database_url, clock):
    await truncate_all(database_url)
    async with running_app(database_url, clock,
                           time_request_sweep_interval_seconds=0.05) as running:
        parent = await api.signed_up(running.client, "parent@example.com")
        kid = await parent.child()
        made = await asked(parent, kid)
        clock.advance(900)
        for _ in range(100):
            rows = await fetch(database_url, "SELECT status FROM time_requests")
            if rows[0]["status"] == "expired":
                break
            await asyncio.sleep(0.05)
        assert rows[0]["status"] == "expired"
        r = await running.client.get(f"{ASK}/{made['id']}", headers=parent.headers)
        assert r.json()["status"] == "expired"


async def test_requests_are_counted_by_outcome(parent, client, container, clock):
    kid = await parent.child()
    for approve in (True, False, None):
        made = await asked(parent, kid)
        if approve is None:
            clock.advance(900)
            await sweep(container)
        else:
            await decide(parent, made["id"], approve=approve)
        clock.advance(1)
    registry = container.metrics().registry
    assert registry.get_sample_value("vts_time_requests_total") == 3
    for outcome in ("approved", "denied", "expired"):
        assert registry.get_sample_value("vts_time_requests_closed_total",
                                         {"outcome": outcome}) == 1
    text = (await client.get("/metrics")).text
    assert 'vts_time_requests_closed_total{outcome="approved"} 1.0' in text
