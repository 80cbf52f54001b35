"""A child's request for more time and the parent's answer: the rules, without the database.

A request lives until the TTL runs out or its viewing day ends, whichever comes first; once
`expires_at` has passed it reads as expired wherever it is read, before any sweep flips the
row. At most one is pending per profile and at most `PER_DAY` are made per viewing day.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.domain.errors import Conflict, NotFound, TooManyRequests

MINUTES = (15, 30, 60)
PER_DAY = 3
PENDING, APPROVED, DENIED, EXPIRED = "pending", "approved", "denied", "expired"
CREATED_EVENT, EXPIRED_EVENT = "time_request.created", "time_request.expired"


@dataclass(frozen=True, slots=True)
class TimeRequest:
    """One request as stored, with its profile's name and owner (for answers and events)."""

    id: uuid.UUID
    profile_id: uuid.UUID
    profile_name: str
    account_id: uuid.UUID
    viewing_day: date
    minutes: int
    message: str | None
    status: str
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    granted_minutes: int | None
    grant_id: uuid.UUID | None

    def seen_at(self, now: datetime) -> TimeRequest:
        """As read at `now`: a pending request past its expiry is expired already."""
        if self.status == PENDING and self.expires_at <= now:
            return replace(self, status=EXPIRED)
        return self

    def as_json(self) -> dict[str, Any]:
        """The `TimeRequest` of the API, as plain JSON values (for webhook events)."""
        return {"id": str(self.id), "profile_id": str(self.profile_id),
                "profile_name": self.profile_name, "minutes": self.minutes,
                "message": self.message, "status": self.status,
                "created_at": _instant(self.created_at), "expires_at": _instant(self.expires_at),
                "decided_at": _instant(self.decided_at), "granted_minutes": self.granted_minutes,
                "grant_id": None if self.grant_id is None else str(self.grant_id)}

    def event_data(self) -> dict[str, Any]:
        """`data` of a time_request.* event: the fields every event has, and the request."""
        return {"account_id": str(self.account_id), "profile_id": str(self.profile_id),
                "profile_name": self.profile_name, "viewing_day": self.viewing_day.isoformat(),
                "request": self.as_json()}


def _instant(value: datetime | None) -> str | None:
    """UTC with a `Z`, as the API writes instants."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def expiry(created_at: datetime, *, ttl_seconds: int, day_ends_at: datetime) -> datetime:
    """When a request made at `created_at` expires: after the TTL or when its viewing day
    ends, whichever comes first (an approval must not land on the next day)."""
    return min(created_at + timedelta(seconds=ttl_seconds), day_ends_at)


def granted_minutes(asked: int, *, decided: int | None, given: bool) -> int | None:
    """What an approval grants: the decision's minutes when the key was given (None there is
    unlimited for the rest of the day), else what the child asked for."""
    return decided if given else asked


def seconds_until(now: datetime, instant: datetime) -> int:
    """Whole seconds from `now` to `instant`, rounded up and at least 1 (a Retry-After)."""
    return max(1, math.ceil((instant - now).total_seconds()))


@dataclass(frozen=True, slots=True)
class CreateChecks:
    """What the creating transaction found, under the profile's lock."""

    pending_id: uuid.UUID | None
    made_today: int
    unlimited_today: bool


class TimeRequestNotFound(NotFound):
    detail = "Time request not found"


class NotLimited(Conflict):
    detail = "Today is not limited for this profile: there is no time to ask for"
    code = "not_limited"


class RequestPending(Conflict):
    detail = "A time request is already pending for this profile"
    code = "request_pending"

    def __init__(self, request_id: uuid.UUID) -> None:
        super().__init__()
        self.request_id = request_id

    def extra(self) -> dict[str, object]:
        return {**super().extra(), "request_id": str(self.request_id)}


class RequestClosed(Conflict):
    detail = "This time request was already decided or has expired"
    code = "request_closed"


class TooManyTimeRequests(TooManyRequests):
    detail = f"At most {PER_DAY} time requests per viewing day; ask again tomorrow"

    def extra(self) -> dict[str, object]:
        return {"code": "too_many_requests"}


def refusal(checks: CreateChecks, *, next_day_at: datetime,
            now: datetime) -> Conflict | TooManyRequests | None:
    """Why a new request may not be made (None: it may). An unlimited grant today means there
    is nothing to ask for; the pending one is named so the player can follow it."""
    if checks.unlimited_today:
        return NotLimited()
    if checks.pending_id is not None:
        return RequestPending(checks.pending_id)
    if checks.made_today >= PER_DAY:
        return TooManyTimeRequests(seconds_until(now, next_day_at))
    return None
