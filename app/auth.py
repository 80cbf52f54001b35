"""Bearer-token authentication as a Starlette authentication backend."""

from __future__ import annotations

import logging
import uuid

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from app.domain.devices import Caller
from app.domain.errors import DatabaseUnavailable, EnforcementUnavailable, NotAuthenticated
from app.http_errors import domain_response
from app.services.devices import DeviceRegistry
from app.services.tokens import TokenService, Verified

log = logging.getLogger(__name__)


class Account(BaseUser):
    """The signed-in caller: an account, through its own token or one of its devices'."""

    __slots__ = ("id", "caller")

    def __init__(self, caller: Caller) -> None:
        self.id = caller.account_id
        self.caller = caller

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
        self._devices: DeviceRegistry | None = None  # set once the database pool is open

    def use_devices(self, registry: DeviceRegistry) -> None:
        self._devices = registry

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None or conn.scope["path"] in self._public:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Malformed Authorization header; expected 'Bearer <token>'")
        try:
            verified = self._tokens.verify(token.strip())
        except NotAuthenticated as exc:
            raise AuthenticationError(exc.detail) from None
        if verified.device_id is None:
            return AuthCredentials(["authenticated"]), Account(Caller(verified.account_id))
        return AuthCredentials(["authenticated", "device"]), Account(await self._device(verified))

    async def _device(self, verified: Verified) -> Caller:
        """A device token is good while its device exists (no query on a warm cache)."""
        if self._devices is None:
            raise AuthenticationError("Device tokens are not accepted yet")
        assert verified.device_id is not None
        try:
            device = await self._devices.lookup(verified.device_id)
        except Exception as exc:  # the database is down: the check did not happen
            log.warning("device check failed closed: %r", exc)
            raise DeviceCheckUnavailable() from exc
        if device is None or (device.account_id, device.profile_id) != (verified.account_id,
                                                                         verified.profile_id):
            raise AuthenticationError("This device was removed; pair it again")
        self._devices.seen(device)  # last_seen_at, at most once a minute, in the background
        return Caller(verified.account_id, device)


class DeviceCheckUnavailable(AuthenticationError):
    """A device token could not be checked (database down): 503, never a pass."""


def on_auth_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    if isinstance(exc, DeviceCheckUnavailable):
        return domain_response(_unavailable(conn.scope["path"]))
    return domain_response(NotAuthenticated(str(exc)))


def _unavailable(path: str) -> DatabaseUnavailable:
    """A player asking whether it may play gets the fail-closed answer it understands."""
    if path.endswith("/viewing-time/heartbeat"):
        return EnforcementUnavailable()
    if "/viewing-time/playback-eligible/" in path:
        return EnforcementUnavailable(eligibility=True)
    return DatabaseUnavailable()


def client_address(request: Request) -> str | None:
    """The caller's address for throttling. uvicorn takes it from X-Forwarded-For only when the
    peer is a trusted proxy (FORWARDED_ALLOW_IPS; SECURITY.md), so clients cannot choose it."""
    return request.client.host if request.client else None


def account_id(request: Request) -> uuid.UUID:
    """The caller's account id; 401 when the request carries no valid token."""
    return caller(request).account_id


def caller(request: Request) -> Caller:
    """Who is calling: an account, or one of its devices; 401 without a valid token."""
    user = request.user
    if not isinstance(user, Account):
        raise NotAuthenticated()
    return user.caller
