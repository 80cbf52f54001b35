"""The load generator's HTTP/1.1 client: requests encoded byte for byte, responses read by
Content-Length, chunked or to the end, from in-memory streams (no socket)."""

from __future__ import annotations

import asyncio

import pytest

from app.loadtest.rawhttp import Connection, HttpError, Target

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("url, tls, host, port, prefix, authority", [
    ("http://localhost:8000", False, "localhost", 8000, "", "localhost:8000"),
    ("https://vts.example/", True, "vts.example", 443, "", "vts.example"),
    ("http://vts.example/base/", False, "vts.example", 80, "/base", "vts.example"),
    ("http://user:pw@10.0.0.5:9000/x", False, "10.0.0.5", 9000, "/x", "10.0.0.5:9000"),
])
async def test_a_target_is_parsed_from_its_url(url, tls, host, port, prefix, authority):
    t = Target(url)
    assert (t.tls, t.host, t.port, t.prefix, t.authority) == (tls, host, port, prefix, authority)


@pytest.mark.parametrize("url", ["ftp://vts.example", "vts.example:8000", "http://"])
async def test_only_http_urls_with_a_host_are_targets(url):
    with pytest.raises(ValueError, match="not an http"):
        Target(url)


HEAD = b"Connection: keep-alive\r\nUser-Agent: viewing-time-service-loadtest\r\n"


async def test_a_get_has_no_body_and_no_length():
    raw = Target("http://h:1/base").encode("GET", "/api/v1/x")
    assert raw == b"GET /base/api/v1/x HTTP/1.1\r\nHost: h:1\r\n" + HEAD + b"\r\n"


async def test_a_post_without_a_body_says_its_length_is_zero():
    raw = Target("http://h").encode("POST", "/p", token="tok")
    assert raw == (b"POST /p HTTP/1.1\r\nHost: h\r\n" + HEAD
                   + b"Authorization: Bearer tok\r\nContent-Length: 0\r\n\r\n")


async def test_a_json_body_is_sent_with_its_exact_length():
    raw = Target("http://h").encode("PUT", "/p", body={"name": "Zoë"})
    payload = '{"name":"Zoë"}'.encode()
    assert raw == (b"PUT /p HTTP/1.1\r\nHost: h\r\n" + HEAD
                   + b"Content-Type: application/json\r\nContent-Length: "
                   + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    assert len(payload) == 15  # bytes, not characters


def reader(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    r = asyncio.StreamReader()
    r.feed_data(data)
    if eof:
        r.feed_eof()
    return r


class Closing(Connection):
    """A Connection whose close() is observable."""

    def __init__(self) -> None:
        super().__init__(Target("http://h"))
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


async def test_a_response_is_read_by_content_length_and_the_connection_kept():
    conn = Closing()
    r = reader(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
               b"HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\nabc")
    assert await conn._response(r) == (200, b"{}")
    assert await conn._response(r) == (404, b"abc")  # the next response starts right after
    assert conn.closed == 0


async def test_a_chunked_response_is_joined_and_chunk_extensions_ignored():
    r = reader(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4\r\nWiki\r\n5;name=value\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n"
               b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    conn = Closing()
    assert await conn._response(r) == (200, b"Wikipedia in\r\n\r\nchunks.")
    assert await conn._response(r) == (204, b"")


async def test_without_a_length_the_body_runs_to_the_end_and_the_connection_closes():
    conn = Closing()
    r = reader(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
    assert await conn._response(r) == (200, b"all of it")
    assert conn.closed == 1


async def test_connection_close_closes_after_the_body():
    conn = Closing()
    r = reader(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
               b"Content-Length: 4\r\n\r\ndown")
    assert await conn._response(r) == (503, b"down")
    assert conn.closed == 1


@pytest.mark.parametrize("status_line", [b"SPDY/3 200 OK", b"garbage", b"ICY 200 OK"])
async def test_a_bad_status_line_is_a_protocol_error(status_line):
    with pytest.raises(HttpError, match="bad status line"):
        await Closing()._response(reader(status_line + b"\r\nContent-Length: 0\r\n\r\n"))


async def test_a_body_cut_short_raises():
    with pytest.raises(asyncio.IncompleteReadError):
        await Closing()._response(reader(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))


class Scripted(Connection):
    """Each `_open` connects to the next scripted server reply; writes are recorded."""

    def __init__(self, replies: list[bytes]) -> None:
        super().__init__(Target("http://h"))
        self.replies = replies
        self.opened = 0
        self.written: list[bytes] = []

    async def _open(self) -> None:
        self.opened += 1
        if not self.replies:
            raise ConnectionRefusedError("no server")
        written = self.written

        class Writer:
            def write(self, data: bytes) -> None:
                written.append(data)

            def close(self) -> None:
                pass

        self._reader, self._writer = reader(self.replies.pop(0)), Writer()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_a_kept_alive_connection_closed_by_the_server_is_reopened_once():
    conn = Scripted([OK, OK])
    assert await conn.request(b"req1") == (200, b"ok")
    # The first server stream is at EOF now: the next request finds it closed and reconnects.
    assert await conn.request(b"req2") == (200, b"ok")
    assert (conn.opened, conn.written) == (2, [b"req1", b"req2", b"req2"])


async def test_a_fresh_connection_that_fails_is_not_retried():
    conn = Scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"])
    with pytest.raises(HttpError, match="IncompleteReadError"):
        await conn.request(b"req")
    assert conn.opened == 1


async def test_a_refused_connection_is_an_http_error():
    with pytest.raises(HttpError, match="ConnectionRefusedError: no server"):
        await Scripted([]).request(b"req")
