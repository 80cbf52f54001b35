"""A real HTTP receiver on 127.0.0.1 for webhook deliveries: it records every request and
answers with the next status queued (else `status`), optionally holding each request until
`release()`. Plain asyncio, one request per connection (the worker keeps none alive)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Receiver:
    port: int = 0
    status: int = 200
    queued: list[int] = field(default_factory=list)  # answered first, in order
    location: str | None = None  # sent with 3xx answers
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _held: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def hold(self) -> None:
        """Keep every request waiting (no answer) until release()."""
        self._held = asyncio.Event()

    def release(self) -> None:
        if self._held is not None:
            self._held.set()
        self._held = None

    async def until(self, count: int, *, within: float) -> None:
        """Wait until `count` requests have arrived (TimeoutError after `within` seconds)."""
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode().split()
            if len(request_line) < 2:  # a client that gave up before sending anything
                return
            headers: dict[str, str] = {}
            while (line := (await reader.readline()).decode()) not in ("\r\n", "\n", ""):
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(Received(request_line[0], request_line[1], headers, body))
            self.arrived.set()
            if self._held is not None:
                await self._held.wait()
            status = self.queued.pop(0) if self.queued else self.status
            extra = f"Location: {self.location}\r\n" if self.location else ""
            writer.write(f"HTTP/1.1 {status} Whatever\r\nContent-Length: 2\r\n{extra}"
                         "Connection: close\r\n\r\nok".encode())
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def receiving(**options: object) -> AsyncIterator[Receiver]:
    receiver = Receiver(**options)  # type: ignore[arg-type]
    server = await asyncio.start_server(receiver._handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        receiver.release()
        server.close()
        # Handlers still running (a cancelled delivery's) end with their connections.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await server.wait_closed()
