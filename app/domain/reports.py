"""What parents read: a child's viewing history and the account's weekly report, and the
rows they are made of (see app/services/reports.py for how days are grouped)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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
class WeekReplaced:
    """A change of a child's limits: when, and the week of limits in force until then (Monday
    first, None: unlimited)."""

    changed_at: datetime
    week_before: tuple[int | None, ...]


def limit_on(day: date, day_end: datetime, current: tuple[int | None, ...],
             changes: Sequence[WeekReplaced]) -> int | None:
    """The limit in force at the end of viewing day `day` (ending at `day_end`): the one the
    first change after that replaced, else the current one (today's end is still to come).
    `changes` oldest first; changes before the day's end do not matter. The caller passes, for
    days before the profile existed, the end of its first day: no limit was in force then, and
    the ones a parent set up on the first day are the closest to what they meant."""
    for change in changes:
        if change.changed_at >= day_end:
            return change.week_before[day.weekday()]
    return current[day.weekday()]


@dataclass(frozen=True, slots=True)
class Child:
    profile_id: uuid.UUID
    name: str
    config: ViewingConfig
    created_at: datetime
    changes: tuple[WeekReplaced, ...] = ()  # of its limits, recent ones, oldest first


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
    limit_minutes: int | None  # in force at the end of the day (today: now)


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
