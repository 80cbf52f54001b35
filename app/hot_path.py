"""The heartbeat's short way through the app: one pure ASGI layer instead of Starlette's last
four.

Why: every player calls the heartbeat every 30 seconds, and it is the one endpoint whose cost
sets how many replicas a platform needs. Through Starlette it crossed the authentication
middleware, the exception middleware, a router trying the route patterns before its own, a
Request wrapper and dependency-injector's provider resolution (`@inject`) on every call: about a
quarter of the service's CPU per heartbeat in bench/README.md's profile.

This layer sits innermost among the app's middleware, so the security headers, the request
observer (request id, latency, access line), the body size limit and CORS still wrap it as they
wrap every route. For the heartbeat it does the rest itself with the very same parts: the
bearer backend and its error answers, the route's access check (`guarded`), the handler, and
the app's exception handlers. Its service is resolved once, on the first heartbeat. Every other
request goes on through Starlette untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    UnauthenticatedUser,
)
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class HotPath:
    """Answers `POST <route.path>` with `handler(request)`, authenticated by `backend`; any
    other request goes to `app`. `handler` is built on first use by `build()` (it needs the
    service, which needs the database pool that the lifespan opens)."""

    def __init__(self, app: ASGIApp, *, route: Route, build: Callable[[], Awaitable[Handler]],
                 backend: AuthenticationBackend,
                 on_auth_error: Callable[[HTTPConnection, AuthenticationError], Response],
                 exception_handlers: Mapping[type[Exception], ErrorHandler]) -> None:
        self.app = app
        self._route = route
        self._path = route.path
        self._build = build
        self._handler: Handler | None = None
        self._backend = backend
        self._on_auth_error = on_auth_error
        self._exception_handlers = exception_handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        # What the router would have set: the observer labels latency by the route's template.
        scope["route"] = self._route
        scope["path_params"] = {}
        request = Request(scope, receive)
        try:
            credentials = await self._backend.authenticate(request)
        except AuthenticationError as exc:
            await self._on_auth_error(request, exc)(scope, receive, send)
            return
        scope["auth"], scope["user"] = credentials or (AuthCredentials(), UnauthenticatedUser())
        try:
            if self._handler is None:
                self._handler = await self._build()
            response = await self._handler(request)
        except Exception as exc:
            handle = self._handler_for(exc)
            if handle is None:
                raise  # a bug: the request observer answers 500 and logs it
            response = await handle(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> ErrorHandler | None:
        """The app's handler for `exc`, looked up along its class hierarchy as Starlette does."""
        for cls in type(exc).__mro__:
            if cls in self._exception_handlers:
                return self._exception_handlers[cls]
        return None


def route_for(routes: list[Route], path: str) -> Route:
    """The app's own Route object for `path`: the one the observer reads its template from."""
    return next(r for r in routes if r.path == path)


def bound(handler: Callable[..., Awaitable[Response]], **dependencies: Any) -> Handler:
    """`handler` with its dependencies given once, instead of resolved on every call."""
    async def call(request: Request) -> Response:
        return await handler(request, **dependencies)

    return call
