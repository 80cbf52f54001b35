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
from app.domain.catalog import decode_cursor
from app.domain.control import Reason
from app.domain.schedules import WEEKDAYS, limit_problem
from app.domain.webhooks import EVENT_TYPES, MAX_URL_LENGTH


class Strict(BaseModel):
    """Request bodies: `"60"` is not an int, `1` not a bool; unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold U+0000 and bcrypt refuses it: a 422 here, not a 500 later
        # (the fuzzer found a title, passwords did the same). Costs < 1 µs a body.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL (U+0000) characters")
        return value


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


class TitlesQuery(BaseModel):
    """?query= (words, each matching the start of a word of the title), ?limit=, ?cursor=
    (next_cursor of the page before)."""

    query: str = Field("", max_length=200)
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=1000)

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
    items: list[TitleOut]
    next_cursor: str | None


class UpsertedOut(Out):
    upserted: int


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
    title_id: uuid.UUID
    device_id: DeviceName | None = None
    device_type: DeviceType = DeviceType.web
    session_id: uuid.UUID | None = None
    is_paused: bool = False


class HeartbeatRequest(BeatBody):
    device_id: DeviceName  # required with an account token (same place in the field order)


class HeartbeatResponse(Out):
    session_id: uuid.UUID
    enforcement: Enforcement
    remaining_minutes: float | None
    used_minutes: float
    is_educational: bool
    reason: Reason | None = None  # why not allowed: null while watching is allowed
    next_allowed_at: datetime | None = None  # when blocked: when watching may resume, if known


class DeviceCreate(Strict):
    name: DeviceName
    device_type: DeviceType


class DeviceOut(Out):
    id: uuid.UUID
    profile_id: uuid.UUID
    name: str
    device_type: DeviceType
    created_at: datetime
    last_seen_at: datetime | None


class DevicePairedOut(DeviceOut):
    device_token: str  # shown once: keep it on the device


class ThisDeviceOut(Out):
    id: uuid.UUID
    profile_id: uuid.UUID
    name: str
    device_type: DeviceType


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
    granted_minutes: int = 0  # granted today (an unlimited grant: is_unlimited_override)
    reason: Reason | None = None  # what the next heartbeat would answer
    next_allowed_at: datetime | None = None


class EligibilityOut(Out):
    eligible: bool
    remaining_minutes: float | None
    reason: str | None  # viewing_time_exhausted, locked_by_parent
    next_reset_at: datetime | None
    next_allowed_at: datetime | None = None


# --- operations -------------------------------------------------------------------------------


class HeartbeatMetrics(Out):
    total_processed: int
    avg_db_ops_per_heartbeat: float
    avg_duration_ms: float
    max_duration_ms: float
    p95_duration_ms: float  # over the most recent 10,000 heartbeats


class CacheMetrics(Out):
    hit_rate: float  # hits / (hits + misses), 0..1
    total_hits: int
    total_misses: int
    total_invalidations: int
    current_size: int
    max_size: int


class WeeklyReportMetrics(Out):
    total_generated: int
    avg_queries_per_report: float


class PerformanceMetrics(Out):
    uptime_seconds: float
    heartbeat: HeartbeatMetrics
    config_cache: CacheMetrics
    weekly_report: WeeklyReportMetrics


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
    has_pin: bool
    locked_until: datetime | None


class PinSet(Strict):
    new_pin: Pin
    current_pin: Pin | None = None


class PinVerify(Strict):
    pin: Pin


class PinReset(Strict):
    password: Annotated[str, StringConstraints(max_length=256)]
    new_pin: Pin


class PinVerifiedOut(Out):
    verified: bool = True
    pin_token: str
    expires_at: datetime


class DetailOut(Out):
    detail: str


class ViewingTimeConfigOut(Out):
    profile_id: uuid.UUID
    profile_name: str
    weekday_limit_minutes: int | None
    weekend_limit_minutes: int | None
    reset_hour: int
    educational_exempt: bool
    timezone: str
    updated_at: datetime
    # Set while a reset_hour/timezone change waits for the next reset (the current day keeps
    # the old rule); null when the shown values are already in force.
    effective_from: datetime | None = None


class ViewingTimeConfigUpdate(Strict):
    """Only the fields present change (`model_fields_set`): absent ≠ null. Limits may be null
    (unlimited); reset_hour, educational_exempt and timezone may not."""

    weekday_limit_minutes: LimitMinutes | None = None
    weekend_limit_minutes: LimitMinutes | None = None
    # Absent is allowed (None here, and not in `model_fields_set`), null is not: the document
    # shows no null for them.
    reset_hour: Annotated[ResetHour | None,
                          WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 23})] = None
    educational_exempt: Annotated[bool | None, WithJsonSchema({"type": "boolean"})] = None
    timezone: Annotated[TimeZoneName | None,
                        WithJsonSchema({"type": "string", "maxLength": 64})] = None
    pin_token: PinToken | None = None

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
    minutes: GrantMinutes | None  # required; null = unlimited for the rest of the viewing day
    pin: Pin | None = None
    pin_token: PinToken | None = None


class GrantOut(Out):
    granted_minutes: int | None
    remaining_minutes: float | None
    is_unlimited_override: bool


class GrantRecordOut(Out):
    id: uuid.UUID
    granted_minutes: int | None
    is_remote: bool
    granted_at: datetime
    granted_by: uuid.UUID
    request_id: uuid.UUID | None  # the approved time request; null for a direct grant


def _request_minutes(value: int) -> int:
    if value not in (15, 30, 60):
        raise ValueError("must be 15, 30 or 60")
    return value


RequestMinutes = Annotated[int, AfterValidator(_request_minutes)]


class TimeRequestCreate(Strict):
    profile_id: uuid.UUID
    minutes: RequestMinutes
    message: Annotated[str, StringConstraints(max_length=200)] | None = None


class TimeRequestDecision(Strict):
    """`minutes` absent: as asked; present and null: unlimited for the rest of the day."""

    approve: bool
    minutes: GrantMinutes | None = None


class TimeRequestOut(Out):
    id: uuid.UUID
    profile_id: uuid.UUID
    profile_name: str
    minutes: int
    message: str | None
    status: Literal["pending", "approved", "denied", "expired"]
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    granted_minutes: int | None
    grant_id: uuid.UUID | None


class TimeRequestsQuery(BaseModel):
    """?status=pending (default: waiting for a decision) or all; newest first."""

    status: Literal["pending", "all"] = "pending"


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

    limits: Annotated[Any, WithJsonSchema(_DAY_LIMITS_SCHEMA)] = None
    allowed_hours: Annotated[Any, WithJsonSchema(_ALLOWED_HOURS_SCHEMA)] = None


class WindowOut(Out):
    start: str
    end: str


class DayScheduleOut(Out):
    day: str
    limit_minutes: int | None
    allowed_hours: list[WindowOut]


class ScheduleOut(Out):
    profile_id: uuid.UUID
    limits: dict[str, int | None]
    allowed_hours: dict[str, list[WindowOut]]
    updated_at: datetime
    week: list[DayScheduleOut]


class LockRequest(Strict):
    until: AwareDatetime | None  # required; null: until unlocked


class LockOut(Out):
    profile_id: uuid.UUID
    locked: bool
    until: datetime | None


class SessionsQuery(BaseModel):
    """?state=open (default: watching now) or all; newest first."""

    state: Literal["open", "all"] = "open"
    limit: int = Field(50, ge=1, le=200)


class LiveSessionOut(Out):
    session_id: uuid.UUID
    title_id: uuid.UUID
    title_name: str
    device_id: str
    device_type: str
    device_name: str | None
    started_at: datetime
    last_heartbeat_at: datetime
    ended_at: datetime | None
    is_paused: bool
    watched_minutes: float


class HistoryQuery(BaseModel):
    """Query-string dates (YYYY-MM-DD): viewing days of the profile, both ends included."""

    from_date: date | None = None
    to_date: date | None = None


class HistorySessionOut(Out):
    session_id: uuid.UUID
    title_id: uuid.UUID
    title_name: str
    device_type: str
    is_educational: bool
    started_at: datetime
    ended_at: datetime | None
    duration_minutes: float


class HistoryDayOut(Out):
    date: date
    total_minutes: float
    educational_minutes: float
    counted_minutes: float
    sessions: list[HistorySessionOut]
    limit_minutes: int | None  # the limit in force at the end of that day (today: now)


class ViewingHistoryOut(Out):
    profile_id: uuid.UUID
    from_date: date
    to_date: date
    truncated: bool  # more than the 500 newest sessions in the range
    days: list[HistoryDayOut]


class DailyTotalOut(Out):
    date: date
    minutes: float
    counted_minutes: float
    educational_minutes: float
    limit_minutes: int | None


class TopTitleOut(Out):
    title_id: uuid.UUID
    title_name: str
    total_minutes: float


class ProfileReportOut(Out):
    profile_id: uuid.UUID
    profile_name: str
    week_start: date
    week_end: date
    daily_totals: list[DailyTotalOut]
    average_daily_minutes: float
    total_minutes: float
    educational_minutes: float
    limit_usage_percent: float | None
    top_titles: list[TopTitleOut]


class WeeklyReportOut(Out):
    week_start: date
    week_end: date
    profiles: list[ProfileReportOut]



# --- webhooks ---------------------------------------------------------------------------------

def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise ValueError(f"must be one of {', '.join(EVENT_TYPES)}")
    return value


EventType = Annotated[str, AfterValidator(_event_type),
                      WithJsonSchema({"type": "string", "enum": list(EVENT_TYPES)})]


class WebhookCreate(Strict):
    # The URL's rules need a DNS lookup, so the service checks them (422 naming `url`).
    url: Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL_LENGTH)]
    events: Annotated[list[EventType], Field(min_length=1)] | None = None  # None: every type


class WebhookOut(Out):
    id: uuid.UUID
    url: str
    events: list[str]
    created_at: datetime
    last_delivery_at: datetime | None
    last_status: int | None
    failing_since: datetime | None


class WebhookCreatedOut(Out):
    id: uuid.UUID
    url: str
    events: list[str]
    secret: str  # shown once: signs every delivery
    created_at: datetime
