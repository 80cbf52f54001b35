"""The request's edges, with no app behind them: bearer authentication, the request id and
access observation, and strict body parsing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from prometheus_client import generate_latest
from pydantic import ValidationError
from starlette.authentication import AuthenticationError
from starlette.requests import HTTPConnection, Request

from app.auth import Account, BearerBackend, account_id, on_auth_error
from app.domain.devices import Caller
from app.domain.errors import InvalidInput, NotAuthenticated
from app.observability import RequestObserver, incoming_request_id
from app.responses import MalformedJSON, ORJSONResponse, json_response, parse_body, path_uuid
from app.schemas import PinVerify, TitleOut
from app.services.clock import FrozenClock
from app.services.metrics import MetricsCollector
from app.services.tokens import TokenService
from app.settings import Settings

pytestmark = pytest.mark.anyio

ACCOUNT = uuid.UUID("5f0c3e2a-1111-4222-8333-944445555666")
PUBLIC = frozenset({"/api/v1/auth/login"})


def scope(path: str = "/api/v1/profiles", headers: dict[str, str] | None = None) -> dict:
    return {"type": "http", "method": "GET", "path": path, "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(Settings(jwt_secret="unit-test-secret-that-is-32-bytes-long"),
                        FrozenClock(datetime(2026, 3, 4, 12, 0, tzinfo=UTC)))


# --- bearer authentication ---------------------------------------------------------------------

async def test_no_authorization_header_is_anonymous(tokens):
    assert await BearerBackend(tokens, public_paths=PUBLIC).authenticate(
        HTTPConnection(scope())) is None


async def test_a_valid_bearer_token_authenticates_its_account(tokens):
    token, _ = tokens.issue_access(ACCOUNT)
    credentials, user = await BearerBackend(tokens, public_paths=PUBLIC).authenticate(
        HTTPConnection(scope(headers={"Authorization": f"bearer  {token} "})))
    assert credentials.scopes == ["authenticated"]
    assert isinstance(user, Account) and user.id == ACCOUNT and user.is_authenticated
    assert user.display_name == str(ACCOUNT)


@pytest.mark.parametrize("header, detail", [
    ("Basic dXNlcjpwdw==", "Malformed Authorization header; expected 'Bearer <token>'"),
    ("Bearer", "Malformed Authorization header; expected 'Bearer <token>'"),
    ("Bearer    ", "Malformed Authorization header; expected 'Bearer <token>'"),
    ("Bearer not-a-jwt", "Invalid or expired token"),
])
async def test_a_bad_header_is_refused_at_once(tokens, header, detail):
    backend = BearerBackend(tokens, public_paths=PUBLIC)
    with pytest.raises(AuthenticationError) as caught:
        await backend.authenticate(HTTPConnection(scope(headers={"Authorization": header})))
    assert str(caught.value) == detail


async def test_public_paths_ignore_even_a_broken_header(tokens):
    backend = BearerBackend(tokens, public_paths=PUBLIC)
    connection = HTTPConnection(scope("/api/v1/auth/login", {"Authorization": "Bearer junk"}))
    assert await backend.authenticate(connection) is None


async def test_an_authentication_error_is_a_401_challenge():
    response = on_auth_error(HTTPConnection(scope()), AuthenticationError("Invalid or expired "
                                                                          "token"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert orjson.loads(response.body) == {"detail": "Invalid or expired token"}


async def test_an_anonymous_caller_has_no_account_id():
    request = Request({**scope(), "user": object()})
    with pytest.raises(NotAuthenticated):
        account_id(request)
    assert account_id(Request({**scope(), "user": Account(Caller(ACCOUNT))})) == ACCOUNT


# --- request ids and the observer ------------------------------------------------------------

@pytest.mark.parametrize("raw, kept", [
    (b"5f0c-req", "5f0c-req"),
    (b"with spaces ok", "with spaces ok"),
    (b"x" * 128, "x" * 128),
    (b"x" * 129, None),
    (b"", None),
    (b"line\nbreak", None),                  # would split a log line
    ("caf\u00e9".encode(), None),            # not ASCII
    (b"\x1b[31mred", None),                  # terminal escapes
])
async def test_an_incoming_request_id_is_kept_only_when_short_printable_ascii(raw, kept):
    assert incoming_request_id(raw) == kept


async def run(app, headers: dict[str, str] | None = None) -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope(headers=headers), receive, send)
    return sent


async def answer(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_the_callers_request_id_is_echoed():
    sent = await run(RequestObserver(answer, metrics=MetricsCollector()),
                     {"X-Request-ID": "trace-7"})
    assert sent[0]["headers"] == [(b"x-request-id", b"trace-7")]


async def test_without_one_a_random_128_bit_id_is_given():
    observer = RequestObserver(answer, metrics=MetricsCollector())
    first = dict((await run(observer))[0]["headers"])[b"x-request-id"]
    second = dict((await run(observer, {"X-Request-ID": "bad\nid"}))[0]["headers"])[
        b"x-request-id"]
    assert len(first) == len(second) == 32 and first != second
    assert int(first, 16) != int(second, 16)  # hex digits


async def test_a_bug_before_the_response_is_a_500_with_the_request_id():
    async def broken(scope, receive, send) -> None:
        raise RuntimeError("bug")

    sent = await run(RequestObserver(broken, metrics=MetricsCollector()), {"X-Request-ID": "r1"})
    assert sent[0]["status"] == 500
    assert (b"x-request-id", b"r1") in sent[0]["headers"]
    assert orjson.loads(sent[1]["body"]) == {"detail": "Internal server error"}


async def test_a_bug_after_the_response_started_is_raised_to_the_server():
    async def half(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("mid-body")

    with pytest.raises(RuntimeError, match="mid-body"):
        await run(RequestObserver(half, metrics=MetricsCollector()))


async def test_latency_is_recorded_by_route_template_and_status():
    metrics = MetricsCollector()
    observer = RequestObserver(answer, metrics=metrics)
    await run(observer)
    await run(observer)
    text = generate_latest(metrics.registry).decode()
    assert ('vts_http_request_duration_seconds_count{method="GET",route="unmatched",'
            'status="204"} 2.0') in text


# --- bodies and paths --------------------------------------------------------------------------

def body_request(body: bytes, content_type: str | None = "application/json") -> Request:
    headers = {} if content_type is None else {"Content-Type": content_type}
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        return chunks.pop(0)

    return Request({**scope(headers=headers), "method": "POST"}, receive)


async def test_a_json_body_is_parsed_strictly():
    pin = await parse_body(body_request(b'{"pin": "1234"}'), PinVerify)
    assert pin.pin == "1234"


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8",
                                          "Application/JSON"])
async def test_the_json_content_type_is_matched_without_its_parameters(content_type):
    assert (await parse_body(body_request(b'{"pin": "0000"}', content_type), PinVerify)).pin \
        == "0000"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/jsonx"])
async def test_a_body_that_is_not_declared_json_is_refused(content_type):
    with pytest.raises(InvalidInput) as caught:
        await parse_body(body_request(b'{"pin": "1234"}', content_type), PinVerify)
    assert caught.value.detail == "body: Content-Type must be application/json"


@pytest.mark.parametrize("raw", [b"{", b"", b"pin=1234", b"\xff\xfe"])
async def test_a_body_that_is_not_json_is_malformed_not_invalid(raw):
    with pytest.raises(MalformedJSON):
        await parse_body(body_request(raw), PinVerify)


async def test_json_that_fails_validation_is_a_validation_error():
    with pytest.raises(ValidationError):
        await parse_body(body_request(b'{"pin": 1234}'), PinVerify)


async def test_a_path_uuid_is_parsed_or_named_in_the_error():
    request = Request({**scope(), "path_params": {"profile_id": str(ACCOUNT)}})
    assert path_uuid(request, "profile_id") == ACCOUNT
    bad = Request({**scope(), "path_params": {"profile_id": "42"}})
    with pytest.raises(InvalidInput) as caught:
        path_uuid(bad, "profile_id")
    assert caught.value.detail == "profile_id: must be a UUID"


async def test_json_responses_render_models_and_lists_of_models():
    title = TitleOut(id=ACCOUNT, title="Cosmos", is_educational=True)
    expected = {"id": str(ACCOUNT), "title": "Cosmos", "is_educational": True}
    assert orjson.loads(json_response(title).body) == expected
    assert orjson.loads(json_response([title, {"x": 1}], status_code=201).body) \
        == [expected, {"x": 1}]
    assert orjson.loads(ORJSONResponse({"nested": title}).body) == {"nested": expected}


async def test_a_value_json_cannot_hold_is_a_bug_not_a_silent_string():
    with pytest.raises(TypeError, match="not JSON serializable: object"):
        ORJSONResponse({"x": object()})
