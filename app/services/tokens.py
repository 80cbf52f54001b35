"""Signed bearer tokens (access) and short-lived PIN proofs (pin_token), via pyjwt."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cachetools import LRUCache

from app.domain.clock import Clock
from app.domain.devices import Device
from app.domain.errors import NotAuthenticated, PinTokenInvalid
from app.settings import Settings

PIN_TOKEN_TYPE = "pin"
DEVICE_TOKEN_TYPE = "device"


@dataclass(frozen=True, slots=True)
class Verified:
    account_id: uuid.UUID
    expires_at: float  # infinite for a device token: it lives as long as its device
    device_id: uuid.UUID | None = None
    profile_id: uuid.UUID | None = None


class TokenService:
    """Verifies every request's token; a cache of already-verified tokens (expiry re-checked on
    each hit) keeps pyjwt's ~50 µs decode off the heartbeat path."""

    def __init__(self, settings: Settings, clock: Clock, *,
                 cache_size: int = 100_000) -> None:
        self._key = settings.signing_key
        self._algorithm = settings.jwt_algorithm
        self._lifetime = settings.jwt_lifetime_seconds
        self._pin_lifetime = settings.pin_token_lifetime_seconds
        self._clock = clock
        self._verified: LRUCache[str, Verified] = LRUCache(maxsize=cache_size)

    def _encode(self, claims: dict[str, object]) -> str:
        return jwt.encode(claims, self._key, algorithm=self._algorithm)

    def _decode(self, token: str) -> dict[str, Any]:
        # Expiry is checked against the service clock below, not pyjwt's wall clock; device
        # tokens have none (each type's claims are checked in `_verified_claims`).
        return jwt.decode(
            token, self._key, algorithms=[self._algorithm],
            options={"verify_exp": False, "require": ["sub"]},
        )

    def _verified_claims(self, token: str) -> Verified:
        claims = self._decode(token)
        kind = claims.get("typ")
        account_id = uuid.UUID(str(claims["sub"]))
        if kind == DEVICE_TOKEN_TYPE:
            return Verified(account_id, math.inf, uuid.UUID(str(claims["dev"])),
                            uuid.UUID(str(claims["prf"])))
        if kind is not None:
            raise NotAuthenticated("A pin_token is not an access token")
        return Verified(account_id, float(claims["exp"]))

    def issue_access(self, account_id: uuid.UUID) -> tuple[str, int]:
        exp = int(self._clock.now().timestamp()) + self._lifetime
        return self._encode({"sub": str(account_id), "exp": exp}), self._lifetime

    def issue_device_token(self, device: Device) -> str:
        """No expiry: valid until the device is deleted (the caller checks it still exists)."""
        return self._encode({"sub": str(device.account_id), "typ": DEVICE_TOKEN_TYPE,
                             "dev": str(device.id), "prf": str(device.profile_id)})

    def verify(self, token: str) -> Verified:
        """An account token (unexpired) or a device token (whose device the caller checks)."""
        now = self._clock.now().timestamp()
        hit = self._verified.get(token)
        if hit is None:
            try:
                hit = self._verified_claims(token)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                raise NotAuthenticated("Invalid or expired token") from None
            self._verified[token] = hit
        if hit.expires_at <= now:
            raise NotAuthenticated("Invalid or expired token")
        return hit

    def forget(self, account_id: uuid.UUID) -> None:
        """Drop cached verifications of a deleted account's tokens."""
        for token, verified in list(self._verified.items()):
            if verified.account_id == account_id:
                self._verified.pop(token, None)

    def issue_pin_token(self, account_id: uuid.UUID) -> tuple[str, datetime]:
        exp = int(self._clock.now().timestamp()) + self._pin_lifetime
        token = self._encode({"sub": str(account_id), "exp": exp, "typ": PIN_TOKEN_TYPE})
        return token, datetime.fromtimestamp(exp).astimezone()

    def check_pin_token(self, token: str, account_id: uuid.UUID) -> None:
        try:
            claims = self._decode(token)
            valid = (
                claims.get("typ") == PIN_TOKEN_TYPE
                and claims.get("sub") == str(account_id)
                and float(claims["exp"]) > self._clock.now().timestamp()
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            valid = False
        if not valid:
            raise PinTokenInvalid()
