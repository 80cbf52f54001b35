"""uvicorn's httptools protocol with a cap on the request head (request line and headers).

Why: uvicorn bounds the head only with its h11 parser (`h11_max_incomplete_event_size`); the
default httptools parser buffers whatever arrives, and one 20 MB header or 20,000 headers were
answered 200 (tests/hardening/test_served_limits.py). The ingress usually caps heads too; this
keeps a client that reaches a pod directly from parking megabytes per connection. A head over
MAX_HEAD_BYTES gets `431` with a JSON `detail` and the connection is closed. Bodies are capped
by app.middleware.BodySizeLimit.
"""

from __future__ import annotations

from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 32 * 1024  # a bearer token is < 1 KiB; nginx's default buffers are 4 × 8 KiB

_BODY = orjson.dumps({"detail": f"Request headers exceed {MAX_HEAD_BYTES // 1024} KiB"})
REFUSAL = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
           b"content-type: application/json\r\n"
           b"x-content-type-options: nosniff\r\n"
           b"content-length: " + str(len(_BODY)).encode() + b"\r\n"
           b"connection: close\r\n\r\n" + _BODY)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Counts the bytes that arrive while a request head is still open, and checks the parsed
    head exactly once it is complete; either way over the cap answers 431 and closes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._refuse()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEAD_BYTES:
            self._refuse()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def _refuse(self) -> None:
        self._refused = True
        self.logger.warning("request head over %d bytes refused", MAX_HEAD_BYTES)
        if not self.transport.is_closing():
            self.transport.write(REFUSAL)
            self.transport.close()
