"""Concurrency at scale: 200 players on 50 child profiles for 60 s against the real server.

Ten parent accounts with five children each; every child has four devices, each one a client
that beats every 0.2–1 s, sends duplicate beats in parallel, pauses, switches devices (a new
session ends the other device's one, which then gets 409 session_ended and comes back later)
and ends sessions, while the parents change limits and grant time on the same rows.

Afterwards, with the server stopped:
- every profile's balance for the day equals the sum of its sessions' totals (tests/hardening/
  ledger.py), and no profile has two open sessions;
- every session was charged exactly its paid window (`counted_until - started_at`), so no
  duplicate, retry or race charged anything twice;
- no answer was a 5xx and every non-200 was a documented `409 session_ended`; PostgreSQL counted
  no deadlock and the server logged no error.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from app.database import asyncpg_dsn
from tests.hardening.ledger import assert_balanced
from tests.support.api import API, PASSWORD
from tests.support.db import truncate_all
from tests.support.served import ServedApp

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

ACCOUNTS, KIDS_PER_ACCOUNT, DEVICES_PER_KID = 10, 5, 4
SECONDS = 60.0
HEARTBEAT = f"{API}/viewing-time/heartbeat"


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    conflicts: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def record(self, what: str, r: httpx.Response, started: float) -> None:
        self.latencies.append(time.perf_counter() - started)
        self.statuses[(what, r.status_code)] += 1
        if r.status_code == 409:
            self.conflicts[r.json().get("code")] += 1
        if r.status_code != 200 and not (r.status_code == 409
                                         and r.json().get("code") == "session_ended"):
            self.unexpected.append(f"{what} {r.status_code} {r.text[:200]}")


async def _seed(client: httpx.AsyncClient, database_url: str) -> tuple[list, list[str]]:
    """Accounts, tokens, children and titles; the reset hour is put 12 hours away so the run
    stays inside one viewing day (sessions are audited by the day they charged)."""
    accounts = []
    for a in range(ACCOUNTS):
        email = f"scale-{a}-{uuid.uuid4().hex[:6]}@example.com"
        r = await client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        r = await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        kids = []
        for k in range(KIDS_PER_ACCOUNT):
            r = await client.post(f"{API}/profiles", headers=headers,
                                  json={"name": f"Kid {k}", "is_kids": True})
            assert r.status_code == 201, r.text
            kids.append(r.json()["id"])
        accounts.append((headers, kids))
    titles = [uuid.uuid4() for _ in range(6)]
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.executemany("INSERT INTO titles VALUES ($1, $2, $3)",
                               [(t, f"Title {i}", i < 2) for i, t in enumerate(titles)])
        await conn.execute("UPDATE viewing_time_configs SET reset_hour = $1",
                           (datetime.now(UTC).hour + 12) % 24)
    finally:
        await conn.close()
    return accounts, [str(t) for t in titles]


async def _device(base_url: str, headers: dict, kid: str, device: str,
                  titles: list[str], deadline: float, tally: Tally, rng: random.Random) -> None:
    # verify=False: plain HTTP, and no CA bundle parsed per client (50 ms of CPU each). Idle
    # connections are dropped after 2 s, before uvicorn's 5 s keep-alive timeout: otherwise a
    # request sent just as the server closes an idle connection dies in transit (ReadError).
    limits = httpx.Limits(keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, verify=False,
                                 limits=limits) as client:
        await _play(client, headers, kid, device, titles, deadline, tally, rng)


async def _play(client: httpx.AsyncClient, headers: dict, kid: str, device: str,
                titles: list[str], deadline: float, tally: Tally, rng: random.Random) -> None:
    """One device: its own connection, like a player app."""
    session: str | None = None
    title = rng.choice(titles)
    device_type = rng.choice(["tv", "mobile", "tablet", "web"])

    async def beat(body: dict) -> httpx.Response:
        started = time.perf_counter()
        r = await client.post(HEARTBEAT, headers=headers, json=body)
        tally.record("heartbeat", r, started)
        return r

    await asyncio.sleep(rng.uniform(0, 1))
    while time.monotonic() < deadline:
        base = {"profile_id": kid, "title_id": title, "device_id": device,
                "device_type": device_type}
        action = rng.choices(["beat", "duplicate", "pause", "end", "switch"],
                             weights=[70, 10, 5, 5, 10])[0]
        if session is None or action == "switch":
            if session is None and rng.random() < 0.5:  # another device has the stream
                await asyncio.sleep(rng.uniform(0.5, 2))
                continue
            title = rng.choice(titles)
            r = await beat({**base, "title_id": title})
            if r.status_code == 200:
                session = r.json()["session_id"]
        elif action == "end":
            started = time.perf_counter()
            r = await client.post(f"{API}/viewing-time/session/{session}/end", headers=headers)
            tally.record("end", r, started)
            session = None
        else:
            body = {**base, "session_id": session, "is_paused": action == "pause"}
            copies = 2 if action == "duplicate" else 1
            answers = await asyncio.gather(*(beat(body) for _ in range(copies)))
            if any(r.status_code == 409 for r in answers):
                session = None  # superseded by another device
        await asyncio.sleep(rng.uniform(0.2, 1.0))


async def _parent(client: httpx.AsyncClient, headers: dict, kids: list[str], deadline: float,
                  tally: Tally, rng: random.Random) -> None:
    """Parents touch the same rows: limits (config) and remote grants (the day's balance)."""
    while time.monotonic() < deadline:
        await asyncio.sleep(rng.uniform(1, 4))
        kid = rng.choice(kids)
        started = time.perf_counter()
        if rng.random() < 0.5:
            r = await client.put(f"{API}/parental-controls/profiles/{kid}/viewing-time",
                                 headers=headers,
                                 json={"weekday_limit_minutes": rng.choice([120, 180, 240]),
                                       "weekend_limit_minutes": rng.choice([180, 240, None])})
            tally.record("config", r, started)
        else:
            r = await client.post(f"{API}/parental-controls/profiles/{kid}/viewing-time/grant",
                                  headers=headers, json={"minutes": rng.choice([15, 30, 60])})
            tally.record("grant", r, started)


async def _deadlocks(database_url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetchval(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    finally:
        await conn.close()


async def _overcharged_sessions(database_url: str) -> list[dict]:
    """Sessions whose total differs from their paid window by more than rounding (a charge is
    rounded to the millisecond), and how many sessions there are."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch("""
            SELECT id, total_seconds, extract(epoch FROM counted_until - started_at) AS window
            FROM viewing_sessions""")
    finally:
        await conn.close()
    assert len(rows) > 500, f"only {len(rows)} sessions: the run did not switch devices"
    return [dict(r) for r in rows if abs(r["total_seconds"] - r["window"]) > 1]


async def test_200_players_on_50_children_for_60_seconds(database_url):
    await truncate_all(database_url)
    deadlocks_before = await _deadlocks(database_url)
    server = ServedApp(database_url=database_url, LOG_LEVEL="WARNING", DB_POOL_SIZE="10",
                          BCRYPT_ROUNDS="4").start()
    tally = Tally()
    try:
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
        async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as client:
            accounts, titles = await _seed(client, database_url)
            deadline = time.monotonic() + SECONDS
            rng = random.Random(2026)
            tasks = [_device(server.url, headers, kid, f"{kid[:8]}-dev{d}", titles, deadline, tally,
                             random.Random(rng.random()))
                     for headers, kids in accounts for kid in kids
                     for d in range(DEVICES_PER_KID)]
            tasks += [_parent(client, headers, kids, deadline, tally, random.Random(rng.random()))
                      for headers, kids in accounts]
            assert len(tasks) == 200 + ACCOUNTS
            await asyncio.gather(*tasks)
    finally:
        server.terminate()
        server.wait(timeout=60)
    logs = server.output()
    server.close()

    requests = sum(tally.statuses.values())
    latencies = sorted(tally.latencies)
    summary = (f"{requests} requests in {SECONDS:.0f} s, {dict(tally.statuses)}, "
               f"conflicts {dict(tally.conflicts)}, median "
               f"{statistics.median(latencies) * 1000:.1f} ms, p99 "
               f"{latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")
    print(summary)
    assert requests > 6_000, summary  # at least 100 a second: the load really ran
    assert not tally.unexpected, tally.unexpected[:20]
    assert not [s for (_, s) in tally.statuses if s >= 500], summary
    await assert_balanced(database_url)
    assert await _overcharged_sessions(database_url) == []
    assert await _deadlocks(database_url) == deadlocks_before
    problems = [line for line in logs.splitlines()
                if '"level":"ERROR"' in line or "Traceback" in line
                or "deadlock" in line.lower() or "serializ" in line.lower()]
    assert not problems, problems[:10]
