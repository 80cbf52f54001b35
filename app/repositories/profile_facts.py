"""What the config cache holds for a profile, loaded in one query; and the change channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import asyncpg
import orjson

from app import dburl
from app.database import CONNECT_ERRORS, HotPool, connect
from app.domain.profile import ProfileFacts
from app.domain.schedules import stored_schedule
from app.domain.viewing_day import LimitConfig
from app.repositories.named_sql import bind

CONFIG_CHANNEL = "viewing_time_config_changed"
# What PostgreSQL (14 and later) reports, unasked, when a session's server turns read-only (a
# primary fenced with default_transaction_read_only) or is a standby: not where changes happen.
READ_ONLY_REPORTS = ("default_transaction_read_only", "in_hot_standby")
log = logging.getLogger(__name__)

class LoadFacts(NamedTuple):
    profile_id: uuid.UUID


LOAD_FACTS = bind("""
SELECT p.id, p.account_id, p.name, p.is_kids,
       c.weekday_limit_minutes, c.weekend_limit_minutes, c.reset_hour, c.educational_exempt,
       c.timezone, c.previous_reset_hour, c.previous_timezone, c.effective_from, c.locked_at,
       c.locked_until, c.day_limits, c.allowed_hours
FROM profiles p
LEFT JOIN viewing_time_configs c ON c.profile_id = p.id
WHERE p.id = :profile_id
""", LoadFacts)


def _json(text: str | None) -> Any:
    """asyncpg hands JSONB over as its text."""
    return None if text is None else orjson.loads(text)


class ProfileFactsRepository:
    def __init__(self, pool: HotPool) -> None:
        self._pool = pool

    async def load(self, profile_id: uuid.UUID) -> ProfileFacts | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(LOAD_FACTS, *LoadFacts(profile_id))
        if row is None:
            return None
        limits = None
        if row["is_kids"]:
            if row["reset_hour"] is None:
                raise LookupError(f"child profile {profile_id} has no viewing-time config")
            limits = LimitConfig.stored(
                weekday_limit_minutes=row["weekday_limit_minutes"],
                weekend_limit_minutes=row["weekend_limit_minutes"],
                educational_exempt=row["educational_exempt"], timezone=row["timezone"],
                reset_hour=row["reset_hour"], previous_timezone=row["previous_timezone"],
                previous_reset_hour=row["previous_reset_hour"],
                effective_from=row["effective_from"], locked_at=row["locked_at"],
                locked_until=row["locked_until"],
                schedule=stored_schedule(_json(row["day_limits"]), _json(row["allowed_hours"])))
        return ProfileFacts(profile_id=row["id"], account_id=row["account_id"], name=row["name"],
                            is_kids=row["is_kids"], limits=limits)

    async def publish_change(self, profile_id: uuid.UUID) -> None:
        """Tell every replica (including this one) to drop the profile's cached facts."""
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_notify($1, $2)", CONFIG_CHANNEL, str(profile_id))


class ConfigChangeListener:
    """LISTENs on the change channel on a connection of its own and invalidates the local
    cache for each notification; reconnects (and drops the whole cache, since notifications
    may have been missed) after the connection is lost."""

    def __init__(self, dsn: str, *, on_change: Callable[[uuid.UUID], None],
                 on_reconnect: Callable[[], None], retry_seconds: float,
                 host_timeout: float = dburl.HOST_TIMEOUT_SECONDS,
                 ping_seconds: float = 30) -> None:
        self._dsn = dsn
        self._host_timeout = host_timeout
        self._ping_seconds = ping_seconds
        self._on_change = on_change
        self._on_reconnect = on_reconnect
        self._retry = retry_seconds
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _notified(self, conn: object, pid: int, channel: str, payload: object, /) -> None:
        with contextlib.suppress(ValueError):
            self._on_change(uuid.UUID(str(payload)))

    async def _until_lost(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """A ping now and then detects a silently dead link, and a server that has turned
        read-only: a fenced or demoted primary, on which no replica NOTIFYs any more (nor
        does a standby ever pass a notification on), so the session must move to the primary.
        The read-only check costs no round trip: the server reports those settings itself."""
        while not lost.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=self._ping_seconds)
            if lost.is_set():
                return
            await conn.execute("SELECT 1", timeout=5)  # one simple query, one round trip
            reported = conn.get_settings()  # ParameterStatus, updated by the server itself
            if any(getattr(reported, name, "off") == "on" for name in READ_ONLY_REPORTS):
                log.warning("the LISTEN session's server is read-only: reconnecting")
                return

    async def _run(self) -> None:
        first = True
        while True:
            try:
                conn = await connect(self._dsn, timeout=5, host_timeout=self._host_timeout)
            except CONNECT_ERRORS:  # down, or (several hosts) none of them the primary yet
                await asyncio.sleep(self._retry)
                continue
            try:
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CONFIG_CHANNEL, self._notified)
                if not first:
                    self._on_reconnect()
                first = False
                self.listening.set()
                await self._until_lost(conn, lost)
            except (*CONNECT_ERRORS, asyncpg.InterfaceError):
                pass
            finally:
                self.listening.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), timeout=2)
            await asyncio.sleep(self._retry)
