"""Player devices and who is calling: a parent's account, or one device paired with one profile.

A device token is narrower than the account token: it may act only for its own profile, and
only on what a player needs (app/routes.py says which endpoints). Everything else is the
parent's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.errors import Forbidden, NotFound, ProfileNotFound

# last_seen_at is written at most this often per device, in the background (never by a beat).
SEEN_RESOLUTION = timedelta(minutes=1)


class DeviceNotFound(NotFound):
    detail = "Device not found"


class DeviceTokenRefused(Forbidden):
    detail = "Not allowed with a device token"


class DeviceTokenRequired(Forbidden):
    detail = "This endpoint takes a device token"


class AccountTokenRefused(Forbidden):
    """DEVICE_TOKENS_REQUIRED: the operator has paired every player."""

    detail = "Player endpoints take a device token (DEVICE_TOKENS_REQUIRED)"


@dataclass(frozen=True, slots=True)
class Device:
    id: uuid.UUID
    profile_id: uuid.UUID
    account_id: uuid.UUID
    name: str
    device_type: str
    created_at: datetime
    last_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class PairedDevice:
    """A new device and its token, which is shown this once."""

    device: Device
    device_token: str


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request. For a device token, the device and the one profile it acts for."""

    account_id: uuid.UUID
    device: Device | None = None

    @property
    def profile_id(self) -> uuid.UUID | None:
        return self.device.profile_id if self.device is not None else None

    def may_act_for(self, profile_id: uuid.UUID) -> None:
        """A device's token reaches its own profile only: any other is unknown to it (404,
        like another account's)."""
        if self.device is not None and profile_id != self.device.profile_id:
            raise ProfileNotFound()


def seen_due(last_seen_at: datetime | None, now: datetime) -> bool:
    """Whether a beat at `now` should move the device's last_seen_at."""
    return last_seen_at is None or now - last_seen_at >= SEEN_RESOLUTION
