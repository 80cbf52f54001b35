"""Bearer-token authentication as a Starlette authentication backend."""

from __future__ import annotations

import uuid

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from app.domain.errors import NotAuthenticated
from app.http_errors import domain_response
from app.services.tokens import TokenService


class Account(BaseUser):
    __slots__ = ("id",)

    def __init__(self, account_id: uuid.UUID) -> None:
        self.id = account_id

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return str(self.id)


class BearerBackend(AuthenticationBackend):
    """No header: anonymous (public endpoints work, protected ones answer 401). A header that
    is malformed, expired or signed with another key: 401 at once — except on the public
    paths, which never read it: apps attach their token to every call, and a stale one must
    not stop them signing in again or an operator probing /healthz."""

    def __init__(self, tokens: TokenService, *, public_paths: frozenset[str]) -> None:
        self._tokens = tokens
        self._public = public_paths

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None or conn.scope["path"] in self._public:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Malformed Authorization header; expected 'Bearer <token>'")
        try:
            account_id = self._tokens.verify_access(token.strip())
        except NotAuthenticated as exc:
            raise AuthenticationError(exc.detail) from None
        return AuthCredentials(["authenticated"]), Account(account_id)


def on_auth_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    return domain_response(NotAuthenticated(str(exc)))


def client_address(request: Request) -> str | None:
    """The caller's address for throttling. uvicorn takes it from X-Forwarded-For only when the
    peer is a trusted proxy (FORWARDED_ALLOW_IPS; SECURITY.md), so clients cannot choose it."""
    return request.client.host if request.client else None


def account_id(request: Request) -> uuid.UUID:
    """The caller's account id; 401 when the request carries no valid token."""
    user = request.user
    if not isinstance(user, Account):
        raise NotAuthenticated()
    return user.id
