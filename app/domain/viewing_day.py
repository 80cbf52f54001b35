"""The viewing day: which day's allowance an instant belongs to, and when it resets.

A profile's viewing day for instant t is t's local date in the profile's zone, or the day
before when the local hour is earlier than `reset_hour`. All arithmetic is on aware datetimes
through zoneinfo, so days stay right across daylight-saving changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.domain.control import Lock
from app.domain.schedules import NO_SCHEDULE, Allowance, Schedule


@dataclass(frozen=True, slots=True)
class DayRule:
    zone: ZoneInfo
    reset_hour: int

    def day_of(self, instant: datetime) -> date:
        local = instant.astimezone(self.zone)
        return local.date() - timedelta(days=1) if local.hour < self.reset_hour else local.date()

    def start_of(self, day: date) -> datetime:
        """The first instant of viewing day `day`, in UTC.

        In a spring-forward gap (local reset_hour:00 does not exist) zoneinfo reads the wall
        time with the pre-transition offset, which lands on the first instant whose local hour
        is past the reset hour: exactly when the day changes. In a fall-back fold, fold=0 picks
        the first occurrence.
        """
        return datetime.combine(day, time(self.reset_hour), tzinfo=self.zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DayInfo:
    day: date
    limit_minutes: int | None
    next_reset_at: datetime


@dataclass(frozen=True, slots=True)
class LimitConfig:
    """A child profile's limits. A reset-hour or zone change keeps the previous rule until
    `effective_from` (the next reset under it), so the current viewing day never moves. A
    schedule's per-weekday limits override the weekday/weekend ones."""

    weekday_limit_minutes: int | None
    weekend_limit_minutes: int | None
    educational_exempt: bool
    rule: DayRule
    previous_rule: DayRule | None = None
    effective_from: datetime | None = None
    lock: Lock | None = None  # a parent's lock, while set
    schedule: Schedule = NO_SCHEDULE

    @classmethod
    def stored(cls, *, weekday_limit_minutes: int | None, weekend_limit_minutes: int | None,
               educational_exempt: bool, timezone: str, reset_hour: int,
               previous_timezone: str | None, previous_reset_hour: int | None,
               effective_from: datetime | None, locked_at: datetime | None = None,
               locked_until: datetime | None = None,
               schedule: Schedule = NO_SCHEDULE) -> LimitConfig:
        """From the config as it is stored (zone names, hours), wherever it was read."""
        previous = None
        if previous_reset_hour is not None and previous_timezone is not None:
            previous = DayRule(ZoneInfo(previous_timezone), previous_reset_hour)
        return cls(weekday_limit_minutes=weekday_limit_minutes,
                   weekend_limit_minutes=weekend_limit_minutes,
                   educational_exempt=educational_exempt,
                   rule=DayRule(ZoneInfo(timezone), reset_hour), previous_rule=previous,
                   effective_from=effective_from,
                   lock=None if locked_at is None else Lock(locked_until), schedule=schedule)

    def locked_at(self, instant: datetime) -> bool:
        return self.lock is not None and self.lock.holds_at(instant)

    def rule_at(self, instant: datetime) -> DayRule:
        if self.previous_rule is not None and self.effective_from is not None \
                and instant < self.effective_from:
            return self.previous_rule
        return self.rule

    def limit_for(self, day: date) -> int | None:
        return self.week()[day.weekday()]

    def week(self) -> tuple[int | None, ...]:
        """The limit of each weekday's viewing day, Monday first (None: unlimited)."""
        defaults = (self.weekday_limit_minutes,) * 5 + (self.weekend_limit_minutes,) * 2
        overrides = self.schedule.limits
        return tuple(overrides[day] if day in overrides else default
                     for day, default in enumerate(defaults))

    def allowance(self, instant: datetime) -> Allowance | None:
        """Where `instant` stands in the allowed hours, read on the clock of the zone in force
        then; None when the schedule has no allowed hours (watching allowed at any hour)."""
        hours = self.schedule.hours
        return None if hours is None else hours.at(instant, self.rule_at(instant).zone)

    def opens_at(self, instant: datetime) -> datetime | None:
        """The first instant from `instant` on that the allowed hours allow (None: none within
        a week of it)."""
        allowance = self.allowance(instant)
        if allowance is None or allowance.inside:
            return instant
        return allowance.next_start

    def day_at(self, instant: datetime) -> DayInfo:
        rule = self.rule_at(instant)
        day = rule.day_of(instant)
        if rule is self.previous_rule:
            assert self.effective_from is not None
            next_reset = self.effective_from
        else:
            if self.previous_rule is not None and self.effective_from is not None:
                # A later reset hour (or a zone further west) must not bring back the day that
                # ended at `effective_from`: the new rule starts from the day that began there.
                day = max(day, self.previous_rule.day_of(self.effective_from))
            next_reset = rule.start_of(day + timedelta(days=1))
        return DayInfo(day=day, limit_minutes=self.limit_for(day), next_reset_at=next_reset)
