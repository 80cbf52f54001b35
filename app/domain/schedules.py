"""A child's schedule: a limit for each weekday, and the hours in which watching is allowed.

Limits belong to viewing days (a day that starts at the reset hour); allowed hours belong to
local calendar days in the profile's zone, because "bedtime at 19:30" is read off the wall
clock. Windows are minutes after local midnight; a window bound that does not exist locally (a
spring-forward gap) means the first instant after the gap, one that occurs twice (a fall-back
fold) its first occurrence. Windows that touch, also across midnight, are one continuous
allowance: Friday 20:00–24:00 and Saturday 00:00–01:00 let a child watch until 01:00.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOWS = 6
DAY_MINUTES = 24 * 60
# How far ahead the next window is searched for, and beyond which an allowance's end is not
# reported (a window running past it is as good as endless for a day's limit).
HORIZON = timedelta(days=7)
_CLOCK = re.compile(r"^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$")


def limit_problem(minutes: object) -> str | None:
    """Why a daily limit is not allowed (None: it is). The config's rule: 15..480 in steps of
    15, or null for unlimited."""
    if minutes is None:
        return None
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        return "must be a whole number of minutes or null"
    if not 15 <= minutes <= 480:
        return "must be between 15 and 480 (or null for unlimited)"
    if minutes % 15:
        return "must be a multiple of 15"
    return None


@dataclass(frozen=True, slots=True)
class Window:
    start: int  # minutes after local midnight, 0..1439
    end: int  # 1..1440 (1440: midnight at the end of the day), after start

    def clock(self) -> tuple[str, str]:
        return _clock_of(self.start), _clock_of(self.end)


ALL_DAY = (Window(0, DAY_MINUTES),)


def _clock_of(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class InvalidSchedule(InvalidInput):
    """Every problem of a schedule, each naming its field (`allowed_hours.mon[0].end`)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{where}: {message}" for where, message in problems))
        self.problems = problems

    def extra(self) -> dict[str, object]:
        return {"errors": [{"field": where, "message": message}
                           for where, message in self.problems]}


@dataclass(frozen=True, slots=True)
class Allowance:
    """Where an instant stands in the allowed hours."""

    inside: bool
    ends_at: datetime | None  # inside: when the continuous allowance ends (None: not soon)
    next_start: datetime | None  # outside: the next window's start (None: none within a week)

    def left(self, instant: datetime) -> timedelta | None:
        """Time left in the allowance (zero outside it; None: it does not end soon)."""
        if not self.inside:
            return timedelta(0)
        return None if self.ends_at is None else self.ends_at - instant


@dataclass(frozen=True, slots=True)
class AllowedHours:
    """The windows of each weekday (0 = Monday); a weekday not listed is allowed all day."""

    by_weekday: Mapping[int, tuple[Window, ...]]
    # The last two spans worked out, (zone, from, until, answer): every beat of a session lands
    # in the same window or gap, so the calendar arithmetic runs about once per window, not per
    # beat (the second is for "when may watching resume", asked beside a blocked beat). Lives
    # with the cached config and is dropped with it.
    _memo: list[tuple[ZoneInfo, datetime, datetime, Allowance]] = field(
        default_factory=list, compare=False, repr=False)

    def at(self, instant: datetime, zone: ZoneInfo) -> Allowance:
        for memo_zone, start, until, answer in self._memo:
            if memo_zone is zone and start <= instant < until:
                return answer
        start, until, answer = self._work_out(instant, zone)
        self._memo[:] = [(zone, start, until, answer), *self._memo[:1]]
        return answer

    def _work_out(self, instant: datetime,
                  zone: ZoneInfo) -> tuple[datetime, datetime, Allowance]:
        """The answer at `instant`, and the span [from, until) of instants it holds for."""
        today = instant.astimezone(zone).date()
        horizon_end = local_instant(today + HORIZON + timedelta(days=2), 0, zone)
        valid_until = instant + timedelta(days=1)  # the horizon moves on: look again tomorrow
        previous_end = local_instant(today - timedelta(days=1), 0, zone)
        for start, end in _merged(self._spans(today, zone)):
            if start <= instant < end:
                ends_at = None if end >= horizon_end else end
                return start, min(end, valid_until), Allowance(True, ends_at, None)
            if start > instant:
                next_start = start if start - instant <= HORIZON else None
                return previous_end, min(start, valid_until), Allowance(False, None, next_start)
            previous_end = end
        return previous_end, valid_until, Allowance(False, None, None)

    def _spans(self, today: date, zone: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
        for offset in range(-1, HORIZON.days + 2):
            day = today + timedelta(days=offset)
            for window in self.by_weekday.get(day.weekday(), ALL_DAY):
                yield local_instant(day, window.start, zone), local_instant(day, window.end, zone)


def _merged(spans: Iterator[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    """Overlapping or touching spans as one."""
    current: tuple[datetime, datetime] | None = None
    for start, end in sorted(spans):
        if start >= end:  # a window inside a fall-back fold can collapse: it allows nothing
            continue
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `minute` on `day` in `zone`: in a gap, the first instant
    after it; in a fold, the first occurrence."""
    if minute == DAY_MINUTES:
        day, minute = day + timedelta(days=1), 0
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    first = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first occurrence
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # A gap: fold=0 read the wall time with the offset before the change, fold=1 with the one
    # after, so the change lies between the two readings. Find it to the second.
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(first.timestamp())
    after = first.astimezone(zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@dataclass(frozen=True, slots=True)
class Schedule:
    """As the parent gave it: per-weekday limits (a weekday not listed uses the config's
    weekday or weekend limit; None: unlimited) and allowed hours (None: no windows at all)."""

    limits: Mapping[int, int | None]
    hours: AllowedHours | None

    def stored(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The JSON kept in the config row (and shown back), windows as given."""
        limits = {WEEKDAYS[day]: minutes for day, minutes in sorted(self.limits.items())}
        hours: dict[str, Any] = {}
        if self.hours is not None:
            hours = {WEEKDAYS[day]: [dict(zip(("start", "end"), w.clock(), strict=True))
                                     for w in windows]
                     for day, windows in sorted(self.hours.by_weekday.items())}
        return limits, hours


NO_SCHEDULE = Schedule({}, None)


def parse_schedule(limits: Any, allowed_hours: Any) -> Schedule:
    """A schedule from its JSON, or InvalidSchedule naming every bad field."""
    problems: list[tuple[str, str]] = []
    day_limits = _parse_limits(limits, problems)
    hours = _parse_hours(allowed_hours, problems)
    if problems:
        raise InvalidSchedule(problems)
    return Schedule(day_limits, None if hours is None else AllowedHours(hours))


def _weekday(key: object, where: str, problems: list[tuple[str, str]]) -> int | None:
    if key in WEEKDAYS:
        return WEEKDAYS.index(str(key))
    problems.append((f"{where}.{key}", "unknown day (the days are " + ", ".join(WEEKDAYS) + ")"))
    return None


def _parse_limits(raw: Any, problems: list[tuple[str, str]]) -> dict[int, int | None]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(("limits", "must be an object of days (mon..sun) to minutes or null"))
        return {}
    limits: dict[int, int | None] = {}
    for key, minutes in raw.items():
        day = _weekday(key, "limits", problems)
        problem = limit_problem(minutes)
        if problem is not None:
            problems.append((f"limits.{key}", problem))
        elif day is not None:
            limits[day] = minutes
    return limits


def _parse_hours(raw: Any, problems: list[tuple[str, str]]) -> dict[int, tuple[Window, ...]] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(("allowed_hours", "must be an object of days (mon..sun) to windows"))
        return None
    hours: dict[int, tuple[Window, ...]] = {}
    for key, windows in raw.items():
        day = _weekday(key, "allowed_hours", problems)
        parsed = _parse_windows(windows, f"allowed_hours.{key}", problems)
        if day is not None and parsed is not None:
            hours[day] = parsed
    return hours or None


def _parse_windows(raw: Any, where: str,
                   problems: list[tuple[str, str]]) -> tuple[Window, ...] | None:
    if not isinstance(raw, list):
        problems.append((where, "must be a list of windows ([] allows no watching that day)"))
        return None
    if len(raw) > MAX_WINDOWS:
        problems.append((where, f"at most {MAX_WINDOWS} windows a day"))
        return None
    windows: list[tuple[int, Window]] = []
    for index, item in enumerate(raw):
        window = _parse_window(item, f"{where}[{index}]", problems)
        if window is not None:
            windows.append((index, window))
    ordered = sorted(windows, key=lambda pair: pair[1].start)
    for (first, a), (second, b) in zip(ordered, ordered[1:], strict=False):
        if b.start < a.end:
            problems.append((f"{where}[{second}]", f"overlaps {where}[{first}]"))
    if len(windows) < len(raw):
        return None
    return tuple(window for _, window in windows)


def _parse_window(raw: Any, where: str, problems: list[tuple[str, str]]) -> Window | None:
    if not isinstance(raw, dict) or set(raw) != {"start", "end"}:
        problems.append((where, 'must be {"start": "HH:MM", "end": "HH:MM"}'))
        return None
    start = _minute(raw["start"], f"{where}.start", problems)
    end = _minute(raw["end"], f"{where}.end", problems)
    if start is None or end is None:
        return None
    if end <= start:
        problems.append((f"{where}.end", "must be after start"))
        return None
    if start == DAY_MINUTES:
        problems.append((f"{where}.start", 'must be before "24:00"'))
        return None
    return Window(start, end)


def _minute(raw: Any, where: str, problems: list[tuple[str, str]]) -> int | None:
    match = _CLOCK.match(raw) if isinstance(raw, str) else None
    if match is None:
        problems.append((where, 'must be a time "HH:MM" from "00:00" to "24:00"'))
        return None
    hour, minute = (int(part) for part in match.groups() if part is not None)
    return hour * 60 + minute


def stored_schedule(limits: Mapping[str, Any] | None,
                    allowed_hours: Mapping[str, Any] | None) -> Schedule:
    """The schedule kept in a config row (validated when it was stored)."""
    if not limits and not allowed_hours:  # never set, or cleared ({}): nothing to parse
        return NO_SCHEDULE
    return parse_schedule(limits, allowed_hours)
