"""What parents read: a child's viewing history and the account's weekly report, and the
rows they are made of (see app/services/reports.py for how days are grouped)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from app.domain.balance import minutes
from app.domain.configs import ViewingConfig


@dataclass(frozen=True, slots=True)
class DayTotal:
    used_seconds: Decimal
    educational_seconds: Decimal


@dataclass(frozen=True, slots=True)
class Child:
    profile_id: uuid.UUID
    name: str
    config: ViewingConfig


@dataclass(frozen=True, slots=True)
class WatchedSession:
    """A viewing session as stored, with its title's name; history lists it as it is."""

    session_id: uuid.UUID
    title_id: uuid.UUID
    title_name: str
    device_type: str
    is_educational: bool
    started_at: datetime
    ended_at: datetime | None
    total_seconds: Decimal

    @property
    def duration_minutes(self) -> float:
        return minutes(self.total_seconds)


@dataclass(frozen=True, slots=True)
class TitleSeconds:
    """Seconds a profile watched one title over its week."""

    profile_id: uuid.UUID
    title_id: uuid.UUID
    title_name: str
    seconds: Decimal


@dataclass(frozen=True, slots=True)
class HistoryDay:
    date: date
    total_minutes: float
    educational_minutes: float
    counted_minutes: float
    sessions: list[WatchedSession]


@dataclass(frozen=True, slots=True)
class ViewingHistory:
    profile_id: uuid.UUID
    from_date: date
    to_date: date
    truncated: bool  # more sessions in the range than are listed
    days: list[HistoryDay]


@dataclass(frozen=True, slots=True)
class DailyTotal:
    date: date
    minutes: float
    counted_minutes: float
    educational_minutes: float
    limit_minutes: int | None


@dataclass(frozen=True, slots=True)
class TopTitle:
    title_id: uuid.UUID
    title_name: str
    total_minutes: float


@dataclass(frozen=True, slots=True)
class ProfileReport:
    profile_id: uuid.UUID
    profile_name: str
    week_start: date
    week_end: date
    daily_totals: list[DailyTotal]
    average_daily_minutes: float
    total_minutes: float
    educational_minutes: float
    limit_usage_percent: float | None
    top_titles: list[TopTitle]


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    week_start: date
    week_end: date
    profiles: list[ProfileReport]
