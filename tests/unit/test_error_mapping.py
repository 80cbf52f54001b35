"""Each domain error becomes one status and one JSON body (app/http_errors.py), and the
handlers for framework and driver errors tell an outage (503) from a bug (500)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import orjson
import pytest
from pydantic import BaseModel, RootModel, ValidationError, field_validator
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request

from app.domain import errors
from app.http_errors import (
    EXCEPTION_HANDLERS,
    client_disconnected,
    connection_error,
    database_error,
    domain_response,
    http_exception,
    malformed_json,
    validation_error,
)
from app.responses import MalformedJSON

LOCKED_UNTIL = datetime(2026, 3, 4, 12, 30, tzinfo=UTC)


def body(response) -> dict:
    return orjson.loads(response.body)


def request(path: str = "/api/v1/x") -> Request:
    return Request({"type": "http", "method": "GET", "path": path, "headers": [],
                    "query_string": b""})


@pytest.mark.parametrize("error, status, detail", [
    (errors.NotFound(), 404, "Not found"),
    (errors.ProfileNotFound(), 404, "Profile not found"),
    (errors.TitleNotFound(), 404, "Title not found"),
    (errors.SessionNotFound(), 404, "Session not found"),
    (errors.EmailTaken(), 409, "Email is already registered"),
    (errors.NotAuthenticated(), 401, "Not authenticated"),
    (errors.BadCredentials(), 401, "Incorrect email or password"),
    (errors.AccountGone(), 401, "Account no longer exists"),
    (errors.Forbidden(), 403, "Forbidden"),
    (errors.AdminRequired(), 403, "Admin role required"),
    (errors.IncorrectPin(), 403, "Incorrect PIN"),
    (errors.PinTokenInvalid(), 403, "A valid pin_token is required"),
    (errors.PinNotSet(), 400, "No PIN set"),
    (errors.CurrentPinRequired(), 400, "current_pin is required to change an existing PIN"),
    (errors.DatabaseUnavailable(), 503, "Database unavailable"),
    (errors.DomainError(), 400, "Request failed"),  # no entry of its own: 400
])
def test_a_domain_error_has_its_status_and_only_a_detail(error, status, detail):
    response = domain_response(error)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert body(response) == {"detail": detail}


@pytest.mark.parametrize("error, errors_", [
    (errors.InvalidInput(), [{"field": "body", "message": "Invalid input"}]),
    (errors.InvalidInput("until: must be in the future"),
     [{"field": "until", "message": "must be in the future"}]),
])
def test_an_invalid_input_lists_its_field_like_a_validation_error(error, errors_):
    response = domain_response(error)
    assert response.status_code == 422
    assert body(response) == {"detail": error.detail, "errors": errors_}


@pytest.mark.parametrize("error, code", [
    (errors.SessionEnded(), "session_ended"),
    (errors.SessionTitleMismatch(), "session_title_mismatch"),
])
def test_session_conflicts_carry_a_machine_readable_code(error, code):
    response = domain_response(error)
    assert response.status_code == 409
    assert body(response) == {"detail": error.detail, "code": code}


def test_a_detail_given_when_raised_replaces_the_class_default():
    error = errors.NotAuthenticated("A pin_token is not an access token")
    assert str(error) == "A pin_token is not an access token"
    assert body(domain_response(error)) == {"detail": "A pin_token is not an access token"}
    assert errors.NotAuthenticated.detail == "Not authenticated"  # the class is untouched


def test_an_unlisted_subclass_takes_its_nearest_listed_ancestors_status():
    class QuotaGone(errors.Forbidden):
        detail = "Quota gone"

    assert domain_response(QuotaGone()).status_code == 403


@pytest.mark.parametrize("error, challenged", [
    (errors.BadCredentials(), True),
    (errors.AccountGone(), True),
    (errors.Forbidden(), False),
    (errors.NotFound(), False),
])
def test_only_401s_challenge_for_a_bearer_token(error, challenged):
    headers = domain_response(error).headers
    assert headers.get("www-authenticate") == ("Bearer" if challenged else None)


def test_a_locked_pin_says_until_when_in_the_body_and_a_header():
    response = domain_response(errors.PinLocked(LOCKED_UNTIL))
    assert response.status_code == 403
    assert body(response) == {"detail": "PIN is locked after too many failed attempts",
                              "locked_until": "2026-03-04T12:30:00+00:00"}
    assert response.headers["x-locked-until"] == "2026-03-04T12:30:00+00:00"


def test_too_many_requests_says_when_to_retry():
    response = domain_response(errors.TooManyRequests(42))
    assert response.status_code == 429
    assert body(response) == {"detail": "Too many attempts; try again later"}
    assert response.headers["retry-after"] == "42"


def test_enforcement_unavailable_answers_a_blocked_heartbeat():
    response = domain_response(errors.EnforcementUnavailable())
    assert response.status_code == 503
    assert body(response) == {
        "detail": "Viewing-time enforcement is unavailable", "session_id": None,
        "enforcement": "blocked", "reason": "enforcement_unavailable", "remaining_minutes": 0,
        "used_minutes": None, "is_educational": None, "next_allowed_at": None}


def test_enforcement_unavailable_answers_an_ineligible_check():
    response = domain_response(errors.EnforcementUnavailable(eligibility=True))
    assert response.status_code == 503
    assert body(response) == {
        "detail": "Viewing-time enforcement is unavailable", "eligible": False,
        "remaining_minutes": 0, "reason": "enforcement_unavailable", "next_reset_at": None,
        "next_allowed_at": None}


# --- the other handlers ------------------------------------------------------------------------

class Limits(BaseModel):
    weekday: int
    nested: dict[str, int]


@pytest.mark.anyio
async def test_a_validation_error_lists_each_field_with_its_message():
    with pytest.raises(ValidationError) as caught:
        Limits.model_validate({"weekday": "x", "nested": {"a": "y"}})
    response = await validation_error(request(), caught.value)
    assert response.status_code == 422
    not_int = "Input should be a valid integer, unable to parse string as an integer"
    assert body(response) == {
        "detail": f"weekday: {not_int}; nested.a: {not_int}",
        "errors": [{"field": "weekday", "message": not_int},
                   {"field": "nested.a", "message": not_int}]}


@pytest.mark.anyio
async def test_a_value_error_loses_its_prefix_and_a_root_error_names_the_body():
    class Hour(RootModel[int]):
        @field_validator("root")
        @classmethod
        def _hour(cls, value: int) -> int:
            raise ValueError("must be an hour from 0 to 23")

    with pytest.raises(ValidationError) as caught:
        Hour.model_validate(24)
    response = await validation_error(request(), caught.value)
    assert body(response) == {"detail": "body: must be an hour from 0 to 23",
                              "errors": [{"field": "body",
                                          "message": "must be an hour from 0 to 23"}]}


@pytest.mark.anyio
async def test_a_body_that_is_not_json_is_a_400():
    response = await malformed_json(request(), MalformedJSON())
    assert (response.status_code, body(response)) == (400, {"detail": "Request body is not "
                                                                      "valid JSON"})


@pytest.mark.parametrize("status, detail, expected", [
    (404, "whatever starlette says", "Not found"),
    (405, "whatever starlette says", "Method not allowed"),
    (400, "Bad header", "Bad header"),
])
@pytest.mark.anyio
async def test_http_exceptions_keep_a_fixed_wording_for_404_and_405(status, detail, expected):
    response = await http_exception(request(), HTTPException(status, detail))
    assert (response.status_code, body(response)) == (status, {"detail": expected})


@pytest.mark.anyio
async def test_an_http_exceptions_headers_are_kept():
    exc = HTTPException(405, headers={"Allow": "GET, POST"})
    response = await http_exception(request(), exc)
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.anyio
async def test_a_client_that_hung_up_gets_499_not_500():
    response = await client_disconnected(request(), ClientDisconnect())
    assert (response.status_code, body(response)) == (499, {"detail": "Client closed the "
                                                                      "request"})


def dbapi_error(cls: type[DBAPIError], orig: BaseException, *, invalidated: bool = False):
    return cls("SELECT 1", None, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize("exc, status", [
    (dbapi_error(OperationalError, Exception("server closed")), 503),
    (dbapi_error(DBAPIError, Exception("x"), invalidated=True), 503),
    (dbapi_error(DBAPIError, ConnectionResetError()), 503),
    (dbapi_error(DBAPIError, asyncpg.PostgresConnectionError("cut")), 503),
    (dbapi_error(DBAPIError, asyncpg.InterfaceError("closed")), 503),
    (dbapi_error(DBAPIError, asyncpg.UniqueViolationError("duplicate key")), 500),  # a bug
])
@pytest.mark.anyio
async def test_a_driver_error_is_an_outage_only_when_the_connection_is_the_problem(exc, status):
    response = await database_error(request(), exc)
    assert response.status_code == status
    assert body(response) == {"detail": "Database unavailable" if status == 503
                              else "Internal server error"}


def raise_from_module(module: str, exc: BaseException) -> BaseException:
    """`exc`, raised (and caught) in code whose module is `module`: its traceback then passes
    through a frame of that module, as if the driver had raised it."""
    namespace = {"__name__": module, "exc": exc}
    exec("def fail():\n    raise exc\n", namespace)
    try:
        namespace["fail"]()
    except BaseException as caught:
        return caught
    raise AssertionError("did not raise")


@pytest.mark.parametrize("module, exc, status", [
    ("asyncpg.connect_utils", ConnectionRefusedError(), 503),
    ("sqlalchemy.pool.base", TimeoutError(), 503),
    ("app.services.reports", ConnectionRefusedError(), 500),  # our own code: a bug
    ("app.services.reports", TimeoutError(), 500),
    ("asyncpgx.helpers", OSError(), 500),                     # only the driver's own modules
])
@pytest.mark.anyio
async def test_an_os_or_timeout_error_is_an_outage_only_when_raised_inside_the_driver(
        module, exc, status):
    response = await connection_error(request(), raise_from_module(module, exc))
    assert response.status_code == status


def test_every_handler_is_registered_for_its_exception():
    assert EXCEPTION_HANDLERS[errors.DomainError].__name__ == "domain_error"
    assert EXCEPTION_HANDLERS[OSError] is connection_error
    assert EXCEPTION_HANDLERS[TimeoutError] is connection_error
    assert EXCEPTION_HANDLERS[DBAPIError] is database_error
    assert Exception not in EXCEPTION_HANDLERS  # 500s are the RequestObserver's (see module)
