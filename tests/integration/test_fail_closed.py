"""With the database unreachable, children are blocked (503), never allowed; it recovers alone."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import api
from tests.support.api import API

pytestmark = pytest.mark.anyio


async def test_heartbeat_and_eligibility_fail_closed_then_recover(proxied, clock):
    proxy, client, container = proxied
    parent = await api.signed_up(client, "down@example.com")
    titles = await api.seed_titles(container)
    kid = await parent.child()
    first = await parent.beat(kid, titles.cartoon)
    session = first.json()["session_id"]

    await proxy.down()
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.status_code == 503
    body = r.json()
    assert body["enforcement"] == "blocked" and body["reason"] == "enforcement_unavailable"
    assert isinstance(body["detail"], str)

    r = await client.get(f"{API}/viewing-time/playback-eligible/{kid}", headers=parent.headers)
    assert r.status_code == 503
    assert r.json()["eligible"] is False and r.json()["reason"] == "enforcement_unavailable"

    r = await client.get("/readyz")
    assert r.status_code == 503
    assert (await client.get("/healthz")).status_code == 200

    r = await client.get(f"{API}/profiles", headers=parent.headers)
    assert r.status_code == 503 and "detail" in r.json()

    await proxy.up()
    for _ in range(50):  # the pools reconnect by themselves
        r = await parent.beat(kid, titles.cartoon, session)
        if r.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert r.status_code == 200
    assert r.json()["used_minutes"] == 1.0  # nothing charged while down, nothing lost
    assert (await client.get("/readyz")).status_code == 200


async def test_service_starts_and_stays_live_while_the_database_is_down(database_url, clock):
    from tests.support.apps import running_app
    from tests.support.pgproxy import RoundTripProxy

    proxy = RoundTripProxy(database_url)
    await proxy.up()
    url = proxy.url
    await proxy.down()
    try:
        async with running_app(url) as running:
            assert (await running.client.get("/healthz")).json() == {"status": "ok"}
            assert (await running.client.get("/readyz")).status_code == 503
            await proxy.up()
            for _ in range(50):
                if (await running.client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await running.client.get("/readyz")).status_code == 200
    finally:
        await proxy.close()


async def test_a_device_token_that_cannot_be_checked_fails_closed(proxied, clock):
    """A replica that has not seen the device yet must ask the database; while it is down, the
    player is blocked (the fail-closed bodies), never let through and never told it is unpaired."""
    proxy, client, container = proxied
    parent = await api.signed_up(client, "down-device@example.com")
    titles = await api.seed_titles(container)
    kid = await parent.child()
    headers = {"Authorization": f"Bearer {(await parent.pair(kid))['device_token']}"}
    (await container.device_registry.async_()).clear()  # as on a replica that never saw it

    await proxy.down()
    r = await client.post(f"{API}/viewing-time/heartbeat", headers=headers,
                          json={"profile_id": kid, "title_id": titles.cartoon})
    assert r.status_code == 503
    assert (r.json()["enforcement"], r.json()["reason"]) == ("blocked", "enforcement_unavailable")
    r = await client.get(f"{API}/viewing-time/playback-eligible/{kid}", headers=headers)
    assert r.status_code == 503
    assert (r.json()["eligible"], r.json()["reason"]) == (False, "enforcement_unavailable")
    r = await client.get(f"{API}/device", headers=headers)
    assert r.status_code == 503 and r.json() == {"detail": "Database unavailable"}
    await proxy.up()
