"""Two app instances on one database: a config change or a device's deletion made through one
reaches the other's cache (PostgreSQL NOTIFY → its ConfigChangeListener) well within a second,
though the other's cache TTLs are an hour.

The second instance is a real `python -m app serve` process: dependency-injector wiring is
module-global, so two containers cannot serve side by side in one process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from app.services.clock import FrozenClock
from tests.support.api import API
from tests.support.parental import put_config
from tests.support.served import served_replica

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock() -> FrozenClock:
    # The other instance runs on the real clock: tokens minted here must be valid there.
    return FrozenClock(datetime.now(UTC))


@pytest.fixture
async def replica(database_url: str,
                  app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """A second instance, started after this test's app (which truncates the tables)."""
    async with served_replica(database_url, CONFIG_CACHE_TTL_SECONDS="3600",
                              DEVICE_CACHE_TTL_SECONDS="3600") as client:
        yield client


async def test_a_config_change_reaches_the_other_replica_on_its_next_heartbeat(
        parent, titles, replica):
    kid = await parent.child()

    async def beat_on_replica(session_id: str | None = None) -> dict:
        body = {"profile_id": kid, "title_id": titles.cartoon, "device_id": "tv"}
        if session_id:
            body["session_id"] = session_id
        r = await replica.post(f"{API}/viewing-time/heartbeat", headers=parent.headers, json=body)
        assert r.status_code == 200, r.text
        return r.json()

    first = await beat_on_replica()  # the replica caches the profile's facts (120 or 180 min)
    assert first["remaining_minutes"] >= 119
    assert (await beat_on_replica(first["session_id"]))["remaining_minutes"] >= 119  # cached

    r = await put_config(parent, kid, weekday_limit_minutes=30, weekend_limit_minutes=30)
    assert r.status_code == 200
    changed_at = time.perf_counter()
    beats = 0
    while True:
        beats += 1
        seen = await beat_on_replica(first["session_id"])
        if seen["remaining_minutes"] <= 30:
            break
        assert time.perf_counter() - changed_at < 1, "the change did not arrive within 1 s"
        await asyncio.sleep(0.01)
    elapsed_ms = (time.perf_counter() - changed_at) * 1000
    print(f"\nreplica saw the new limit on heartbeat #{beats} after the change, "
          f"{elapsed_ms:.0f} ms after the PUT returned")
    assert seen["remaining_minutes"] == pytest.approx(29.5, abs=0.5)


async def test_a_deleted_device_is_refused_by_the_other_replica_within_a_second(
        parent, titles, replica, client):
    kid = await parent.child()
    device = await parent.pair(kid)
    headers = {"Authorization": f"Bearer {device['device_token']}"}
    body = {"profile_id": kid, "title_id": titles.cartoon}
    r = await replica.post(f"{API}/viewing-time/heartbeat", headers=headers, json=body)
    assert r.status_code == 200, r.text  # the replica now knows the device
    body["session_id"] = r.json()["session_id"]
    assert (await replica.post(f"{API}/viewing-time/heartbeat", headers=headers,
                               json=body)).status_code == 200

    r = await client.delete(f"{API}/devices/{device['id']}", headers=parent.headers)
    assert r.status_code == 204
    deleted_at = time.perf_counter()
    while True:
        r = await replica.post(f"{API}/viewing-time/heartbeat", headers=headers, json=body)
        if r.status_code == 401:
            break
        assert r.status_code == 200, r.text
        assert time.perf_counter() - deleted_at < 1, "the deletion did not arrive within 1 s"
        await asyncio.sleep(0.01)
    print(f"\nreplica refused the deleted device {(time.perf_counter() - deleted_at) * 1000:.0f}"
          " ms after the DELETE returned")


async def test_a_lock_and_an_unlock_reach_the_other_replica_on_its_next_heartbeat(
        parent, titles, replica, client):
    kid = await parent.child()
    body = {"profile_id": kid, "title_id": titles.cartoon, "device_id": "tv"}

    async def beat() -> dict:
        r = await replica.post(f"{API}/viewing-time/heartbeat", headers=parent.headers, json=body)
        assert r.status_code == 200, r.text
        body["session_id"] = r.json()["session_id"]
        return r.json()

    assert (await beat())["enforcement"] == "allowed"  # the replica caches the facts
    for path, expected in (("lock", "blocked"), ("unlock", "allowed")):
        if path == "lock":
            r = await client.put(f"{API}/parental-controls/profiles/{kid}/lock",
                                 headers=parent.headers, json={"until": None})
        else:
            r = await client.delete(f"{API}/parental-controls/profiles/{kid}/lock",
                                    headers=parent.headers)
        assert r.status_code == 200
        changed_at = time.perf_counter()
        while (await beat())["enforcement"] != expected:
            assert time.perf_counter() - changed_at < 1, f"the {path} did not arrive within 1 s"
            await asyncio.sleep(0.01)
        print(f"\nreplica saw the {path} {(time.perf_counter() - changed_at) * 1000:.0f} ms after "
              "it returned")
