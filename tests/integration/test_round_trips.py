"""Database round trips per heartbeat, counted on the wire (see tests/support/pgproxy.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.support import api
from tests.support.db import fetch

pytestmark = pytest.mark.anyio


async def test_an_idle_app_sends_nothing_to_the_database(proxied):
    """What the counts below measure is the beats alone: no background loop of the lifespan
    (sweeps, the webhook worker's poll, the LISTEN session's ping) talks to the database through
    the proxy while a test runs. It failed when the worker polled every second and a poll landed
    inside a counted beat now and then."""
    import asyncio

    proxy, _, _ = proxied
    before = proxy.round_trips
    await asyncio.sleep(1.5)
    assert proxy.round_trips == before


async def one_round_trip_beat(proxy, parent, *args, **kwargs):
    """A heartbeat that answers 200 and costs exactly one round trip on the wire."""
    before = proxy.round_trips
    r = await parent.beat(*args, **kwargs)
    assert r.status_code == 200, r.text
    assert proxy.round_trips - before == 1
    return r

async def test_continuing_heartbeat_is_one_round_trip_and_first_beat_two(proxied, clock):
    proxy, client, container = proxied
    parent = await api.signed_up(client, "rt@example.com")
    titles = await api.seed_titles(container)
    kid = await parent.child()

    before = proxy.round_trips
    first = await parent.beat(kid, titles.cartoon)  # config cache cold
    assert first.status_code == 200
    assert proxy.round_trips - before == 2  # load the profile's facts + open the session

    session = first.json()["session_id"]
    for _ in range(3):  # statement now prepared on this connection
        clock.advance(30)
        await parent.beat(kid, titles.cartoon, session)

    for _ in range(5):
        clock.advance(30)
        r = await one_round_trip_beat(proxy, parent, kid, titles.cartoon, session)

    clock.advance(30)
    before = proxy.round_trips
    switched = await parent.beat(kid, titles.cartoon, device_id="tablet")  # warm cache
    assert switched.status_code == 200
    assert proxy.round_trips - before <= 2


async def test_round_trips_reported_per_heartbeat_match_the_wire_under_concurrency(proxied, clock):
    """A cache miss of one heartbeat is not charged to another running at the same time."""
    import asyncio

    proxy, client, container = proxied
    parent = await api.signed_up(client, "rt2@example.com")
    titles = await api.seed_titles(container)
    warm, cold = await parent.child("Warm"), await parent.child("Cold")
    session = (await parent.beat(warm, titles.cartoon)).json()["session_id"]
    metrics = container.metrics()
    clock.advance(30)
    before_wire, before_reported = proxy.round_trips, metrics.round_trips
    replies = await asyncio.gather(parent.beat(warm, titles.cartoon, session),
                                   parent.beat(cold, titles.cartoon))
    assert [r.status_code for r in replies] == [200, 200]
    assert proxy.round_trips - before_wire == 3  # 1 continuing + 2 cold first beat
    assert metrics.round_trips - before_reported == 3


async def test_a_device_tokens_heartbeat_is_one_round_trip_on_a_warm_cache(proxied, clock):
    """The token's device is checked against the registry's cache, not the database."""
    proxy, client, container = proxied
    parent = await api.signed_up(client, "rt-device@example.com")
    titles = await api.seed_titles(container)
    kid = await parent.child()
    token = (await parent.pair(kid))["device_token"]
    headers = {"Authorization": f"Bearer {token}"}

    async def beat(session_id: str | None = None) -> str:
        body = {"profile_id": kid, "title_id": titles.cartoon}
        if session_id:
            body["session_id"] = session_id
        r = await client.post(f"{api.API}/viewing-time/heartbeat", headers=headers, json=body)
        assert r.status_code == 200, r.text
        return r.json()["session_id"]

    before = proxy.round_trips
    session = await beat()  # cold: the device, the profile's facts, the new session
    assert proxy.round_trips - before == 3
    for _ in range(3):
        clock.advance(30)
        await beat(session)
    for _ in range(5):
        clock.advance(30)
        before = proxy.round_trips
        await beat(session)
        assert proxy.round_trips - before == 1


async def test_a_heartbeat_with_a_schedule_is_still_one_round_trip(proxied, clock):
    """Per-weekday limits and allowed hours are worked out on the cached config: the statement
    only receives the window's end. The beats run up to the window's end and past it."""
    proxy, client, container = proxied
    parent = await api.signed_up(client, "rt-schedule@example.com")
    titles = await api.seed_titles(container)
    kid = await parent.child()
    r = await client.put(f"{api.API}/parental-controls/profiles/{kid}/schedule",
                         headers=parent.headers,
                         json={"limits": {"wed": 60},
                               "allowed_hours": {"wed": [{"start": "07:00", "end": "12:03"}]}})
    assert r.status_code == 200, r.text
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    for _ in range(3):
        clock.advance(30)
        await parent.beat(kid, titles.cartoon, session)
    states = []
    for _ in range(6):  # 12:02:00 .. 12:04:30: warning_5, then outside the hours
        clock.advance(30)
        r = await one_round_trip_beat(proxy, parent, kid, titles.cartoon, session)
        states.append(r.json()["enforcement"])
    assert states == ["warning_5", "warning_5", "blocked", "blocked", "blocked", "blocked"]


async def test_beats_that_write_webhook_events_are_still_one_round_trip(proxied, clock,
                                                                        database_url):
    """With a subscription, the beats that cross warning_5 and blocked write their events, and
    a device switch its session.superseded, each in the beat's own one statement."""
    proxy, client, container = proxied
    parent = await api.signed_up(client, "rt-events@example.com")
    titles = await api.seed_titles(container)
    kid = await parent.child()
    await fetch(database_url, "INSERT INTO webhook_subscriptions "
                "(id, account_id, url, events, secret, created_at) VALUES "
                "(gen_random_uuid(), $1, 'https://hooks.example.com/', $2, 'whsec_x', now())",
                uuid.UUID(parent.account_id),
                ["viewing.warning_15", "viewing.warning_5", "viewing.blocked",
                 "session.superseded"])
    r = await client.put(f"{api.API}/parental-controls/profiles/{kid}/viewing-time",
                         headers=parent.headers, json={"weekday_limit_minutes": 15})
    assert r.status_code == 200, r.text
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]  # warning_15
    states = []
    for _ in range(30):  # 14.5 minutes left .. 0: crossing warning_5, then blocked
        clock.advance(30)
        r = await one_round_trip_beat(proxy, parent, kid, titles.cartoon, session)
        states.append(r.json()["enforcement"])
    assert states[-1] == "blocked" and "warning_5" in states
    clock.advance(30)
    await one_round_trip_beat(proxy, parent, kid, titles.cartoon, device_id="tablet")
    written = [r["event_type"] for r in await fetch(
        database_url, "SELECT event_type FROM webhook_outbox ORDER BY id")]
    assert written == ["viewing.warning_15", "viewing.warning_5", "viewing.blocked",
                       "session.superseded"]
