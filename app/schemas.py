"""Request and response models. Validation lives here: strict types, named fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
)


class Strict(BaseModel):
    """Request bodies: `"60"` is not an int, `1` not a bool; unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


_ZONES = frozenset(available_timezones())


def _iana_zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError("must be an IANA time zone name such as Europe/Berlin")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone name such as Europe/Berlin") from None
    return value


def _password_bytes(value: str) -> str:
    if not 8 <= len(value.encode()) <= 72:
        raise ValueError("must be 8 to 72 bytes long")
    return value


TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_iana_zone)]
Password = Annotated[str, StringConstraints(max_length=256), AfterValidator(_password_bytes)]
Pin = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]


# --- auth -------------------------------------------------------------------------------------

class Credentials(Strict):
    email: Annotated[EmailStr, StringConstraints(max_length=320)]
    password: Password


class LoginRequest(Strict):
    email: Annotated[str, StringConstraints(max_length=320)]
    password: Annotated[str, StringConstraints(max_length=256)]


class AccountOut(Out):
    id: uuid.UUID
    email: str
    created_at: datetime


class TokenOut(Out):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeOut(Out):
    id: uuid.UUID
    email: str
    is_admin: bool
    has_pin: bool


# --- profiles and titles ----------------------------------------------------------------------

class ProfileCreate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    is_kids: bool
    timezone: TimeZoneName = "UTC"


class ProfileOut(Out):
    id: uuid.UUID
    name: str
    is_kids: bool
    created_at: datetime


class TitleIn(Strict):
    id: uuid.UUID
    title: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    is_educational: bool


class TitlesUpsert(Strict):
    titles: Annotated[list[TitleIn], Field(max_length=10_000)]


class TitleOut(Out):
    id: uuid.UUID
    title: str
    is_educational: bool


class UpsertedOut(Out):
    upserted: int


# --- viewing time -----------------------------------------------------------------------------

class DeviceType(str, Enum):
    tv = "tv"
    mobile = "mobile"
    tablet = "tablet"
    web = "web"


class Enforcement(str, Enum):
    allowed = "allowed"
    warning_15 = "warning_15"
    warning_5 = "warning_5"
    blocked = "blocked"


class HeartbeatRequest(Strict):
    profile_id: uuid.UUID
    title_id: uuid.UUID
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    device_type: DeviceType = DeviceType.web
    session_id: uuid.UUID | None = None
    is_paused: bool = False


class HeartbeatResponse(Out):
    session_id: uuid.UUID
    enforcement: Enforcement
    remaining_minutes: float | None
    used_minutes: float
    is_educational: bool


class SessionEndOut(Out):
    session_id: uuid.UUID
    total_seconds: float
    ended_at: datetime


class BalanceOut(Out):
    profile_id: uuid.UUID
    is_child_profile: bool
    has_limits: bool
    used_minutes: float
    educational_minutes: float
    limit_minutes: int | None
    remaining_minutes: float | None
    is_unlimited_override: bool
    next_reset_at: datetime | None
    warning_threshold_minutes: list[int] = [15, 5]


class EligibilityOut(Out):
    eligible: bool
    remaining_minutes: float | None
    reason: str | None
    next_reset_at: datetime | None

