"""A TCP proxy in front of PostgreSQL that counts round trips on the wire.

Each frontend `Sync` ('S'), `Flush` ('H', asyncpg's prepare) or simple `Query` ('Q') message
ends one request the client waits on, so their count is the number of round trips, whatever the driver does above the socket
(BEGIN/COMMIT, pool resets, pre-pings and statement preparation all show up). The proxy can also
be cut (`down()`) to play an unreachable database and restored (`up()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit, urlunsplit

from app import dburl

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104


class RoundTripProxy:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream_url = parts
        query = parse_qs(parts.query)
        self._socket_dir = query.get("host", [None])[0]
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 5432
        self._server: asyncio.base_events.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.round_trips = 0
        self.port = 0

    @property
    def url(self) -> str:
        """The upstream URL, pointed at the proxy (TCP on 127.0.0.1; TLS requests get "no")."""
        p = self._upstream_url
        user = p.username or "postgres"
        netloc = f"{user}@127.0.0.1:{self.port}"
        return urlunsplit((p.scheme, netloc, p.path, "", ""))

    async def _connect_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._socket_dir:
            return await asyncio.open_unix_connection(f"{self._socket_dir}/.s.PGSQL.{self._port}")
        return await asyncio.open_connection(self._host, self._port)

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Refuse new connections and cut every open one, like a stopped server."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await self._connect_upstream()
        except OSError:
            client_w.transport.abort()
            return
        self._links.update({client_w, server_w})
        await asyncio.gather(self._client_to_server(client_r, server_w, client_w),
                             self._pipe(server_r, client_w), return_exceptions=True)
        for w in (client_w, server_w):
            self._links.discard(w)
            w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.transport.abort()

    async def _client_to_server(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                                client_w: asyncio.StreamWriter) -> None:
        # Untyped start-up packets first (SSL/GSS requests are answered "no" here).
        while True:
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            body = await reader.readexactly(length - 4)
            code = struct.unpack("!I", body[:4])[0]
            if code in (SSL_REQUEST, GSS_REQUEST):
                client_w.write(b"N")
                await client_w.drain()
                continue
            writer.write(struct.pack("!I", length) + body)
            await writer.drain()
            break
        while True:
            header = await reader.readexactly(5)
            kind, length = header[:1], struct.unpack("!I", header[1:])[0]
            body = await reader.readexactly(length - 4)
            if kind in (b"S", b"H", b"Q"):
                self.round_trips += 1
            writer.write(header + body)
            await writer.drain()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.down()


@contextlib.asynccontextmanager
async def tcp_front(url: str) -> AsyncIterator[str]:
    """`url` reachable at a TCP host:port, so that a URL can list it beside other hosts: as it is
    when it names one, else through a proxy in front of its unix socket (the embedded server,
    which `make test` uses without DATABASE_URL, listens on no TCP address)."""
    if dburl.parse(url).hosts:
        yield url
        return
    proxy = RoundTripProxy(url)
    await proxy.up()
    try:
        yield proxy.url
    finally:
        await proxy.close()
