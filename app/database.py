"""Database plumbing: URL forms, the ORM engine, the raw asyncpg pool for the hot path."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app import dburl
from app.domain.errors import DatabaseUnavailable
from app.settings import Settings

log = logging.getLogger(__name__)
Prepare = Callable[[asyncpg.Connection], Coroutine[Any, Any, None]]
ROOT = Path(__file__).resolve().parent.parent


def _with_scheme(url: str, scheme: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme, *parts[1:]))


def sqlalchemy_url(url: str, attrs: str = dburl.PRIMARY_ATTRS) -> str:
    """postgresql://… → postgresql+asyncpg://… (the app picks its own driver); a list of hosts
    becomes the dialect's `?host=h1,h2&port=p1,p2`, with `target_session_attrs=attrs` unless
    the URL sets one (the engine then connects through `connect_each_host`)."""
    parsed = dburl.parse(url)
    if not parsed.multi_host:
        return _with_scheme(url, "postgresql+asyncpg")
    return parsed.with_default_attrs(attrs).sqlalchemy()


def asyncpg_dsn(url: str, attrs: str = dburl.PRIMARY_ATTRS) -> str:
    """The libpq form asyncpg reads, hosts and all; `target_session_attrs=attrs` added when
    the URL names several hosts and sets none (a single host is used whatever its role)."""
    parsed = dburl.parse(url)
    if not parsed.multi_host:
        return _with_scheme(url, "postgresql")
    return parsed.with_default_attrs(attrs).libpq()


async def connect(dsn: str, *, host_timeout: float, **kwargs: Any) -> asyncpg.Connection:
    """asyncpg.connect, except that with several hosts each one gets `host_timeout` of its own.

    asyncpg walks a host list under one timeout for the whole attempt, so a first host that
    takes the connection and then says nothing (a frozen machine, a half-dead proxy) would use
    it all and the standby behind it would never be tried. Here a host that does not answer in
    time, refuses, or is not what target_session_attrs asks for is skipped for the next."""
    hosts = dburl.parse(dsn).each_host()
    if len(hosts) == 1:  # one host (or a ?host= list, which asyncpg walks itself)
        return await asyncpg.connect(dsn, **kwargs)
    kwargs.pop("timeout", None)
    failure: BaseException | None = None
    for host in hosts:
        try:
            return await asyncpg.connect(host, timeout=host_timeout, **kwargs)
        except NEXT_HOST_ERRORS as exc:
            failure = exc
    assert failure is not None
    raise failure


def connect_each_host(engine: AsyncEngine, dsn: str, host_timeout: float) -> None:
    """Make `engine` open its connections with `connect` on `dsn` (the libpq form of the
    engine's own URL): SQLAlchemy would hand the host list to asyncpg whole. The options it
    passes besides the URL's parts (timeouts, statement cache) are kept."""
    if len(dburl.parse(dsn).each_host()) == 1:
        return

    def do_connect(dialect: object, record: object, cargs: object,
                   cparams: dict[str, Any]) -> None:
        options = {k: cparams[k] for k in DRIVER_OPTIONS if k in cparams}
        cparams["async_creator_fn"] = lambda *_a, **_k: connect(
            dsn, host_timeout=host_timeout, **options)

    event.listen(engine.sync_engine, "do_connect", do_connect)


# What the ORM engines pass to asyncpg.connect besides the URL (app.database._create_engine).
DRIVER_OPTIONS = ("command_timeout", "timeout", "statement_cache_size")


def _create_engine(url: str, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_acquire_timeout_seconds,
        # Off: a dead connection fails its request (503) and SQLAlchemy, seeing a disconnect,
        # invalidates it and every older one; the next checkout connects anew, trying each
        # host of the URL in turn, so after a failover it lands on the new primary.
        pool_pre_ping=False,
        connect_args={"command_timeout": settings.db_statement_timeout_seconds, "timeout": 5,
                      # both caches off (0) behind a transaction-mode pooler: deploy/README.md
                      "statement_cache_size": settings.db_statement_cache_size,
                      "prepared_statement_cache_size": settings.db_statement_cache_size},
    )


def _read_only_is_a_disconnect(context: ExceptionContext) -> None:
    """A write refused as read-only: the server is no longer the primary. Counted as a lost
    connection, so SQLAlchemy invalidates it and every older one in the pool, the request gets
    503, and the next checkout connects anew (to the new primary, given several hosts)."""
    if getattr(context.original_exception, "sqlstate", None) == READ_ONLY_SQLSTATE:
        log.warning("the database refused a write (read-only): reconnecting the ORM pool")
        context.is_disconnect = True


async def init_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """ORM engine for everything but the heartbeat; disposed on shutdown."""
    url = _require_url(settings)
    engine = _create_engine(sqlalchemy_url(url), settings)
    connect_each_host(engine, asyncpg_dsn(url), settings.db_host_timeout_seconds)
    event.listen(engine.sync_engine, "handle_error", _read_only_is_a_disconnect)
    try:
        yield engine
    finally:
        await engine.dispose()


async def init_read_engine(settings: Settings,
                           primary: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The engine for reads that may lag a second (history, reports, listings): a pool of its
    own on DATABASE_READ_URL (a standby, say), or the primary engine itself when that is unset
    (no second pool). Several hosts there default to `any`: see app.dburl.READ_ATTRS."""
    if not settings.database_read_url:
        yield primary
        return
    url = settings.database_read_url
    engine = _create_engine(sqlalchemy_url(url, dburl.READ_ATTRS), settings)
    connect_each_host(engine, asyncpg_dsn(url, dburl.READ_ATTRS), settings.db_host_timeout_seconds)
    try:
        yield engine
    finally:
        await engine.dispose()


def _require_url(settings: Settings) -> str:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set")
    return settings.database_url


async def _no_reset(connection: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release reset query: the hot path never leaves session state."""


# What the driver and the pool raise when the database, not the request, is the problem: no
# connection within the acquire timeout, a refused or cut connection, a statement timeout
# (client-side TimeoutError, or the server's query_canceled), an administrator's shutdown, and
# (with several hosts) none of them accepting writes: mid-failover, before a standby is promoted.
NO_SERVER_ERRORS = (asyncpg.exceptions.TargetServerAttributeNotMatched,)
# asyncpg's protocol left mid-operation: each pooled connection raised it once ("cannot switch to
# state 12; another operation is in progress") when its server was killed in the failover test.
BROKEN_PROTOCOL_ERRORS = (asyncpg.exceptions.InternalClientError,)
CONNECTION_ERRORS = (OSError, TimeoutError, asyncpg.PostgresConnectionError,
                     asyncpg.InterfaceError, asyncpg.exceptions.OperatorInterventionError,
                     *NO_SERVER_ERRORS, *BROKEN_PROTOCOL_ERRORS)
# The server took the connection but refuses writes on it: a primary fenced in place (ALTER
# SYSTEM SET default_transaction_read_only + reload) or a session that somehow reached a standby.
# Connecting anew (with target_session_attrs=read-write and several hosts) finds the primary.
READ_ONLY_SQLSTATE = asyncpg.exceptions.ReadOnlySQLTransactionError.sqlstate

# What makes `connect` try the next host: no answer in time, a refusal, a server not yet ready
# (starting up, shutting down), or one that is not what target_session_attrs asks for.
NEXT_HOST_ERRORS = (OSError, TimeoutError, asyncpg.CannotConnectNowError, *NO_SERVER_ERRORS)

# Opening a connection (the pool at start-up, the LISTEN session) fails with these while the
# database is down or still choosing a primary; the caller retries.
CONNECT_ERRORS = (TimeoutError, OSError, asyncpg.PostgresError, *NO_SERVER_ERRORS)


class _Acquired:
    """asyncpg's acquire context, with its connection errors raised as DatabaseUnavailable.

    Only here: an OSError or TimeoutError from anywhere else is a bug (500), not an outage.
    A plain class rather than @asynccontextmanager: it runs twice per heartbeat."""

    __slots__ = ("_inner", "_pool")

    def __init__(self, inner: asyncpg.pool.PoolAcquireContext, pool: asyncpg.Pool) -> None:
        self._inner = inner
        self._pool = pool

    async def __aenter__(self) -> asyncpg.pool.PoolConnectionProxy[asyncpg.Record]:
        try:
            return await self._inner.__aenter__()
        except CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable() from exc

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: object) -> None:
        if isinstance(exc, BROKEN_PROTOCOL_ERRORS) and self._inner.connection is not None:
            # Its protocol is stuck mid-operation: never hand it out again (release only drops
            # a connection that is already closed).
            log.warning("hot pool connection dropped: %r", exc)
            self._inner.connection.terminate()
        read_only = isinstance(exc, asyncpg.exceptions.ReadOnlySQLTransactionError)
        if read_only:
            # Every pooled connection may be on the same read-only server: replace them all
            # (this one as it is released, the others at their next acquire).
            log.warning("the database refused a write (read-only): reconnecting the hot pool")
            await self._pool.expire_connections()
        await self._inner.__aexit__(exc_type, exc, tb)
        if read_only or (exc is not None and isinstance(exc, CONNECTION_ERRORS)):
            raise DatabaseUnavailable() from exc


class HotPool:
    """The raw asyncpg pool the heartbeat uses; opened (and pre-warmed) in the background so
    the process answers /healthz while the database is down, and retried until it is up."""

    def __init__(self, settings: Settings, *, prepare: Prepare | None = None) -> None:
        self._settings = settings
        self._prepare = prepare
        self._pool: asyncpg.Pool | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        try:
            await self._open()
        except CONNECT_ERRORS as exc:
            log.warning("database unreachable at start-up, retrying: %s", exc)
            self._task = asyncio.create_task(self._retry())

    async def _open(self) -> None:
        s = self._settings
        self._pool = await asyncpg.create_pool(
            asyncpg_dsn(_require_url(s)),
            min_size=s.db_pool_size,  # pre-warmed: the first request opens no connection
            max_size=s.db_pool_size,
            command_timeout=s.db_statement_timeout_seconds,
            statement_cache_size=s.db_statement_cache_size,
            reset=_no_reset,
            init=self._prepare,
            timeout=5,
            connect=functools.partial(connect, host_timeout=s.db_host_timeout_seconds),
        )
        self.ready.set()

    async def _retry(self) -> None:
        while self._pool is None:
            await asyncio.sleep(self._settings.db_retry_interval_seconds)
            try:
                await self._open()
            except CONNECT_ERRORS as exc:
                log.debug("database still unreachable: %s", exc)

    def acquire(self) -> _Acquired:
        if self._pool is None:
            raise DatabaseUnavailable("database pool is not connected")
        return _Acquired(self._pool.acquire(timeout=self._settings.db_acquire_timeout_seconds),
                         self._pool)

    @property
    def pool(self) -> asyncpg.Pool | None:
        return self._pool

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._pool is not None:
            await asyncio.wait_for(self._pool.close(), timeout=10)


async def init_hot_pool(settings: Settings, *,
                        prepare: Prepare | None = None) -> AsyncIterator[HotPool]:
    hot = HotPool(settings, prepare=prepare)
    await hot.start()
    try:
        yield hot
    finally:
        await hot.close()
