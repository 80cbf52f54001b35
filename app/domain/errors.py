"""Domain errors. `app.http_errors` maps each class to one HTTP status.

    DomainError
    ├── NotFound ── ProfileNotFound, TitleNotFound, SessionNotFound
    ├── Conflict ── EmailTaken, SessionEnded, SessionTitleMismatch
    ├── NotAuthenticated ── BadCredentials, AccountGone
    ├── Forbidden ── AdminRequired, IncorrectPin, PinLocked, PinTokenInvalid
    ├── BadRequest ── PinNotSet, CurrentPinRequired
    ├── InvalidInput (422)
    ├── TooManyRequests (429)
    └── DatabaseUnavailable (503) ── EnforcementUnavailable (503, fail-closed body)
"""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    detail = "Request failed"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail

    def extra(self) -> dict[str, object]:
        """Fields added to the JSON error body next to `detail`."""
        return {}


class NotFound(DomainError):
    detail = "Not found"


class ProfileNotFound(NotFound):
    detail = "Profile not found"


class TitleNotFound(NotFound):
    detail = "Title not found"


class SessionNotFound(NotFound):
    detail = "Session not found"


class Conflict(DomainError):
    detail = "Conflict"
    code: str | None = None

    def extra(self) -> dict[str, object]:
        return {"code": self.code} if self.code else {}


class EmailTaken(Conflict):
    detail = "Email is already registered"


class SessionEnded(Conflict):
    detail = "Session has ended"
    code = "session_ended"

    def __init__(self, detail: str | None = None, *, reason: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason  # 'stopped_by_parent', or None

    def extra(self) -> dict[str, object]:
        return {**super().extra(), **({"reason": self.reason} if self.reason else {})}


class SessionTitleMismatch(Conflict):
    detail = "Heartbeat title does not match the session's title"
    code = "session_title_mismatch"


class NotAuthenticated(DomainError):
    detail = "Not authenticated"


class BadCredentials(NotAuthenticated):
    detail = "Incorrect email or password"


class AccountGone(NotAuthenticated):
    """A signed, unexpired token can outlive its account: the caller is then nobody (401)."""

    detail = "Account no longer exists"


class Forbidden(DomainError):
    detail = "Forbidden"


class AdminRequired(Forbidden):
    detail = "Admin role required"


class IncorrectPin(Forbidden):
    detail = "Incorrect PIN"


class PinTokenInvalid(Forbidden):
    detail = "A valid pin_token is required"


class PinLocked(Forbidden):
    detail = "PIN is locked after too many failed attempts"

    def __init__(self, locked_until: datetime) -> None:
        super().__init__()
        self.locked_until = locked_until

    def extra(self) -> dict[str, object]:
        return {"locked_until": self.locked_until.isoformat()}


class BadRequest(DomainError):
    detail = "Bad request"


class PinNotSet(BadRequest):
    detail = "No PIN set"


class CurrentPinRequired(BadRequest):
    detail = "current_pin is required to change an existing PIN"


class InvalidInput(DomainError):
    """422. `detail` reads "field: why"; the body lists it under `errors` as well, so every 422
    has the same shape as a body that failed validation."""

    detail = "Invalid input"

    def extra(self) -> dict[str, object]:
        field, _, message = self.detail.partition(": ")
        return {"errors": [{"field": field, "message": message} if message
                           else {"field": "body", "message": self.detail}]}


class TooManyRequests(DomainError):
    detail = "Too many attempts; try again later"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__()
        self.retry_after_seconds = retry_after_seconds


class DatabaseUnavailable(DomainError):
    detail = "Database unavailable"


class EnforcementUnavailable(DatabaseUnavailable):
    """Fail closed: a child's time could not be checked, so playback is blocked."""

    detail = "Viewing-time enforcement is unavailable"

    def __init__(self, *, eligibility: bool = False) -> None:
        super().__init__()
        self.eligibility = eligibility

    def extra(self) -> dict[str, object]:
        if self.eligibility:
            return {"eligible": False, "remaining_minutes": 0, "reason": "enforcement_unavailable",
                    "next_reset_at": None, "next_allowed_at": None}
        return {"session_id": None, "enforcement": "blocked", "reason": "enforcement_unavailable",
                "remaining_minutes": 0, "used_minutes": None, "is_educational": None,
                "next_allowed_at": None}
