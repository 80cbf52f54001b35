"""Request and response models. Validation lives here: strict types, named fields."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import WithJsonSchema

from app.domain.balance import Enforcement
from app.domain.catalog import Title, decode_cursor, encode_cursor
from app.domain.control import Reason
from app.domain.schedules import WEEKDAYS, limit_problem
from app.domain.webhooks import EVENT_TYPES, MAX_URL_LENGTH


class Strict(BaseModel):
    """Request bodies: `"60"` is not an int, `1` not a bool; unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", use_attribute_docstrings=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold U+0000 and bcrypt refuses it: a 422 here, not a 500 later
        # (the fuzzer found a title, passwords did the same). Costs < 1 µs a body.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL (U+0000) characters")
        return value


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, use_attribute_docstrings=True)


class Query(BaseModel):
    """Query-string parameters, one per field."""

    model_config = ConfigDict(use_attribute_docstrings=True)


# Each model's example: the OpenAPI document shows it on the model, gives each property its
# value (app/openapi.py) and answers it as the example of the operations that return the model.
# pydantic does not read examples, so they change no validation; they are valid requests all
# the same (tests/api/test_openapi_document.py checks), since the fuzzer may send them.
def _example(**values: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [values]})


ACCOUNT_ID = "7d1c2b9e-2f7a-4a52-9a7e-1f4a0b6c8d11"
PROFILE_ID = "3b8f5c2a-6d1e-4f7a-9b0c-2e4d6f8a1c3e"
TITLE_ID = "0b6f3c1e-5d0a-4c1e-9d7e-6f2a1b3c4d5e"
SESSION_ID = "c41e6a0d-93f5-4d4b-8f3e-2a1b0c9d8e7f"
DEVICE_ID = "5e2a7c9d-1b3f-4e6a-8c0d-2f4b6a8e0c1d"
GRANT_ID = "9a4c6e8f-0b2d-4f6a-8c1e-3d5f7a9b1c2e"
REQUEST_ID = "6f1c3e5a-7b9d-4c2e-8f0a-1b3d5f7a9c4e"
WEBHOOK_ID = "2d4f6a8c-0e1b-4d3f-9a5c-7e9b1d3f5a6c"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI3ZDFjMmI5ZSJ9.c2lnbmF0dXJl"
NOW = "2026-03-04T12:00:00Z"


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
    model_config = _example(email="parent@example.com", password="correct horse")

    email: Annotated[EmailStr, StringConstraints(max_length=320)]
    """The account's email address: a valid address of at most 320 characters, stored
    lower-cased (taken whatever its case)."""
    password: Password
    """The password: 8 to 72 bytes in UTF-8."""


class LoginRequest(Strict):
    model_config = _example(email="parent@example.com", password="correct horse")

    email: Annotated[str, StringConstraints(max_length=320)]
    """The account's email address (any string up to 320 characters; case does not matter)."""
    password: Annotated[str, StringConstraints(max_length=256)]
    """The account's password (any string up to 256 characters)."""


class AccountOut(Out):
    model_config = _example(id=ACCOUNT_ID, email="parent@example.com", created_at=NOW)

    id: uuid.UUID
    """The account's id."""
    email: str
    """The account's email address, lower-cased."""
    created_at: datetime
    """When the account was created (UTC)."""


class TokenOut(Out):
    model_config = _example(access_token=JWT, token_type="bearer", expires_in=3600)

    access_token: str
    """The account token: send it as `Authorization: Bearer <token>`."""
    token_type: str = "bearer"
    """Always `bearer`."""
    expires_in: int
    """Seconds until the token expires (JWT_LIFETIME_SECONDS, 3600 by default)."""


class MeOut(Out):
    model_config = _example(id=ACCOUNT_ID, email="parent@example.com", is_admin=False,
                            has_pin=True)

    id: uuid.UUID
    """The account's id."""
    email: str
    """The account's email address, lower-cased."""
    is_admin: bool
    """Whether the account may call the admin endpoints (title upsert, metrics)."""
    has_pin: bool
    """Whether the account has set its parental PIN."""


# --- profiles and titles ----------------------------------------------------------------------

class ProfileCreate(Strict):
    model_config = _example(name="Mia", is_kids=True, timezone="Europe/Berlin")

    name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    """The profile's name: 1 to 100 characters once surrounding whitespace is stripped."""
    is_kids: bool
    """Whether this is a child profile: a child profile gets the default limits (weekdays 120
    minutes, weekends 180, reset hour 6, educational titles exempt); an adult one has none."""
    timezone: TimeZoneName = "UTC"
    """The IANA time zone of the child's viewing days, such as `Europe/Berlin` (default `UTC`;
    not stored for an adult profile)."""


class ProfileOut(Out):
    model_config = _example(id=PROFILE_ID, name="Mia", is_kids=True, created_at=NOW)

    id: uuid.UUID
    """The profile's id."""
    name: str
    """The profile's name."""
    is_kids: bool
    """Whether this is a child profile (one with viewing-time limits)."""
    created_at: datetime
    """When the profile was created (UTC)."""


class TitleIn(Strict):
    model_config = _example(id=TITLE_ID, title="Dinosaur Expedition", is_educational=True)

    id: uuid.UUID
    """The title's id, chosen by the catalog: an existing id is replaced."""
    title: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    """The title's name, 1 to 300 characters."""
    is_educational: bool
    """Whether the title is educational: its time is exempt from the limit for profiles whose
    config says `educational_exempt`."""


class TitlesUpsert(Strict):
    model_config = _example(titles=[{"id": TITLE_ID, "title": "Dinosaur Expedition",
                                     "is_educational": True}])

    titles: Annotated[list[TitleIn], Field(max_length=10_000)]
    """Up to 10,000 titles to insert or replace; when an id appears twice the last one wins."""


class TitleOut(Out):
    model_config = _example(id=TITLE_ID, title="Dinosaur Expedition", is_educational=True)

    id: uuid.UUID
    """The title's id."""
    title: str
    """The title's name."""
    is_educational: bool
    """Whether the title is educational (exempt from the limit where the config says so)."""


EXAMPLE_CURSOR = encode_cursor(Title(uuid.UUID(TITLE_ID), "Dinosaur Expedition", True))


class TitlesQuery(Query):
    """?query= (words, each matching the start of a word of the title), ?limit=, ?cursor=
    (next_cursor of the page before)."""

    model_config = _example(query="dino exp", limit=20, cursor=EXAMPLE_CURSOR)

    query: str = Field("", max_length=200)
    """Search words, at most 200 characters: a title matches when it contains every word as
    the start of one of its words, case-insensitively (`dino exp` finds "Dinosaur
    Expedition"); only the first 8 words count. Empty: the whole catalog."""
    limit: int = Field(20, ge=1, le=100)
    """Page size: 1 to 100 titles (default 20)."""
    cursor: str | None = Field(None, max_length=1000)
    """The `next_cursor` of the previous page (with the same `query`); left out: the first
    page. A cursor this service did not hand out is a 422."""

    @field_validator("cursor")
    @classmethod
    def _known_cursor(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value)  # ValueError: 422 naming the cursor
        return value

    @property
    def after(self) -> tuple[str, uuid.UUID] | None:
        return None if self.cursor is None else decode_cursor(self.cursor)


class TitlePageOut(Out):
    model_config = _example(items=[{"id": TITLE_ID, "title": "Dinosaur Expedition",
                                    "is_educational": True}], next_cursor=EXAMPLE_CURSOR)

    items: list[TitleOut]
    """This page's titles, ordered by title, then id."""
    next_cursor: str | None
    """Pass it as `cursor` for the next page; null on the last page."""


class UpsertedOut(Out):
    model_config = _example(upserted=1)

    upserted: int
    """How many distinct title ids were written."""


# --- viewing time -----------------------------------------------------------------------------

class DeviceType(StrEnum):
    tv = "tv"
    mobile = "mobile"
    tablet = "tablet"
    web = "web"


DeviceName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class BeatBody(Strict):
    """A heartbeat with a device token: device_id may be left out (it is then the device's own
    id, and device_type the device's type)."""

    profile_id: uuid.UUID
    """The profile watching (with a device token: the device's own profile)."""
    title_id: uuid.UUID
    """The title being watched; it must stay the session's title."""
    device_id: DeviceName | None = None
    """The player's own stable id, 1 to 100 characters; with a device token it may be left out
    (then it is the device's id)."""
    device_type: DeviceType = DeviceType.web
    """The kind of player: `tv`, `mobile`, `tablet` or `web` (default `web`; with a device
    token, the paired device's type)."""
    session_id: uuid.UUID | None = None
    """Left out on the first beat; then the `session_id` the previous answer gave."""
    is_paused: bool = False
    """Whether playback is paused (default false)."""


class HeartbeatRequest(BeatBody):
    model_config = _example(profile_id=PROFILE_ID, title_id=TITLE_ID, device_id="living-room-tv",
                            device_type="tv", session_id=SESSION_ID, is_paused=False)

    device_id: DeviceName  # required with an account token (same place in the field order)
    """The player's own stable id, 1 to 100 characters: required with an account token; with a
    device token it may be left out (then it is the device's id)."""


class HeartbeatResponse(Out):
    model_config = _example(session_id=SESSION_ID, enforcement="warning_15",
                            remaining_minutes=14.5, used_minutes=105.5, is_educational=False,
                            reason=None, next_allowed_at=None)

    session_id: uuid.UUID
    """The session this beat counted for: send it with the next beat."""
    enforcement: Enforcement
    """What the player must do: `allowed`, `warning_15` (15 minutes or less left), `warning_5`
    (5 or less) or `blocked` (stop playback; a blocked beat is still a 200)."""
    remaining_minutes: float | None
    """Minutes left today (the lesser of the limit's remainder and the time to the end of the
    allowed hours), never below 0, rounded to 2 decimals; null when unlimited."""
    used_minutes: float
    """Minutes charged against the limit today, exempt educational time not included (0 for
    an adult profile)."""
    is_educational: bool
    """Whether the session's title is educational."""
    reason: Reason | None = None  # why not allowed: null while watching is allowed
    """Why watching is blocked: `daily_limit_reached`, `outside_allowed_hours` or
    `locked_by_parent` (the one that ends last when several hold); null when not blocked."""
    next_allowed_at: datetime | None = None  # when blocked: when watching may resume, if known
    """When blocked: when watching may resume if nothing else changes; null when not blocked,
    for an open-ended lock, or when no allowed window comes within a week."""


class DeviceCreate(Strict):
    model_config = _example(name="Mia's TV", device_type="tv")

    name: DeviceName
    """A name for the player, 1 to 100 characters, shown to the parent."""
    device_type: DeviceType
    """The kind of player: `tv`, `mobile`, `tablet` or `web`."""


_DEVICE = {"id": DEVICE_ID, "profile_id": PROFILE_ID, "name": "Mia's TV", "device_type": "tv"}


class DeviceOut(Out):
    model_config = _example(**_DEVICE, created_at=NOW, last_seen_at="2026-03-04T12:09:00Z")

    id: uuid.UUID
    """The device's id."""
    profile_id: uuid.UUID
    """The one profile the device acts for."""
    name: str
    """The device's name."""
    device_type: DeviceType
    """The kind of player: `tv`, `mobile`, `tablet` or `web`."""
    created_at: datetime
    """When the device was paired (UTC)."""
    last_seen_at: datetime | None
    """When the device last made a request (updated at most once a minute); null if never."""


class DevicePairedOut(DeviceOut):
    model_config = _example(**_DEVICE, created_at=NOW, last_seen_at=None, device_token=JWT)

    device_token: str  # shown once: keep it on the device
    """The device token, shown only in this answer: keep it on the device. It acts for this
    profile only, without expiry, until the device is unpaired."""


class ThisDeviceOut(Out):
    model_config = _example(**_DEVICE)

    id: uuid.UUID
    """The calling device's id."""
    profile_id: uuid.UUID
    """The one profile the device acts for."""
    name: str
    """The device's name."""
    device_type: DeviceType
    """The kind of player: `tv`, `mobile`, `tablet` or `web`."""


class SessionEndOut(Out):
    model_config = _example(session_id=SESSION_ID, total_seconds=600.0,
                            ended_at="2026-03-04T12:10:00Z")

    session_id: uuid.UUID
    """The session that ended."""
    total_seconds: float
    """The session's charged time in seconds, after the refund of its unused paid window."""
    ended_at: datetime
    """When the session ended (UTC); the same on every later end or stop."""


class BalanceOut(Out):
    model_config = _example(
        profile_id=PROFILE_ID, is_child_profile=True, has_limits=True, used_minutes=105.5,
        educational_minutes=12.0, limit_minutes=120, remaining_minutes=14.5,
        is_unlimited_override=False, next_reset_at="2026-03-05T06:00:00Z",
        warning_threshold_minutes=[15, 5], granted_minutes=0, reason=None, next_allowed_at=None)

    profile_id: uuid.UUID
    """The profile."""
    is_child_profile: bool
    """Whether the profile is a child's; for an adult every figure is empty (0 or null)."""
    has_limits: bool
    """Whether today is limited: `limit_minutes` is not null."""
    used_minutes: float
    """Minutes charged against the limit today (exempt educational time not included)."""
    educational_minutes: float
    """Minutes of exempt educational viewing today (not charged)."""
    limit_minutes: int | None
    """Today's limit in minutes; null: unlimited today (and for an adult profile)."""
    remaining_minutes: float | None
    """Minutes the next heartbeat of a regular (non-exempt) title would have left; null:
    unlimited."""
    is_unlimited_override: bool
    """Whether an unlimited grant makes the rest of today unlimited."""
    next_reset_at: datetime | None
    """The start of the next viewing day (UTC); null for an adult profile."""
    warning_threshold_minutes: list[int] = [15, 5]
    """The remaining minutes at which the heartbeat warns (`warning_15`, `warning_5`)."""
    granted_minutes: int = 0  # granted today (an unlimited grant: is_unlimited_override)
    """Minutes granted today (an unlimited grant shows as `is_unlimited_override` instead)."""
    reason: Reason | None = None  # what the next heartbeat would answer
    """Why the next heartbeat would be blocked (`daily_limit_reached`,
    `outside_allowed_hours`, `locked_by_parent`); null when it would be allowed."""
    next_allowed_at: datetime | None = None
    """When blocked: when watching may resume if nothing else changes; null otherwise or when
    not known."""


class EligibilityOut(Out):
    model_config = _example(eligible=False, remaining_minutes=0.0,
                            reason="viewing_time_exhausted",
                            next_reset_at="2026-03-05T06:00:00Z",
                            next_allowed_at="2026-03-05T06:00:00Z")

    eligible: bool
    """Whether playback may start now."""
    remaining_minutes: float | None
    """Minutes left today; null: unlimited (always for an adult profile)."""
    reason: str | None  # viewing_time_exhausted, locked_by_parent
    """Why not: `viewing_time_exhausted`, `outside_allowed_hours` or `locked_by_parent`; null
    when eligible. An exempt educational title may still play when the time is used up."""
    next_reset_at: datetime | None
    """The start of the next viewing day (UTC); null for an adult profile."""
    next_allowed_at: datetime | None = None
    """When not eligible: when playback may start if nothing else changes; null otherwise or
    when not known."""


# --- operations -------------------------------------------------------------------------------


_HEARTBEAT_METRICS = {"total_processed": 120000, "avg_db_ops_per_heartbeat": 1.0,
                      "avg_duration_ms": 1.8, "max_duration_ms": 42.0, "p95_duration_ms": 3.1}
_CACHE_METRICS = {"hit_rate": 0.998, "total_hits": 119760, "total_misses": 240,
                  "total_invalidations": 12, "current_size": 240, "max_size": 10000}
_REPORT_METRICS = {"total_generated": 5, "avg_queries_per_report": 3.0}


class HeartbeatMetrics(Out):
    model_config = _example(**_HEARTBEAT_METRICS)

    total_processed: int
    """Heartbeats handled by this process since it started."""
    avg_db_ops_per_heartbeat: float
    """Database round trips per heartbeat, on average."""
    avg_duration_ms: float
    """Mean time to handle a heartbeat, in milliseconds."""
    max_duration_ms: float
    """Longest time to handle a heartbeat, in milliseconds."""
    p95_duration_ms: float  # over the most recent 10,000 heartbeats
    """95th percentile of the handling time in milliseconds, over the most recent 10,000
    heartbeats."""


class CacheMetrics(Out):
    model_config = _example(**_CACHE_METRICS)

    hit_rate: float  # hits / (hits + misses), 0..1
    """hits / (hits + misses), from 0 to 1 (0 before the first lookup)."""
    total_hits: int
    """Config lookups answered from the cache."""
    total_misses: int
    """Config lookups that read the database."""
    total_invalidations: int
    """Times an entry was dropped because the profile's config changed."""
    current_size: int
    """Profiles whose config is in the cache now."""
    max_size: int
    """The most profiles the cache holds."""


class WeeklyReportMetrics(Out):
    model_config = _example(**_REPORT_METRICS)

    total_generated: int
    """Weekly reports generated by this process since it started."""
    avg_queries_per_report: float
    """Database queries per weekly report, on average."""


class PerformanceMetrics(Out):
    model_config = _example(uptime_seconds=3600.5, heartbeat=_HEARTBEAT_METRICS,
                            config_cache=_CACHE_METRICS, weekly_report=_REPORT_METRICS)

    uptime_seconds: float
    """Seconds since this process started."""
    heartbeat: HeartbeatMetrics
    """Heartbeat counts and handling times of this process."""
    config_cache: CacheMetrics
    """The viewing-time config cache of this process."""
    weekly_report: WeeklyReportMetrics
    """Weekly reports generated by this process."""


# --- parental controls ------------------------------------------------------------------------

def _limit_minutes(value: int) -> int:
    problem = limit_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _reset_hour(value: int) -> int:
    if not 0 <= value <= 23:
        raise ValueError("must be an hour from 0 to 23")
    return value


def _grant_minutes(value: int) -> int:
    if value not in (15, 30, 60):
        raise ValueError("must be 15, 30, 60 or null (unlimited for the rest of the day)")
    return value


# The validators give the readable 422; the JSON schemas give the document the same ranges.
LimitMinutes = Annotated[int, AfterValidator(_limit_minutes), WithJsonSchema(
    {"type": "integer", "minimum": 15, "maximum": 480, "multipleOf": 15})]
ResetHour = Annotated[int, AfterValidator(_reset_hour),
                      WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 23})]
GrantMinutes = Annotated[int, AfterValidator(_grant_minutes),
                         WithJsonSchema({"type": "integer", "enum": [15, 30, 60]})]
PinToken = Annotated[str, StringConstraints(max_length=2048)]


class PinStatusOut(Out):
    model_config = _example(has_pin=True, locked_until=None)

    has_pin: bool
    """Whether the account has a parental PIN."""
    locked_until: datetime | None
    """While the PIN is locked after 5 wrong answers: when it opens again; null when not
    locked."""


class PinSet(Strict):
    model_config = _example(new_pin="5678", current_pin="1234")

    new_pin: Pin
    """The new PIN: exactly 4 ASCII digits, as a string."""
    current_pin: Pin | None = None
    """The PIN now in force, 4 digits: required once a PIN exists (a wrong one counts toward
    the lockout); left out when setting the first PIN."""


class PinVerify(Strict):
    model_config = _example(pin="1234")

    pin: Pin
    """The PIN to check: exactly 4 ASCII digits, as a string (a wrong one counts toward the
    lockout)."""


class PinReset(Strict):
    model_config = _example(password="correct horse", new_pin="4321")

    password: Annotated[str, StringConstraints(max_length=256)]
    """The account's password (a wrong one counts toward the sign-in throttle)."""
    new_pin: Pin
    """The new PIN: exactly 4 ASCII digits, as a string."""


class PinVerifiedOut(Out):
    model_config = _example(verified=True, pin_token=JWT, expires_at="2026-03-04T12:05:00Z")

    verified: bool = True
    """Always true (a wrong PIN is a 403)."""
    pin_token: str
    """Proof of the PIN for the account, for the changes and on-device grants that need it;
    lasts PIN_TOKEN_LIFETIME_SECONDS (300 s) and is refused once the PIN gets locked."""
    expires_at: datetime
    """When the pin_token stops being accepted (UTC)."""


class DetailOut(Out):
    model_config = _example(detail="PIN set successfully")

    detail: str
    """What was done, in one sentence."""


class ViewingTimeConfigOut(Out):
    model_config = _example(
        profile_id=PROFILE_ID, profile_name="Mia", weekday_limit_minutes=120,
        weekend_limit_minutes=180, reset_hour=6, educational_exempt=True,
        timezone="Europe/Berlin", updated_at=NOW, effective_from=None)

    profile_id: uuid.UUID
    """The child profile."""
    profile_name: str
    """The profile's name."""
    weekday_limit_minutes: int | None
    """The limit of a Monday-to-Friday viewing day, in minutes; null: unlimited."""
    weekend_limit_minutes: int | None
    """The limit of a Saturday or Sunday viewing day, in minutes; null: unlimited."""
    reset_hour: int
    """The local hour (0 to 23) at which a viewing day starts."""
    educational_exempt: bool
    """Whether educational titles are exempt: their time is not charged against the limit."""
    timezone: str
    """The IANA time zone of the child's viewing days, such as `Europe/Berlin`."""
    updated_at: datetime
    """When the config last changed (UTC)."""
    # Set while a reset_hour/timezone change waits for the next reset (the current day keeps
    # the old rule); null when the shown values are already in force.
    effective_from: datetime | None = None
    """Set while a `reset_hour` or `timezone` change waits for the next reset (the current day
    keeps the old rule): when the shown values take effect; null when they are in force."""


class ViewingTimeConfigUpdate(Strict):
    """Only the fields present change (`model_fields_set`): absent ≠ null. Limits may be null
    (unlimited); reset_hour, educational_exempt and timezone may not."""

    model_config = _example(weekday_limit_minutes=90, weekend_limit_minutes=180, reset_hour=5,
                            educational_exempt=True, timezone="Europe/Berlin", pin_token=JWT)

    weekday_limit_minutes: LimitMinutes | None = None
    """The Monday-to-Friday limit: 15 to 480 minutes in steps of 15, or null (unlimited);
    applies at once."""
    weekend_limit_minutes: LimitMinutes | None = None
    """The Saturday and Sunday limit: 15 to 480 minutes in steps of 15, or null (unlimited);
    applies at once."""
    # Absent is allowed (None here, and not in `model_fields_set`), null is not: the document
    # shows no null for them.
    reset_hour: Annotated[ResetHour | None,
                          WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 23})] = None
    """The local hour (0 to 23) at which a viewing day starts, not null; needs `pin_token` and
    applies from the next reset."""
    educational_exempt: Annotated[bool | None, WithJsonSchema({"type": "boolean"})] = None
    """Whether educational titles are exempt from the limit, not null; needs `pin_token` and
    applies at once."""
    timezone: Annotated[TimeZoneName | None,
                        WithJsonSchema({"type": "string", "maxLength": 64})] = None
    """An IANA time zone name such as `Europe/Berlin`, not null; applies from the next
    reset."""
    pin_token: PinToken | None = None
    """A `pin_token` from POST /parental-controls/pin/verify: required to change `reset_hour`
    or `educational_exempt` (a credential, not a change)."""

    @field_validator("reset_hour", "educational_exempt", "timezone", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null (leave the field out to keep it)")
        return value

    def changes(self) -> dict[str, Any]:
        """The config fields the body sets (pin_token is a credential, not a change)."""
        return {name: getattr(self, name) for name in self.model_fields_set if name != "pin_token"}


class GrantRequest(Strict):
    model_config = _example(minutes=30, pin="1234", pin_token=None)

    minutes: GrantMinutes | None  # required; null = unlimited for the rest of the viewing day
    """Required: 15, 30 or 60 extra minutes, or null (unlimited for the rest of the viewing
    day)."""
    pin: Pin | None = None
    """The PIN (4 digits), for an on-device grant; a wrong one counts toward the lockout.
    Without `pin` and `pin_token` the grant is remote (account token only)."""
    pin_token: PinToken | None = None
    """A `pin_token`, instead of `pin`, for an on-device grant."""


class GrantOut(Out):
    model_config = _example(granted_minutes=30, remaining_minutes=30.0,
                            is_unlimited_override=False)

    granted_minutes: int | None
    """The minutes this grant added; null for an unlimited grant."""
    remaining_minutes: float | None
    """The limit's remainder today in minutes after the grant (allowed hours not taken into
    account); null: unlimited."""
    is_unlimited_override: bool
    """Whether the rest of today is unlimited (an unlimited grant today)."""


class GrantRecordOut(Out):
    model_config = _example(id=GRANT_ID, granted_minutes=None, is_remote=False,
                            granted_at="2026-03-04T12:02:00Z", granted_by=ACCOUNT_ID,
                            request_id=None)

    id: uuid.UUID
    """The grant's id."""
    granted_minutes: int | None
    """Minutes granted; null: unlimited for the rest of that viewing day."""
    is_remote: bool
    """Whether the grant came from the parent's own app (no PIN) rather than on the device."""
    granted_at: datetime
    """When the grant was made (UTC)."""
    granted_by: uuid.UUID
    """The account that made the grant."""
    request_id: uuid.UUID | None  # the approved time request; null for a direct grant
    """The approved time request this grant answers; null for a grant made directly."""


def _request_minutes(value: int) -> int:
    if value not in (15, 30, 60):
        raise ValueError("must be 15, 30 or 60")
    return value


RequestMinutes = Annotated[int, AfterValidator(_request_minutes)]


class TimeRequestCreate(Strict):
    model_config = _example(profile_id=PROFILE_ID, minutes=30,
                            message="Just one more episode, please!")

    profile_id: uuid.UUID
    """The child profile asking (with a device token: the device's own profile)."""
    minutes: RequestMinutes
    """The extra minutes asked for today: 15, 30 or 60."""
    message: Annotated[str, StringConstraints(max_length=200)] | None = None
    """A note for the parent, at most 200 characters; may be left out or null."""


class TimeRequestDecision(Strict):
    """`minutes` absent: as asked; present and null: unlimited for the rest of the day."""

    model_config = _example(approve=True, minutes=30)

    approve: bool
    """True approves (and grants the time for the request's viewing day), false denies."""
    minutes: GrantMinutes | None = None
    """With an approval: the minutes to grant instead of those asked, 15, 30 or 60; null:
    unlimited for the rest of the day; left out: as asked."""


class TimeRequestOut(Out):
    model_config = _example(
        id=REQUEST_ID, profile_id=PROFILE_ID, profile_name="Mia", minutes=30,
        message="Just one more episode, please!", status="pending", created_at=NOW,
        expires_at="2026-03-04T12:15:00Z", decided_at=None, granted_minutes=None, grant_id=None)

    id: uuid.UUID
    """The request's id."""
    profile_id: uuid.UUID
    """The child profile that asked."""
    profile_name: str
    """The profile's name."""
    minutes: int
    """The minutes asked for: 15, 30 or 60."""
    message: str | None
    """The child's note; null when none was given."""
    status: Literal["pending", "approved", "denied", "expired"]
    """`pending` (waiting for a decision), `approved`, `denied` or `expired` (from
    `expires_at` on, undecided)."""
    created_at: datetime
    """When the request was made (UTC)."""
    expires_at: datetime
    """When an undecided request expires: TIME_REQUEST_TTL_SECONDS (900 by default) after it
    was made; it never moves."""
    decided_at: datetime | None
    """When a parent approved or denied it; null while pending and for an expired request."""
    granted_minutes: int | None
    """The minutes granted by an approval; null for an unlimited approval, a denial, or while
    undecided."""
    grant_id: uuid.UUID | None
    """The grant an approval wrote; null unless approved."""


class TimeRequestsQuery(Query):
    """?status=pending (default: waiting for a decision) or all; newest first."""

    model_config = _example(status="pending")

    status: Literal["pending", "all"] = "pending"
    """`pending` (default): the requests waiting for a decision; `all`: every request,
    whatever its status."""


_DAY_LIMITS_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {day: {"type": ["integer", "null"], "minimum": 15, "maximum": 480,
                         "multipleOf": 15} for day in WEEKDAYS}}
_WINDOW_SCHEMA = {"type": "object", "required": ["start", "end"], "properties": {
    "start": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
    "end": {"type": "string", "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"}}}
_ALLOWED_HOURS_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {day: {"type": "array", "maxItems": 6, "items": _WINDOW_SCHEMA}
                   for day in WEEKDAYS}}


class ScheduleUpdate(Strict):
    """Replaces the whole schedule; a key left out is {} (no per-day limits, allowed all day).
    The contents are checked by the domain (app/domain/schedules.py), which names every bad
    field at once."""

    model_config = _example(limits={"mon": 60, "fri": 90, "sat": None},
                            allowed_hours={"mon": [{"start": "07:00", "end": "19:30"}],
                                           "sun": []})

    limits: Annotated[Any, WithJsonSchema(_DAY_LIMITS_SCHEMA)] = None
    """Day (`mon` … `sun`) → that day's limit: 15 to 480 minutes in steps of 15, or null
    (unlimited that day). A day left out keeps the weekday/weekend limit."""
    allowed_hours: Annotated[Any, WithJsonSchema(_ALLOWED_HOURS_SCHEMA)] = None
    """Day (`mon` … `sun`) → at most 6 windows `{"start": "HH:MM", "end": "HH:MM"}` in local
    time, from 00:00 to 24:00, start before end, not overlapping. A day left out is allowed all
    day; `[]` allows nothing that day."""


class WindowOut(Out):
    model_config = _example(start="07:00", end="19:30")

    start: str
    """When the window opens, local time `HH:MM`."""
    end: str
    """When the window closes, local time `HH:MM` (`24:00`: the end of the day)."""


class DayScheduleOut(Out):
    model_config = _example(day="mon", limit_minutes=60,
                            allowed_hours=[{"start": "07:00", "end": "19:30"}])

    day: str
    """The weekday: `mon`, `tue`, `wed`, `thu`, `fri`, `sat` or `sun`."""
    limit_minutes: int | None
    """The limit in force that day in minutes (the schedule's, else the weekday/weekend
    limit); null: unlimited."""
    allowed_hours: list[WindowOut]
    """The windows in which watching is allowed that day (`00:00`–`24:00` for a day without
    windows; empty: nothing allowed)."""


_WEEK = [{"day": day, "limit_minutes": {"mon": 60, "fri": 90, "sat": 180, "sun": 180}.get(day, 120),
          "allowed_hours": [{"start": "07:00", "end": "19:30"}] if day == "mon"
          else [{"start": "00:00", "end": "24:00"}]} for day in WEEKDAYS]


class ScheduleOut(Out):
    model_config = _example(profile_id=PROFILE_ID, limits={"mon": 60, "fri": 90},
                            allowed_hours={"mon": [{"start": "07:00", "end": "19:30"}]},
                            updated_at=NOW, week=_WEEK)

    profile_id: uuid.UUID
    """The child profile."""
    limits: dict[str, int | None]
    """The per-day limits as stored: day → minutes, or null (unlimited that day)."""
    allowed_hours: dict[str, list[WindowOut]]
    """The allowed hours as stored: day → windows."""
    updated_at: datetime
    """The schedule's last change (the config's when no schedule was ever set), UTC."""
    week: list[DayScheduleOut]
    """The seven days from Monday as they apply: each day's limit and windows."""


class LockRequest(Strict):
    model_config = _example(until="2099-03-04T19:30:00Z")

    until: AwareDatetime | None  # required; null: until unlocked
    """Required: the instant the lock ends, in the future and with a UTC offset; null: locked
    until unlocked."""


class LockOut(Out):
    model_config = _example(profile_id=PROFILE_ID, locked=True, until="2026-03-04T19:30:00Z")

    profile_id: uuid.UUID
    """The child profile."""
    locked: bool
    """Whether the profile is locked (every heartbeat blocked with `locked_by_parent`)."""
    until: datetime | None
    """When the lock ends (UTC); null when locked until unlocked, or when not locked."""


class SessionsQuery(Query):
    """?state=open (default: watching now) or all; newest first."""

    model_config = _example(state="open", limit=50)

    state: Literal["open", "all"] = "open"
    """`open` (default): the sessions not ended, who is watching now; `all`: every session."""
    limit: int = Field(50, ge=1, le=200)
    """At most this many sessions, 1 to 200 (default 50)."""


class LiveSessionOut(Out):
    model_config = _example(
        session_id=SESSION_ID, title_id=TITLE_ID, title_name="Dinosaur Expedition",
        device_id=DEVICE_ID, device_type="tv", device_name="Mia's TV", started_at=NOW,
        last_heartbeat_at="2026-03-04T12:09:30Z", ended_at=None, is_paused=False,
        watched_minutes=10.0)

    session_id: uuid.UUID
    """The session's id."""
    title_id: uuid.UUID
    """The title watched."""
    title_name: str
    """The title's name."""
    device_id: str
    """The player's id as the heartbeat gave it (a paired device's: its id)."""
    device_type: str
    """The kind of player: `tv`, `mobile`, `tablet` or `web`."""
    device_name: str | None
    """The paired device's name when a paired device opened the session; null otherwise."""
    started_at: datetime
    """When the session started (UTC)."""
    last_heartbeat_at: datetime
    """When its latest heartbeat came (UTC)."""
    ended_at: datetime | None
    """When it ended (UTC); null while open."""
    is_paused: bool
    """Whether the latest heartbeat said paused."""
    watched_minutes: float
    """The session's charged time in minutes, the prepaid interval included while open."""


class HistoryQuery(Query):
    """Query-string dates (YYYY-MM-DD): viewing days of the profile, both ends included."""

    model_config = _example(from_date="2026-02-03", to_date="2026-03-04")

    from_date: date | None = None
    """The first viewing day, `YYYY-MM-DD`, included (default: 29 days before `to_date`); not
    after `to_date`, and at most 90 days before it."""
    to_date: date | None = None
    """The last viewing day, `YYYY-MM-DD`, included (default: today's viewing day)."""


_HISTORY_SESSION = {"session_id": SESSION_ID, "title_id": TITLE_ID,
                    "title_name": "Dinosaur Expedition", "device_type": "tv",
                    "is_educational": True, "started_at": NOW, "ended_at": None,
                    "duration_minutes": 12.0}


class HistorySessionOut(Out):
    model_config = _example(**_HISTORY_SESSION)

    session_id: uuid.UUID
    """The session's id."""
    title_id: uuid.UUID
    """The title watched."""
    title_name: str
    """The title's name."""
    device_type: str
    """The kind of player: `tv`, `mobile`, `tablet` or `web`."""
    is_educational: bool
    """Whether the title is educational."""
    started_at: datetime
    """When the session started (UTC)."""
    ended_at: datetime | None
    """When it ended (UTC); null while open."""
    duration_minutes: float
    """The session's charged time, in minutes."""


_HISTORY_DAY = {"date": "2026-03-04", "total_minutes": 22.0, "educational_minutes": 12.0,
                "counted_minutes": 10.0,
                "sessions": [_HISTORY_SESSION],
                "limit_minutes": 120}


class HistoryDayOut(Out):
    model_config = _example(**_HISTORY_DAY)

    date: date
    """The viewing day, `YYYY-MM-DD`."""
    total_minutes: float
    """Minutes watched that day: counted plus exempt educational."""
    educational_minutes: float
    """Minutes of exempt educational viewing (not charged)."""
    counted_minutes: float
    """Minutes charged against the limit."""
    sessions: list[HistorySessionOut]
    """The sessions that started that viewing day."""
    limit_minutes: int | None  # the limit in force at the end of that day (today: now)
    """The limit in force at the end of that day (today: now), in minutes; null: unlimited.
    Later changes do not rewrite past days."""


class ViewingHistoryOut(Out):
    model_config = _example(profile_id=PROFILE_ID, from_date="2026-02-03", to_date="2026-03-04",
                            truncated=False, days=[_HISTORY_DAY])

    profile_id: uuid.UUID
    """The child profile."""
    from_date: date
    """The first viewing day of the range, `YYYY-MM-DD`."""
    to_date: date
    """The last viewing day of the range, `YYYY-MM-DD`."""
    truncated: bool  # more than the 500 newest sessions in the range
    """Whether the range had more than the 500 newest sessions listed."""
    days: list[HistoryDayOut]
    """The days with viewing, newest first."""


_DAILY_TOTAL = {"date": "2026-02-26", "minutes": 95.0, "counted_minutes": 80.0,
                "educational_minutes": 15.0, "limit_minutes": 120}
_TOP_TITLE = {"title_id": TITLE_ID, "title_name": "Dinosaur Expedition", "total_minutes": 200.0}
_PROFILE_REPORT = {
    "profile_id": PROFILE_ID, "profile_name": "Mia", "week_start": "2026-02-26",
    "week_end": "2026-03-04", "daily_totals": [_DAILY_TOTAL], "average_daily_minutes": 73.5,
    "total_minutes": 514.5, "educational_minutes": 60.0, "limit_usage_percent": 47.34,
    "top_titles": [_TOP_TITLE]}


class DailyTotalOut(Out):
    model_config = _example(**_DAILY_TOTAL)

    date: date
    """The viewing day, `YYYY-MM-DD`."""
    minutes: float
    """Minutes watched that day: counted plus exempt educational."""
    counted_minutes: float
    """Minutes charged against the limit."""
    educational_minutes: float
    """Minutes of exempt educational viewing (not charged)."""
    limit_minutes: int | None
    """The limit in force that day, in minutes; null: unlimited."""


class TopTitleOut(Out):
    model_config = _example(**_TOP_TITLE)

    title_id: uuid.UUID
    """The title."""
    title_name: str
    """The title's name."""
    total_minutes: float
    """Minutes the profile watched it in the week."""


class ProfileReportOut(Out):
    model_config = _example(**_PROFILE_REPORT)

    profile_id: uuid.UUID
    """The child profile."""
    profile_name: str
    """The profile's name."""
    week_start: date
    """The first of the profile's 7 viewing days, `YYYY-MM-DD`."""
    week_end: date
    """The last of them (the profile's today), `YYYY-MM-DD`."""
    daily_totals: list[DailyTotalOut]
    """Each of the 7 viewing days."""
    average_daily_minutes: float
    """`total_minutes` / 7 (educational included)."""
    total_minutes: float
    """Minutes watched in the week, educational included."""
    educational_minutes: float
    """Minutes of exempt educational viewing in the week."""
    limit_usage_percent: float | None
    """Counted minutes on the days that had a limit over the sum of those limits, in percent;
    null when no day had a limit."""
    top_titles: list[TopTitleOut]
    """The 3 most-watched titles of the week."""


class WeeklyReportOut(Out):
    model_config = _example(week_start="2026-02-26", week_end="2026-03-04",
                            profiles=[_PROFILE_REPORT])

    week_start: date
    """The earliest `week_start` of the profiles (children in different zones may be on
    different days), `YYYY-MM-DD`."""
    week_end: date
    """The latest `week_end` of the profiles, `YYYY-MM-DD`."""
    profiles: list[ProfileReportOut]
    """One report per child profile of the account."""



# --- webhooks ---------------------------------------------------------------------------------

def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise ValueError(f"must be one of {', '.join(EVENT_TYPES)}")
    return value


EventType = Annotated[str, AfterValidator(_event_type),
                      WithJsonSchema({"type": "string", "enum": list(EVENT_TYPES)})]


_EVENTS = ["time_request.created", "viewing.blocked"]
_WEBHOOK = {"id": WEBHOOK_ID, "url": "https://hooks.example.com/vt", "events": _EVENTS}


class WebhookCreate(Strict):
    model_config = _example(url="https://hooks.example.com/vt", events=_EVENTS)

    # The URL's rules need a DNS lookup, so the service checks them (422 naming `url`).
    url: Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL_LENGTH)]
    """Where the events are POSTed: an `https://` URL with a host and no user name or
    password, at most 2048 characters, whose host resolves only to public addresses."""
    events: Annotated[list[EventType], Field(min_length=1)] | None = None  # None: every type
    """The event types to deliver, a non-empty list (a type named twice is kept once); left
    out or null: every type."""


class WebhookOut(Out):
    model_config = _example(**_WEBHOOK, created_at=NOW, last_delivery_at="2026-03-04T12:30:00Z",
                            last_status=200, failing_since=None)

    id: uuid.UUID
    """The subscription's id."""
    url: str
    """Where the events are POSTed."""
    events: list[str]
    """The event types delivered."""
    created_at: datetime
    """When the subscription was made (UTC)."""
    last_delivery_at: datetime | None
    """When the most recent delivery was attempted, successful or not; null if never."""
    last_status: int | None
    """The HTTP status the most recent attempt got; null when it got no HTTP answer (timeout,
    refused connection or address) or none was made yet."""
    failing_since: datetime | None
    """Set when an event was given up on (after 24 hours of retries); cleared by the next
    successful delivery."""


class WebhookCreatedOut(Out):
    model_config = _example(**_WEBHOOK, secret="whsec_c2VjcmV0IGtleSBvZiAzMiByYW5kb20gYnl0ZXMh",
                            created_at=NOW)

    id: uuid.UUID
    """The subscription's id."""
    url: str
    """Where the events are POSTed."""
    events: list[str]
    """The event types delivered."""
    secret: str  # shown once: signs every delivery
    """The signing secret (`whsec_` + base64 of 32 random bytes), shown only in this answer: it
    signs every delivery's `webhook-signature`."""
    created_at: datetime
    """When the subscription was made (UTC)."""
