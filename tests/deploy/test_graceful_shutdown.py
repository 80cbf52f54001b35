"""SIGTERM while a heartbeat is in flight: readiness turns 503, the listener closes, the heartbeat
still completes with 200, the pools are closed and the process exits 0.

The heartbeat is held in flight by a row lock on its session taken from another connection, so
the test controls exactly when it can finish instead of racing a millisecond-long request.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import httpx

from app.database import asyncpg_dsn
from tests.support.served import ServedApp, child_profile, signed_up_headers
from tests.support.api import API

DRAIN_SECONDS = 4.0


async def _add_title(database_url: str) -> str:
    title_id = uuid.uuid4()
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("INSERT INTO titles (id, title, is_educational) VALUES ($1, $2, false)",
                           title_id, "Cartoon")
    finally:
        await conn.close()
    return str(title_id)


async def _lock_session(database_url: str, session_id: str) -> asyncpg.Connection:
    """Hold the session's row lock in an open transaction: the next heartbeat waits for it."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    await conn.execute("BEGIN")
    await conn.execute("SELECT 1 FROM viewing_sessions WHERE id = $1 FOR UPDATE",
                       uuid.UUID(session_id))
    return conn


async def _waiting_on_lock(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE '%viewing_sessions%'"))


def _until(condition, *, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _readyz(url: str) -> int | None:
    """The status of a fresh connection's /readyz; None once connections are refused."""
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code
    except httpx.TransportError:
        return None


def test_sigterm_lets_an_in_flight_heartbeat_finish(deploy_database_url: str) -> None:
    run = asyncio.new_event_loop()
    sender = ThreadPoolExecutor(1)
    server = ServedApp(database_url=deploy_database_url,
                       SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS),
                       DB_STATEMENT_TIMEOUT_SECONDS="30").start()
    try:
        title_id = run.run_until_complete(_add_title(deploy_database_url))
        with httpx.Client(base_url=server.url, timeout=30) as client:
            headers = signed_up_headers(client)
            profile_id = child_profile(client, headers)
            body = {"profile_id": profile_id, "title_id": title_id, "device_id": "tv-1"}
            first = client.post(f"{API}/viewing-time/heartbeat", headers=headers, json=body)
            assert first.status_code == 200, first.text
            session_id = first.json()["session_id"]

        lock = run.run_until_complete(_lock_session(deploy_database_url, session_id))
        try:
            # Its own connection: shutdown closes idle keep-alive connections, not this one.
            in_flight = sender.submit(
                httpx.post, f"{server.url}{API}/viewing-time/heartbeat", headers=headers,
                json={**body, "session_id": session_id}, timeout=30)
            _until(lambda: run.run_until_complete(_waiting_on_lock(lock)), timeout=10,
                   what="the heartbeat to reach the database")

            started = time.monotonic()
            server.terminate()
            _until(lambda: _readyz(server.url) == 503, timeout=DRAIN_SECONDS - 1,
                   what="/readyz to answer 503 while draining")
            _until(lambda: _readyz(server.url) is None, timeout=DRAIN_SECONDS + 5,
                   what="the listener to close after the drain")
            assert time.monotonic() - started >= DRAIN_SECONDS * 0.9
            assert not in_flight.done(), "the heartbeat finished before the lock was released"
            assert server.process is not None and server.process.poll() is None
        finally:
            run.run_until_complete(lock.execute("ROLLBACK"))
            run.run_until_complete(lock.close())

        response = in_flight.result(timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["session_id"] == session_id
        assert server.wait(timeout=30) == 0
        log = server.output()
        # The lifespan shutdown ran after the request: that is where the pools are closed.
        assert "Application shutdown complete" in log, log
        assert "Traceback" not in log, log
    finally:
        server.close()
        sender.shutdown(wait=False, cancel_futures=True)
        run.close()
