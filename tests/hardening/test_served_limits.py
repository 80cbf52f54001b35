"""What a client meets on the wire: `python -m app serve` in a child process, raw sockets.

Headers of every kind of answer (no server banner, nosniff), request heads over 32 KiB refused
with 431 by app.http_protocol (uvicorn's httptools parser accepted a 20 MB header before),
bodies over 64 KiB refused with 413 however they are sent, and clients that hang up mid-request
leave the books balanced.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from app.database import asyncpg_dsn
from tests.support.served import ServedApp, child_profile, signed_up_headers
from tests.hardening.ledger import assert_balanced
from tests.support.api import API
from tests.support.db import truncate_all


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[ServedApp]:
    asyncio.run(truncate_all(database_url))
    served = ServedApp(database_url=database_url).start()
    try:
        yield served
    finally:
        served.terminate()
        served.wait(timeout=30)
        served.close()


def _raw(server: ServedApp, request: bytes) -> bytes:
    """Send bytes, read until the server closes or a whole response arrived."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while we were still sending: whatever it answered is below
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
                head, _, body = answer.partition(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
        except (ConnectionResetError, TimeoutError):
            pass
        return answer


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def _headers(answer: bytes) -> dict[str, str]:
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head)}


def _get(path: str, *extra: bytes) -> bytes:
    return b"\r\n".join([f"GET {path} HTTP/1.1".encode(), b"Host: localhost", *extra,
                         b"Connection: close", b"", b""])


def test_every_kind_of_answer_has_the_security_headers_and_no_banner(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        headers = signed_up_headers(c)
        answers = {
            "200": c.get("/healthz"),
            "401": c.get(f"{API}/me"),
            "404": c.get("/nowhere"),
            "405": c.delete("/healthz"),
            "413": c.post(f"{API}/auth/login", content=b"x" * 70_000,
                          headers={"Content-Type": "application/json"}),
            "422": c.get(f"{API}/viewing-time/balance/not-a-uuid", headers=headers),
            "400": c.post(f"{API}/auth/login", content=b"{",
                          headers={"Content-Type": "application/json"}),
        }
    for status, r in answers.items():
        assert str(r.status_code) == status, (status, r.text)
        assert "server" not in r.headers, (status, r.headers)
        assert r.headers["x-content-type-options"] == "nosniff", status
        assert r.headers["x-frame-options"] == "DENY", status
        assert r.headers["cache-control"] == "no-store", status
        assert r.headers["content-type"] == "application/json", status
        if status != "200":
            assert isinstance(r.json()["detail"], str), status


@pytest.mark.parametrize("name, request_bytes", [
    ("one 40 KiB header", _get("/healthz", b"X-Big: " + b"a" * 40_000)),
    ("one 20 MB header", _get("/healthz", b"X-Big: " + b"a" * 20_000_000)),
    ("20,000 small headers", _get("/healthz", *(b"X-H%d: v" % i for i in range(20_000)))),
    ("a 1 MB URL", _get("/healthz?" + "q" * 1_000_000)),
    ("a 40 KiB bearer token", _get("/api/v1/me", b"Authorization: Bearer " + b"e" * 40_000)),
])
def test_oversized_request_heads_are_refused(server, name, request_bytes):
    answer = _raw(server, request_bytes)
    if answer:  # else the connection was reset while we were still sending: refused too
        assert _status(answer) == 431, (name, answer[:200])
        assert _headers(answer)["x-content-type-options"] == "nosniff"
        body = json.loads(answer.partition(b"\r\n\r\n")[2])
        assert body == {"detail": "Request headers exceed 32 KiB"}
    # The server is unharmed and still serves normal heads, including a 30 KiB one.
    assert _status(_raw(server, _get("/healthz"))) == 200
    assert _status(_raw(server, _get("/healthz", b"X-Fine: " + b"a" * 30_000))) == 200


def test_oversized_bodies_are_refused_however_they_are_sent(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        headers = {**signed_up_headers(c), "Content-Type": "application/json"}

        def chunks():  # no Content-Length: the limit is counted while streaming
            for _ in range(20):
                yield b" " * 8192

        for content in (b" " * 70_000, chunks()):
            r = c.post(f"{API}/viewing-time/heartbeat", content=content, headers=headers)
            assert r.status_code == 413 and r.json()["detail"] == "Request body exceeds 64 KiB"
    lying = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 99999999999\r\nConnection: close\r\n\r\n{}")
    assert _status(_raw(server, lying)) == 413


def test_clients_hanging_up_mid_request_leave_the_books_balanced(server, database_url):
    """Heartbeats whose clients close the socket at random points: before the body is
    complete (never handled), right after sending (handled to the end, answer lost)."""
    with httpx.Client(base_url=server.url, timeout=10) as c:
        headers = signed_up_headers(c)
        kids = [child_profile(c, headers) for _ in range(3)]
        title = str(uuid.uuid4())
        asyncio.run(_add_title(database_url, title))
        sessions = {}
        for kid in kids:
            r = c.post(f"{API}/viewing-time/heartbeat", headers=headers,
                       json={"profile_id": kid, "title_id": title, "device_id": "tv"})
            sessions[kid] = r.json()["session_id"]
        rng = random.Random(11)
        for i in range(60):
            kid = rng.choice(kids)
            body = {"profile_id": kid, "title_id": title, "device_id": f"dev-{i % 4}"}
            if rng.random() < 0.7:
                body["session_id"] = sessions[kid]
            payload = json.dumps(body).encode()
            request = (f"POST {API}/viewing-time/heartbeat HTTP/1.1\r\nHost: x\r\n"
                       f"Authorization: {headers['Authorization']}\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                       f"\r\n").encode() + payload
            cut = rng.choice([len(request) - len(payload) // 2, len(request)])
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                s.sendall(request[:cut])
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        assert c.get("/readyz").status_code == 200  # served everything it could
        for kid in kids:  # and still serves them
            r = c.post(f"{API}/viewing-time/heartbeat", headers=headers,
                       json={"profile_id": kid, "title_id": title, "device_id": "tv"})
            assert r.status_code == 200, r.text
    asyncio.run(assert_balanced(database_url))
    # A hang-up is the client's doing: no 500, no traceback (each was one before). Log lines
    # below WARNING reach the file within half a second (app/logs.py buffers them).
    for _ in range(30):
        logs = server.output()
        if "client disconnected before sending its body" in logs:
            break
        time.sleep(0.1)
    assert "client disconnected before sending its body" in logs
    assert "Traceback" not in logs and '"status":500' not in logs.replace(" ", "")


async def _add_title(database_url: str, title: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("INSERT INTO titles VALUES ($1, 'Cartoon', false)", uuid.UUID(title))
    finally:
        await conn.close()


@pytest.mark.parametrize("trusted", [True, False], ids=["behind-trusted-proxy", "direct"])
def test_the_throttle_counts_the_client_a_trusted_proxy_names(database_url, trusted):
    """Behind the ingress (FORWARDED_ALLOW_IPS names it) the throttle counts the address in
    X-Forwarded-For; from anyone else that header is ignored, so a client cannot dodge the
    per-address count by inventing addresses."""
    server = ServedApp(database_url=database_url,
                          FORWARDED_ALLOW_IPS="127.0.0.1" if trusted else "192.0.2.254").start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            def login(forwarded_for: str) -> int:
                return c.post(f"{API}/auth/login", headers={"X-Forwarded-For": forwarded_for},
                              json={"email": f"{uuid.uuid4().hex[:8]}@example.com",
                                    "password": "guess"}).status_code

            assert [login("203.0.113.5") for _ in range(10)] == [401] * 10
            assert login("203.0.113.5") == 429
            # Another client behind the proxy is its own address; direct, it is the same socket.
            assert login("203.0.113.6") == (401 if trusted else 429)
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.close()
