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

from app.domain import errors
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


def domain_response(exc: errors.DomainError) -> Response:
    """The response for a domain error (also used synchronously by the auth layer)."""
    status = _status_of(exc)
    response = error_response(status, exc.detail, **exc.extra())
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, errors.PinLocked):
        response.headers["X-Locked-Until"] = exc.locked_until.isoformat()
    if isinstance(exc, errors.TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    return domain_response(exc)


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    problems = [
        {"field": _field(err["loc"]), "message": err["msg"].removeprefix("Value error, ")}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return error_response(422, detail, errors=problems)


async def malformed_json(request: Request, exc: Exception) -> Response:
    return error_response(400, "Request body is not valid JSON")


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, exc.detail)
    return ORJSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return error_response(503, errors.DatabaseUnavailable.detail)


def _no_primary(exc: DBAPIError) -> bool:
    """Several hosts, none of them accepting writes (a failover under way): SQLAlchemy wraps
    asyncpg's error in its own InternalError, the original is the adapted error's cause."""
    original = getattr(exc.orig, "__cause__", None)
    return isinstance(original, asyncpg.exceptions.TargetServerAttributeNotMatched)


async def database_error(request: Request, exc: Exception) -> Response:
    """A driver error is 503 when the connection is the problem, else a bug (500)."""
    assert isinstance(exc, DBAPIError)
    lost = exc.connection_invalidated or isinstance(
        exc, (OperationalError, InterfaceError)
    ) or isinstance(exc.orig, (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)
    ) or _no_primary(exc)
    if lost:
        return await database_unavailable(request, exc)
    return unexpected(request, exc)


DRIVER_MODULES = ("asyncpg.", "sqlalchemy.")


def _raised_by_driver(exc: BaseException) -> bool:
    """Whether the traceback passes through the driver or the ORM's pool: only there does an
    OSError or TimeoutError mean the database is unreachable (a refused connect, a statement
    timeout). Anywhere else it is a bug and must not hide as an outage."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(DRIVER_MODULES):
            return True
        tb = tb.tb_next
    return False


async def connection_error(request: Request, exc: Exception) -> Response:
    if _raised_by_driver(exc):
        return await database_unavailable(request, exc)
    return unexpected(request, exc)


async def client_disconnected(request: Request, exc: Exception) -> Response:
    """The client hung up before its whole body arrived: nothing was done, nobody listens.
    Not a server error (it was one, with a traceback per hang-up, before)."""
    log.info("client disconnected before sending its body")
    return error_response(499, "Client closed the request")


def unexpected(request: Request | None, exc: BaseException, path: str | None = None) -> Response:
    """A bug: logged with its traceback, answered with a bare 500. Called by RequestObserver
    for anything no handler took, so the 500 carries the request id and security headers."""
    log.error("unhandled error on %s", request.url.path if request else path, exc_info=exc)
    return error_response(500, "Internal server error")


EXCEPTION_HANDLERS = {
    errors.DomainError: domain_error,
    ValidationError: validation_error,
    MalformedJSON: malformed_json,
    HTTPException: http_exception,
    ClientDisconnect: client_disconnected,
    PoolTimeout: database_unavailable,
    DBAPIError: database_error,
    OSError: connection_error,
    TimeoutError: connection_error,
    asyncpg.PostgresConnectionError: database_unavailable,
    asyncpg.InterfaceError: database_unavailable,
    asyncpg.exceptions.OperatorInterventionError: database_unavailable,
    # Several hosts and none accepts writes (a failover under way): the same outage.
    asyncpg.exceptions.TargetServerAttributeNotMatched: database_unavailable,
}
# No `Exception` entry: Starlette would run it in ServerErrorMiddleware, outside every other
# middleware. RequestObserver renders the 500 instead (app/observability.py).
