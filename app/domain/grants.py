"""Grants of extra viewing time: the day they changed, the answer, the audit trail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class DayAfterGrant:
    used_seconds: Decimal
    granted_seconds: int
    is_unlimited_override: bool


@dataclass(frozen=True, slots=True)
class Granted:
    granted_minutes: int | None  # None: unlimited for the rest of the viewing day
    remaining_minutes: float | None
    is_unlimited_override: bool


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """One audit row: who granted how much, when, and from where."""

    id: uuid.UUID
    granted_minutes: int | None
    is_remote: bool
    granted_at: datetime
    granted_by: uuid.UUID
    request_id: uuid.UUID | None = None  # the time request this grant approved
