"""Data protection: retention purge, erasure of a profile in one transaction, secrets kept out
of the logs."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from app.database import asyncpg_dsn
from app.repositories.retention import RetentionRepository
from app.services.clock import FrozenClock
from tests.hardening.ledger import assert_balanced
from tests.support import api
from tests.support.api import API
from tests.support.apps import JWT_SECRET, running_app
from tests.support.db import truncate_all
from tests.support.parental import grant, put_config, set_pin
from tests.support.served import ROOT, ServedApp

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
HISTORY_TABLES = ("viewing_sessions", "daily_balances", "time_grants")


async def _watch(parent: api.Parent, clock: FrozenClock, kid: str, title: str, *,
                 at: datetime, minutes: int = 10, end: bool = True, granted: bool = False) -> None:
    clock.set(at)
    await parent.login()  # the frozen clock jumped past the old token's expiry
    session = None
    for _ in range(minutes * 2):
        r = await parent.beat(kid, title, session)
        assert r.status_code == 200, r.text
        session = r.json()["session_id"]
        clock.advance(30)
    if end:
        assert (await parent.end(session)).status_code == 200
    if granted:
        assert (await grant(parent, kid, minutes=15)).status_code == 200


async def _history_days(database_url: str, kid: str) -> dict[str, list]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return {
            "sessions": [r[0] for r in await conn.fetch(
                "SELECT started_at::date FROM viewing_sessions WHERE profile_id = $1 "
                "ORDER BY 1", uuid.UUID(kid))],
            "balances": [r[0] for r in await conn.fetch(
                "SELECT reset_date FROM daily_balances WHERE profile_id = $1 ORDER BY 1",
                uuid.UUID(kid))],
            "grants": [r[0] for r in await conn.fetch(
                "SELECT reset_date FROM time_grants WHERE profile_id = $1 ORDER BY 1",
                uuid.UUID(kid))],
        }
    finally:
        await conn.close()


async def test_sweep_purges_history_older_than_the_retention(parent, titles, clock,
                                                             container, database_url):
    kid = await parent.child()
    sibling = await parent.child("Sibling")
    day = timedelta(days=1)
    for days_ago in (800, 500, 401, 399, 30):
        await _watch(parent, clock, kid, titles.cartoon, at=NOW - days_ago * day, granted=True)
    await _watch(parent, clock, sibling, titles.documentary, at=NOW - 450 * day)
    # Still open (a device that never ended it; the stale sweep ends such sessions first).
    await _watch(parent, clock, kid, titles.cartoon, at=NOW - 402 * day, end=False)
    await _watch(parent, clock, kid, titles.cartoon, at=NOW - day, end=False)  # ends the above
    await assert_balanced(database_url)

    clock.set(NOW)
    purged = await (await container.retention()).purge()
    assert purged is not None
    assert (purged.sessions, purged.balances, purged.grants) == (5, 5, 3)
    remaining = await _history_days(database_url, kid)
    kept = [(NOW - d * day).date() for d in (399, 30, 1)]
    assert remaining == {"sessions": kept, "balances": kept, "grants": kept[:2]}
    assert await _history_days(database_url, sibling) == {"sessions": [], "balances": [],
                                                          "grants": []}
    await assert_balanced(database_url)
    # The profiles, their configs and the account stay; a second run has nothing left to do.
    await parent.login()
    assert len((await parent.client.get(f"{API}/profiles", headers=parent.headers)).json()) == 2
    again = await (await container.retention()).purge()
    assert (again.sessions, again.balances, again.grants) == (0, 0, 0)


async def test_an_open_session_is_never_purged(parent, titles, clock, container, database_url):
    kid = await parent.child()
    await _watch(parent, clock, kid, titles.cartoon, at=NOW - timedelta(days=600), end=False)
    clock.set(NOW)
    purged = await (await container.retention()).purge()
    assert purged.sessions == 0 and purged.balances == 1  # the day's balance goes, not the session
    assert len((await _history_days(database_url, kid))["sessions"]) == 1


async def test_purge_deletes_in_batches(parent, titles, clock, container, database_url):
    kid = await parent.child()
    for days_ago in range(500, 507):
        await _watch(parent, clock, kid, titles.cartoon, at=NOW - timedelta(days=days_ago),
                     minutes=1, granted=True)
    repo = RetentionRepository(await container.session_factory(), batch=2)
    purged = await repo.purge_before((NOW - timedelta(days=400)).date())
    assert (purged.sessions, purged.balances, purged.grants) == (7, 7, 7)
    assert await _history_days(database_url, kid) == {"sessions": [], "balances": [],
                                                      "grants": []}


async def test_retention_zero_keeps_everything(database_url, clock):
    await truncate_all(database_url)
    async with running_app(database_url, clock, retention_days=0) as running:
        parent = await api.signed_up(running.client, "keep@example.com")
        titles = await api.seed_titles(running.container)
        kid = await parent.child()
        await _watch(parent, clock, kid, titles.cartoon, at=NOW - timedelta(days=3000))
        clock.set(NOW)
        assert await (await running.container.retention()).purge() is None
        assert len((await _history_days(database_url, kid))["sessions"]) == 1


async def test_each_replica_purges_in_the_background(database_url, clock):
    """A replica's first background sweep purges (then once a day)."""
    await truncate_all(database_url)
    async with running_app(database_url, clock) as running:
        parent = await api.signed_up(running.client, "bg@example.com")
        titles = await api.seed_titles(running.container)
        kid = await parent.child()
        await _watch(parent, clock, kid, titles.cartoon, at=NOW - timedelta(days=401))
        await _watch(parent, clock, kid, titles.cartoon, at=NOW - timedelta(days=2))
    clock.set(NOW)
    async with running_app(database_url, clock, sweep_interval_seconds=0.1):
        for _ in range(50):
            if len((await _history_days(database_url, kid))["sessions"]) == 1:
                break
            await asyncio.sleep(0.1)
    assert await _history_days(database_url, kid) == {
        "sessions": [(NOW - timedelta(days=2)).date()],
        "balances": [(NOW - timedelta(days=2)).date()], "grants": []}


def test_the_sweep_command_purges_and_says_so(database_url):
    """`python -m app sweep` on the system clock: history from 2 years ago goes, last week's
    stays."""
    asyncio.run(truncate_all(database_url))
    now = datetime.now(UTC)

    async def seed() -> None:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            account, title = uuid.uuid4(), uuid.uuid4()
            await conn.execute("INSERT INTO accounts (id, email, password_hash, created_at) "
                               "VALUES ($1, 'cli@example.com', 'x', now())", account)
            await conn.execute("INSERT INTO titles VALUES ($1, 'T', false)", title)
            kid = uuid.uuid4()
            await conn.execute("INSERT INTO profiles VALUES ($1, $2, 'Kid', true, now())",
                               kid, account)
            for when in (now - timedelta(days=730), now - timedelta(days=7)):
                await conn.execute(
                    "INSERT INTO viewing_sessions (id, profile_id, title_id, device_id, "
                    "device_type, is_educational, started_at, last_heartbeat_at, ended_at, "
                    "total_seconds, last_charge_date) "
                    "VALUES ($1, $2, $3, 'tv', 'tv', false, $4, $4, $4, 30, $5)",
                    uuid.uuid4(), kid, title, when, when.date())
                await conn.execute(
                    "INSERT INTO daily_balances (profile_id, reset_date, used_seconds, "
                    "updated_at) VALUES ($1, $2, 30, $3)", kid, when.date(), when)
        finally:
            await conn.close()

    asyncio.run(seed())
    result = subprocess.run(
        [sys.executable, "-m", "app", "sweep"], cwd=ROOT, capture_output=True, text=True,
        timeout=60, env={"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url,
                         "JWT_SECRET": JWT_SECRET})
    assert result.returncode == 0, result.stderr
    assert "purged history older than 400 days: 1 sessions, 1 daily balances, 0 grants" \
        in result.stdout, result.stdout
    asyncio.run(assert_balanced(database_url))


# --- erasure ----------------------------------------------------------------------------------

async def _counts(conn: asyncpg.Connection, kid: str) -> dict[str, int]:
    tables = (*HISTORY_TABLES, "viewing_time_configs", "profiles")
    return {t: await conn.fetchval(
        f"SELECT count(*) FROM {t} WHERE {'id' if t == 'profiles' else 'profile_id'} = $1",
        uuid.UUID(kid)) for t in tables}


async def test_deleting_a_profile_is_all_or_nothing(database_url, clock):
    """A profile deletion that cannot finish (a balance row is locked past the statement
    timeout) erases nothing at all; once it can, it erases everything, in one transaction."""
    await truncate_all(database_url)
    async with running_app(database_url, clock, db_statement_timeout_seconds=0.5) as running:
        parent = await api.signed_up(running.client, "erase@example.com")
        titles = await api.seed_titles(running.container)
        kid = await parent.child()
        await _watch(parent, clock, kid, titles.cartoon, at=NOW, minutes=2, granted=True)
        await set_pin(parent, "8531")
        await grant(parent, kid, minutes=30, pin="8531")
        assert (await put_config(parent, kid, weekday_limit_minutes=60)).status_code == 200

        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            everything = await _counts(conn, kid)
            assert all(everything.values()), everything
            locker = await asyncpg.connect(asyncpg_dsn(database_url))
            await locker.execute("BEGIN")
            await locker.execute("SELECT 1 FROM daily_balances WHERE profile_id = $1 FOR UPDATE",
                                 uuid.UUID(kid))
            r = await running.client.delete(f"{API}/profiles/{kid}", headers=parent.headers)
            await locker.execute("ROLLBACK")
            await locker.close()
            assert r.status_code == 503 and isinstance(r.json()["detail"], str), r.text
            assert await _counts(conn, kid) == everything  # nothing half-erased

            r = await running.client.delete(f"{API}/profiles/{kid}", headers=parent.headers)
            assert r.status_code == 204
            assert await _counts(conn, kid) == dict.fromkeys(everything, 0)
        finally:
            await conn.close()
        r = await parent.beat(kid, titles.cartoon)
        assert r.status_code == 404


# --- secrets and logs -------------------------------------------------------------------------

def test_no_password_pin_or_token_reaches_the_logs(database_url):
    """A whole session of a parent and a player against `python -m app serve` at DEBUG, with
    failures of every kind; then every line the process wrote is searched for the secrets."""
    asyncio.run(truncate_all(database_url))
    password, wrong_password, reset_password = (f"pw-{secrets.token_hex(8)}" for _ in range(3))
    pins = {"first": "8531", "wrong": "2864", "changed": "9642", "reset": "7319"}
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0." + secrets.token_urlsafe(20)
    server = ServedApp(database_url=database_url, LOG_LEVEL="DEBUG").start()
    seen_tokens: list[str] = [forged]
    try:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            email = "secret-keeper@example.com"
            assert c.post(f"{API}/auth/register",
                          json={"email": email, "password": password}).status_code == 201
            assert c.post(f"{API}/auth/login",
                          json={"email": email, "password": wrong_password}).status_code == 401
            token = c.post(f"{API}/auth/login",
                           json={"email": email, "password": password}).json()["access_token"]
            seen_tokens.append(token)
            h = {"Authorization": f"Bearer {token}"}
            assert c.get(f"{API}/me", headers={"Authorization": f"Bearer {forged}"}
                         ).status_code == 401
            kid = c.post(f"{API}/profiles", headers=h,
                         json={"name": "Kid", "is_kids": True}).json()["id"]
            title = str(uuid.uuid4())
            asyncio.run(_add_title(database_url, title))
            beat = c.post(f"{API}/viewing-time/heartbeat", headers=h,
                          json={"profile_id": kid, "title_id": title, "device_id": "tv"})
            assert beat.status_code == 200
            pc = f"{API}/parental-controls"
            assert c.post(f"{pc}/pin", headers=h, json={"new_pin": pins["first"]}
                          ).status_code == 200
            assert c.post(f"{pc}/pin/verify", headers=h, json={"pin": pins["wrong"]}
                          ).status_code == 403
            pin_token = c.post(f"{pc}/pin/verify", headers=h, json={"pin": pins["first"]}
                               ).json()["pin_token"]
            seen_tokens.append(pin_token)
            assert c.put(f"{pc}/profiles/{kid}/viewing-time", headers=h,
                         json={"reset_hour": 7, "pin_token": pin_token}).status_code == 200
            assert c.put(f"{pc}/profiles/{kid}/viewing-time", headers=h,
                         json={"reset_hour": 8, "pin_token": pin_token + "x"}
                         ).status_code == 403
            assert c.post(f"{pc}/profiles/{kid}/viewing-time/grant", headers=h,
                          json={"minutes": 15, "pin": pins["first"]}).status_code == 200
            assert c.post(f"{pc}/profiles/{kid}/viewing-time/grant", headers=h,
                          json={"minutes": 15, "pin": pins["wrong"]}).status_code == 403
            assert c.post(f"{pc}/pin", headers=h, json={
                "new_pin": pins["changed"], "current_pin": pins["first"]}).status_code == 200
            assert c.post(f"{pc}/pin/reset", headers=h, json={
                "password": reset_password, "new_pin": pins["reset"]}).status_code == 401
            assert c.post(f"{pc}/pin/reset", headers=h, json={
                "password": password, "new_pin": pins["reset"]}).status_code == 200
            # Bodies that fail validation or parsing, carrying secrets.
            assert c.post(f"{API}/auth/register", json={
                "email": "x@example.com", "password": password * 10}).status_code == 422
            assert c.post(f"{pc}/pin", headers=h, json={"new_pin": int(pins["changed"])}
                          ).status_code == 422
            assert c.post(f"{API}/auth/login", content=f'{{"password": "{password}"',
                          headers={"Content-Type": "application/json"}).status_code == 400
            assert c.post(f"{API}/auth/login", content=password,
                          headers={"Content-Type": "text/plain"}).status_code == 422
            assert c.get(f"{API}/me", headers={"Authorization": token}).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
    logs = server.output()
    server.close()
    assert '"route":"/api/v1/parental-controls/pin/verify"' in logs.replace(" ", "")  # captured
    leaks = [s for s in (password, wrong_password, reset_password, JWT_SECRET, *seen_tokens)
             if s in logs]
    leaks += [name for name, pin in pins.items()
              if re.search(rf"(?<![0-9a-fA-F]){pin}(?![0-9a-fA-F])", logs)]
    leaks += ["a bcrypt hash"] if "$2b$" in logs else []
    assert not leaks, f"secrets in the logs: {leaks}"


async def _add_title(database_url: str, title: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("INSERT INTO titles VALUES ($1, 'Cartoon', false)", uuid.UUID(title))
    finally:
        await conn.close()
