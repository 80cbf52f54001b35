"""The one mapping from errors to HTTP responses. Nothing else builds error bodies."""

from __future__ import annotations

import logging

import asyncpg
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from app import errors
from app.responses import MalformedJSON, ORJSONResponse

log = logging.getLogger(__name__)

STATUS: dict[type[errors.DomainError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.NotAuthenticated: 401,
    errors.Forbidden: 403,
    errors.BadRequest: 400,
    errors.InvalidInput: 422,
    errors.TooManyRequests: 429,
    errors.DatabaseUnavailable: 503,
}


def _status_of(exc: errors.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(status: int, detail: str, **extra: object) -> ORJSONResponse:
    return ORJSONResponse({"detail": detail, **extra}, status_code=status)


def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    status = _status_of(exc)
    response = error_response(status, exc.detail, **exc.extra())
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, errors.PinLocked):
        response.headers["X-Locked-Until"] = exc.locked_until.isoformat()
    if isinstance(exc, errors.TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    problems = [
        {"field": _field(err["loc"]), "message": err["msg"].removeprefix("Value error, ")}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return error_response(422, detail, errors=problems)


def malformed_json(request: Request, exc: Exception) -> Response:
    return error_response(400, "Request body is not valid JSON")


def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, exc.detail)
    return ORJSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


def database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return error_response(503, errors.DatabaseUnavailable.detail)


def database_error(request: Request, exc: Exception) -> Response:
    """A driver error is 503 when the connection is the problem, else a bug (500)."""
    assert isinstance(exc, DBAPIError)
    lost = exc.connection_invalidated or isinstance(
        exc, (OperationalError, InterfaceError)
    ) or isinstance(exc.orig, (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError))
    return database_unavailable(request, exc) if lost else unexpected(request, exc)


def client_disconnected(request: Request, exc: Exception) -> Response:
    """The client hung up before its whole body arrived: nothing was done, nobody listens.
    Not a server error (it was one, with a traceback per hang-up, before)."""
    log.info("client disconnected before sending its body")
    return error_response(499, "Client closed the request")


def unexpected(request: Request, exc: Exception) -> Response:
    # exc_info from the argument: Starlette runs this handler on a worker thread, where
    # log.exception() finds no current exception ("NoneType: None").
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return error_response(500, "Internal server error")


EXCEPTION_HANDLERS = {
    errors.DomainError: domain_error,
    ValidationError: validation_error,
    MalformedJSON: malformed_json,
    HTTPException: http_exception,
    ClientDisconnect: client_disconnected,
    PoolTimeout: database_unavailable,
    DBAPIError: database_error,
    OSError: database_unavailable,
    TimeoutError: database_unavailable,
    asyncpg.PostgresConnectionError: database_unavailable,
    asyncpg.InterfaceError: database_unavailable,
    asyncpg.exceptions.OperatorInterventionError: database_unavailable,
    Exception: unexpected,
}
