"""A child profile's viewing-time config: the stored row, a partial change, and its rules.

Limits and educational_exempt apply at once. A reset_hour or timezone change never moves the
current viewing day (docs/time-accounting.md): the old rule is kept as previous_* until
`effective_from`, the next reset under it. A second change before then keeps that pending
switch-over instant.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from app.domain.control import LockState
from app.domain.errors import InvalidInput
from app.domain.schedules import ALL_DAY, WEEKDAYS, Schedule, stored_schedule
from app.domain.viewing_day import LimitConfig


class Keep(Enum):
    """A field of a ConfigChange that was not given: absent, which is not the same as None."""

    KEEP = "keep"


KEEP = Keep.KEEP
Kept = Literal[Keep.KEEP]

# Changing these on a child's device needs a fresh PIN check (a pin_token).
SENSITIVE = frozenset({"reset_hour", "educational_exempt"})


@dataclass(frozen=True, slots=True)
class ViewingConfig:
    profile_id: uuid.UUID
    weekday_limit_minutes: int | None  # None: unlimited
    weekend_limit_minutes: int | None
    reset_hour: int
    educational_exempt: bool
    timezone: str
    previous_reset_hour: int | None  # the rule in force until effective_from, if pending
    previous_timezone: str | None
    effective_from: datetime | None
    updated_at: datetime
    locked_at: datetime | None = None  # a parent's lock, while set
    locked_until: datetime | None = None  # None while locked: until unlocked
    day_limits: dict[str, Any] | None = None  # the schedule as given (app/domain/schedules.py)
    allowed_hours: dict[str, Any] | None = None
    schedule_updated_at: datetime | None = None  # None: never set


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """Only the fields given change; KEEP marks the others (a limit may change to None)."""

    weekday_limit_minutes: int | None | Kept = KEEP
    weekend_limit_minutes: int | None | Kept = KEEP
    reset_hour: int | Kept = KEEP
    educational_exempt: bool | Kept = KEEP
    timezone: str | Kept = KEEP

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not KEEP}

    def is_sensitive(self) -> bool:
        return bool(SENSITIVE & self.given().keys())


@dataclass(frozen=True, slots=True)
class ConfigView:
    """The config as a parent reads it: `effective_from` only while a switch-over waits."""

    profile_id: uuid.UUID
    profile_name: str
    weekday_limit_minutes: int | None
    weekend_limit_minutes: int | None
    reset_hour: int
    educational_exempt: bool
    timezone: str
    updated_at: datetime
    effective_from: datetime | None


@dataclass(frozen=True, slots=True)
class DaySchedule:
    """One weekday as it applies: the limit of its viewing day and its allowed hours."""

    day: str
    limit_minutes: int | None
    allowed_hours: list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class ScheduleView:
    """The schedule as stored (windows as given), and the week it makes with the defaults."""

    profile_id: uuid.UUID
    limits: dict[str, Any]
    allowed_hours: dict[str, Any]
    updated_at: datetime  # of the schedule; the config's while no schedule was ever set
    week: list[DaySchedule]


def schedule_view(config: ViewingConfig) -> ScheduleView:
    limits = limits_of(config)
    hours = limits.schedule.hours
    week = []
    for day, limit in enumerate(limits.week()):
        windows = ALL_DAY if hours is None else hours.by_weekday.get(day, ALL_DAY)
        week.append(DaySchedule(WEEKDAYS[day], limit,
                                [{"start": w.clock()[0], "end": w.clock()[1]} for w in windows]))
    return ScheduleView(profile_id=config.profile_id, limits=config.day_limits or {},
                        allowed_hours=config.allowed_hours or {},
                        updated_at=config.schedule_updated_at or config.updated_at, week=week)


def limits_of(config: ViewingConfig) -> LimitConfig:
    return LimitConfig.stored(
        weekday_limit_minutes=config.weekday_limit_minutes,
        weekend_limit_minutes=config.weekend_limit_minutes,
        educational_exempt=config.educational_exempt, timezone=config.timezone,
        reset_hour=config.reset_hour, previous_timezone=config.previous_timezone,
        previous_reset_hour=config.previous_reset_hour, effective_from=config.effective_from,
        locked_at=config.locked_at, locked_until=config.locked_until,
        schedule=stored_schedule(config.day_limits, config.allowed_hours))


def week_replaced(before: ViewingConfig,
                  after: ViewingConfig) -> tuple[int | None, ...] | None:
    """The week of limits a change replaced (Monday first), or None when the change left every
    weekday's limit as it was: past days keep the limits in force at their end."""
    old, new = limits_of(before).week(), limits_of(after).week()
    return None if old == new else old


def with_schedule(config: ViewingConfig, schedule: Schedule, now: datetime) -> ViewingConfig:
    """`config` with its schedule replaced as a whole."""
    limits, hours = schedule.stored()
    return replace(config, day_limits=limits, allowed_hours=hours, schedule_updated_at=now)


def _pending(config: ViewingConfig, now: datetime) -> bool:
    return config.previous_reset_hour is not None and config.effective_from is not None \
        and now < config.effective_from


def _move_day_rule(config: ViewingConfig, hour: int, zone: str,
                   now: datetime) -> ViewingConfig:
    """A new reset hour or zone, in force from the next reset under the current rule."""
    if not _pending(config, now):
        # From the next reset under the rule in force now (a stale previous_* included).
        config = replace(config, effective_from=limits_of(config).day_at(now).next_reset_at,
                         previous_reset_hour=config.reset_hour,
                         previous_timezone=config.timezone)
    config = replace(config, reset_hour=hour, timezone=zone)
    if (hour, zone) == (config.previous_reset_hour, config.previous_timezone):
        # Changed back before the switch-over: nothing is pending any more.
        config = replace(config, previous_reset_hour=None, previous_timezone=None,
                         effective_from=None)
    return config


def apply_change(config: ViewingConfig, change: ConfigChange, now: datetime) -> ViewingConfig:
    """`config` after `change`, as the rules say."""
    changes = change.given()
    hour = changes.pop("reset_hour", config.reset_hour)
    zone = changes.pop("timezone", config.timezone)
    if (hour, zone) != (config.reset_hour, config.timezone):
        config = _move_day_rule(config, hour, zone, now)
    return replace(config, **changes, updated_at=now)


def config_view(name: str, config: ViewingConfig, now: datetime) -> ConfigView:
    return ConfigView(
        profile_id=config.profile_id, profile_name=name,
        weekday_limit_minutes=config.weekday_limit_minutes,
        weekend_limit_minutes=config.weekend_limit_minutes,
        reset_hour=config.reset_hour, educational_exempt=config.educational_exempt,
        timezone=config.timezone, updated_at=config.updated_at,
        effective_from=config.effective_from if _pending(config, now) else None,
    )


def locked(config: ViewingConfig, *, now: datetime, until: datetime | None) -> ViewingConfig:
    """Locked from `now` until `until` (None: until unlocked); it must end in the future."""
    if until is not None and until <= now:
        raise InvalidInput("until: must be in the future (or null: until unlocked)")
    return replace(config, locked_at=now, locked_until=until)


def unlocked(config: ViewingConfig) -> ViewingConfig:
    return replace(config, locked_at=None, locked_until=None)


def lock_state(config: ViewingConfig, now: datetime) -> LockState:
    """As a parent sees it: a lock whose `until` has passed is gone."""
    lock = limits_of(config).lock
    if lock is None or not lock.holds_at(now):
        return LockState(config.profile_id, locked=False, until=None)
    return LockState(config.profile_id, locked=True, until=lock.until)
