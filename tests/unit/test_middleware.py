"""The pure ASGI middleware, driven by a tiny app and in-memory receive/send: the body size
limit (by Content-Length and while streaming) and the security headers."""

from __future__ import annotations

import orjson
import pytest

from app.middleware import SECURITY_HEADERS, BodySizeLimit, SecurityHeaders

pytestmark = pytest.mark.anyio

LIMIT = 1024


class Echo:
    """Reads the whole body, then answers 200 with the number of bytes it read."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope, receive, send) -> None:
        self.called = True
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": str(size).encode()})


def http_scope(path: str = "/api/v1/x", headers: list[tuple[bytes, bytes]] | None = None):
    return {"type": "http", "method": "POST", "path": path, "headers": headers or [],
            "query_string": b""}


async def run(app, scope, chunks: list[bytes]) -> list[dict]:
    """Feed `chunks` as the request body; return the messages the app sent."""
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
               for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive() -> dict:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def status_and_body(sent: list[dict]) -> tuple[int, bytes]:
    assert sent[0]["type"] == "http.response.start"
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def length(n: int) -> list[tuple[bytes, bytes]]:
    return [(b"content-length", str(n).encode())]


async def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs():
    app = Echo()
    sent = await run(BodySizeLimit(app, max_bytes=LIMIT), http_scope(headers=length(LIMIT + 1)),
                     [b"x" * (LIMIT + 1)])
    assert status_and_body(sent) == (413, orjson.dumps({"detail": "Request body exceeds 1 KiB"}))
    assert app.called is False


async def test_a_body_of_exactly_the_limit_passes():
    sent = await run(BodySizeLimit(Echo(), max_bytes=LIMIT), http_scope(headers=length(LIMIT)),
                     [b"x" * LIMIT])
    assert status_and_body(sent) == (200, b"1024")


@pytest.mark.parametrize("value", [b"abc", b"-1", b"1e3", b" 10", b""])
async def test_a_content_length_that_is_not_a_number_is_refused(value):
    app = Echo()
    sent = await run(BodySizeLimit(app, max_bytes=LIMIT),
                     http_scope(headers=[(b"content-length", value)]), [b""])
    assert status_and_body(sent)[0] == 413
    assert app.called is False


async def test_a_streamed_body_is_cut_off_once_it_passes_the_limit():
    sent = await run(BodySizeLimit(Echo(), max_bytes=LIMIT), http_scope(),
                     [b"x" * 600, b"x" * 600, b"x" * 600])
    assert status_and_body(sent) == (413, orjson.dumps({"detail": "Request body exceeds 1 KiB"}))


async def test_a_streamed_body_of_exactly_the_limit_passes():
    sent = await run(BodySizeLimit(Echo(), max_bytes=LIMIT), http_scope(),
                     [b"x" * 1000, b"x" * 24])
    assert status_and_body(sent) == (200, b"1024")


async def test_a_short_declared_length_does_not_let_a_long_stream_through():
    sent = await run(BodySizeLimit(Echo(), max_bytes=LIMIT), http_scope(headers=length(10)),
                     [b"x" * 10, b"x" * LIMIT])
    assert status_and_body(sent)[0] == 413


async def test_a_named_path_has_its_own_larger_limit():
    bulk = 2 * 1024 * 1024
    middleware = BodySizeLimit(Echo(), max_bytes=LIMIT, overrides={"/bulk": bulk})
    assert status_and_body(await run(middleware, http_scope("/bulk", length(bulk)),
                                     [b"x" * bulk])) == (200, str(bulk).encode())
    refused = await run(middleware, http_scope("/bulk", length(bulk + 1)), [b""])
    assert status_and_body(refused) == (413, orjson.dumps({"detail": "Request body exceeds "
                                                                     "2048 KiB"}))
    # other paths keep the API-wide limit
    assert status_and_body(await run(middleware, http_scope("/other", length(LIMIT + 1)),
                                     [b""]))[0] == 413


async def test_once_the_app_has_answered_an_overrun_sends_nothing_more():
    async def answers_first(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await receive()
        await receive()  # the second chunk passes the limit
        await send({"type": "http.response.body", "body": b"never"})

    sent = await run(BodySizeLimit(answers_first, max_bytes=LIMIT), http_scope(),
                     [b"x" * 1000, b"x" * 1000])
    assert sent == [{"type": "http.response.start", "status": 202, "headers": []}]


async def test_an_app_error_other_than_the_limit_is_not_swallowed():
    async def broken(scope, receive, send) -> None:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        await run(BodySizeLimit(broken, max_bytes=LIMIT), http_scope(), [b"{}"])


@pytest.mark.parametrize("middleware", [
    lambda app: BodySizeLimit(app, max_bytes=LIMIT),
    SecurityHeaders,
])
async def test_non_http_scopes_pass_through_untouched(middleware):
    seen = []

    async def lifespan_app(scope, receive, send) -> None:
        seen.append((scope["type"], await receive()))
        await send({"type": "lifespan.startup.complete"})

    scope = {"type": "lifespan"}
    sent = []

    async def receive():
        return {"type": "lifespan.startup"}

    async def send(message):
        sent.append(message)

    await middleware(lifespan_app)(scope, receive, send)
    assert seen == [("lifespan", {"type": "lifespan.startup"})]
    assert sent == [{"type": "lifespan.startup.complete"}]


async def test_security_headers_are_added_after_the_apps_own():
    sent = await run(SecurityHeaders(Echo()), http_scope(), [b"abc"])
    assert sent[0]["headers"] == [(b"content-type", b"text/plain"),
                                  (b"x-content-type-options", b"nosniff"),
                                  (b"x-frame-options", b"DENY"),
                                  (b"referrer-policy", b"no-referrer"),
                                  (b"cache-control", b"no-store")]
    assert sent[1] == {"type": "http.response.body", "body": b"3"}


async def test_security_headers_reach_a_response_that_had_none():
    async def bare(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b""})

    sent = await run(SecurityHeaders(bare), http_scope(), [b""])
    assert sent[0]["headers"] == SECURITY_HEADERS


async def test_a_refused_body_carries_the_security_headers_when_wrapped_as_served():
    # As app.main stacks them: SecurityHeaders outside BodySizeLimit.
    app = SecurityHeaders(BodySizeLimit(Echo(), max_bytes=LIMIT))
    sent = await run(app, http_scope(headers=length(LIMIT + 1)), [b""])
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 413
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"content-type"] == b"application/json"
