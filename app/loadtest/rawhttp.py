"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for `loadtest`.

Just enough HTTP for a JSON API: requests are pre-encoded bytes, responses are read by
Content-Length (or chunked), one request at a time per connection. It exists because a load
generator must cost much less CPU per request than the server it measures; a general-purpose
client (httpx) spends several times more per request than this does.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

import orjson


class HttpError(Exception):
    """The connection failed or the server broke the protocol."""


class Target:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        self.authority = parts.netloc.rpartition("@")[2]

    def encode(self, method: str, path: str, *, token: str | None = None,
               body: object | None = None) -> bytes:
        """One request, ready to write (the API's JSON body, bearer token)."""
        payload = b"" if body is None else orjson.dumps(body)
        head = [f"{method} {self.prefix}{path} HTTP/1.1", f"Host: {self.authority}",
                "Connection: keep-alive", "User-Agent: viewing-time-service-loadtest"]
        if token:
            head.append(f"Authorization: Bearer {token}")
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        elif method in ("POST", "PUT"):
            head.append("Content-Length: 0")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


class Connection:
    def __init__(self, target: Target) -> None:
        self._target = target
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        t = self._target
        context = ssl.create_default_context() if t.tls else None
        self._reader, self._writer = await asyncio.open_connection(t.host, t.port, ssl=context)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """(status, body); reconnects once if a kept-alive connection was closed under it."""
        for attempt in (1, 2):
            fresh = self._writer is None
            try:
                if fresh:
                    await self._open()
                assert self._writer is not None and self._reader is not None
                self._writer.write(raw)
                return await self._response(self._reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    HttpError) as exc:
                self.close()
                if fresh or attempt == 2:
                    raise HttpError(f"{type(exc).__name__}: {exc}") from None
        raise AssertionError("unreachable")

    async def _response(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"bad status line {status_line[:80]!r}")
        status = int(parts[1])
        length, chunked, close = None, False, False
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            body = await self._chunks(reader)
        elif length is not None:
            body = await reader.readexactly(length)
        else:
            body = await reader.read()
            close = True
        if close:
            self.close()
        return status, body

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return bytes(body)
            body += await reader.readexactly(size)
            await reader.readexactly(2)
