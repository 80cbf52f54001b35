"""The parental PIN: its stored state, a counted failure, and what verify and status answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PinState:
    email: str
    pin_hash: str | None
    password_hash: str
    failed_attempts: int
    locked_until: datetime | None

    def locked_at(self, now: datetime) -> datetime | None:
        """The end of the lock in force at `now`, else None."""
        return self.locked_until if self.locked_until and self.locked_until > now else None


@dataclass(frozen=True, slots=True)
class Failure:
    counted: bool  # False: the PIN was already locked by a parallel guess
    attempts: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class PinStatus:
    has_pin: bool
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class PinVerified:
    """Proof of a right PIN for on-device grants and sensitive config changes, until expiry."""

    pin_token: str
    expires_at: datetime
