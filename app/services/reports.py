"""What parents read: a child's viewing history and the account's weekly report.

Both group by the child's viewing day (its time zone and reset hour). Day totals come from the
day's balance row, i.e. what was charged to that viewing day: counted = against the limit,
educational = exempt educational time, total = both. Sessions are listed under the viewing day
they started in.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from app.domain.balance import minutes
from app.domain.clock import Clock
from app.domain.configs import limits_of
from app.domain.errors import AccountGone, InvalidInput
from app.domain.reports import (
    DailyTotal,
    DayTotal,
    HistoryDay,
    ProfileReport,
    TopTitle,
    ViewingHistory,
    WatchedSession,
    WeeklyReport,
    WeekReplaced,
    limit_on,
)
from app.domain.viewing_day import LimitConfig
from app.repositories.reports import ReportRepository
from app.services.config_cache import ConfigProvider
from app.services.metrics import MetricsCollector

HISTORY_DEFAULT_DAYS = 30
HISTORY_MAX_SPAN_DAYS = 90
HISTORY_MAX_SESSIONS = 500
REPORT_DAYS = 7
TOP_TITLES = 3
ZERO = DayTotal(Decimal(0), Decimal(0))


def day_start(limits: LimitConfig, day: date) -> datetime:
    """The first instant `limits.day_at` places in viewing day `day` (or a later day), so
    [day_start(first), day_start(last + 1)) is exactly the instants of days first..last, also
    across a pending reset-hour or time-zone change."""
    previous, switch = limits.previous_rule, limits.effective_from
    if previous is not None and switch is not None:
        start = previous.start_of(day)
        if start < switch:
            return start
        return max(limits.rule.start_of(day), switch)
    return limits.rule.start_of(day)


def _limit_on(limits: LimitConfig, day: date, created_at: datetime,
              changes: tuple[WeekReplaced, ...]) -> int | None:
    """The limit in force at the end of viewing day `day` (for a day before the profile existed,
    at the end of its first day): a later change never rewrites it."""
    first_end = day_start(limits, limits.day_at(created_at).day + timedelta(days=1))
    day_end = max(day_start(limits, day + timedelta(days=1)), first_end)
    return limit_on(day, day_end, limits.week(), changes)


def _percent(part: float, whole: float) -> float | None:
    return round(part / whole * 100, 2) if whole else None


class ReportService:
    def __init__(self, *, reports: ReportRepository, configs: ConfigProvider, clock: Clock,
                 metrics: MetricsCollector) -> None:
        self._reports = reports
        self._configs = configs
        self._clock = clock
        self._metrics = metrics

    async def history(self, account_id: uuid.UUID, profile_id: uuid.UUID, *,
                      from_date: date | None, to_date: date | None) -> ViewingHistory:
        """Viewing days from_date..to_date (default: the 30 ending today), newest first."""
        facts = await self._configs.owned(profile_id, account_id, child=True)
        limits = facts.limits
        assert limits is not None
        last = to_date or limits.day_at(self._clock.now()).day
        first = from_date or last - timedelta(days=HISTORY_DEFAULT_DAYS - 1)
        if first > last:
            raise InvalidInput("from_date: must not be after to_date")
        if (last - first).days > HISTORY_MAX_SPAN_DAYS:
            raise InvalidInput(f"from_date: the range may span at most {HISTORY_MAX_SPAN_DAYS} "
                               "days")
        rows, totals, created_at, changes = await self._reports.history(
            profile_id=profile_id, start=day_start(limits, first),
            end=day_start(limits, last + timedelta(days=1)), first=first, last=last,
            limit=HISTORY_MAX_SESSIONS + 1)
        truncated = len(rows) > HISTORY_MAX_SESSIONS
        sessions: dict[date, list[WatchedSession]] = defaultdict(list)
        for row in rows[:HISTORY_MAX_SESSIONS]:
            sessions[limits.day_at(row.started_at).day].append(row)
        watched = {day for (_, day), t in totals.items()
                   if t.used_seconds or t.educational_seconds}
        days = []
        for day in sorted(watched | sessions.keys(), reverse=True):
            total = totals.get((profile_id, day), ZERO)
            days.append(HistoryDay(
                date=day, total_minutes=minutes(total.used_seconds + total.educational_seconds),
                educational_minutes=minutes(total.educational_seconds),
                counted_minutes=minutes(total.used_seconds), sessions=sessions.get(day, []),
                limit_minutes=_limit_on(limits, day, created_at or self._clock.now(),
                                        changes)))
        return ViewingHistory(profile_id=profile_id, from_date=first, to_date=last,
                              truncated=truncated, days=days)

    async def weekly(self, account_id: uuid.UUID) -> WeeklyReport:
        """The 7 viewing days ending today of every child: 3 statements however many."""
        now = self._clock.now()
        # Changes before the report's first day ended do not matter (see limit_on).
        children = await self._reports.children(
            account_id, changes_since=now - timedelta(days=REPORT_DAYS + 2))
        queries = 1
        # No children: maybe a deleted account whose token is still signed and unexpired.
        if not children:
            queries += 1
            if not await self._reports.account_exists(account_id):
                raise AccountGone()
        weeks = []
        for child in children:
            limits = limits_of(child.config)
            last = limits.day_at(now).day
            first = last - timedelta(days=REPORT_DAYS - 1)
            weeks.append((child, limits, first, last))
        totals: dict[tuple[uuid.UUID, date], DayTotal] = {}
        tops: dict[uuid.UUID, list[TopTitle]] = defaultdict(list)
        if weeks:
            totals, top_rows = await self._reports.weeks(
                profile_ids=[c.profile_id for c, *_ in weeks],
                starts=[day_start(limits, first) for _, limits, first, _ in weeks],
                ends=[day_start(limits, last + timedelta(days=1)) for _, limits, _, last in weeks],
                first=min(first for *_, first, _ in weeks), last=max(w[3] for w in weeks),
                top=TOP_TITLES)
            queries += 2
            for row in top_rows:
                tops[row.profile_id].append(TopTitle(
                    title_id=row.title_id, title_name=row.title_name,
                    total_minutes=minutes(row.seconds)))
        profiles = [self._profile_week(child.profile_id, child.name, limits, first, last, totals,
                                       tops[child.profile_id], child.created_at, child.changes)
                    for child, limits, first, last in weeks]
        self._metrics.report_done(queries=queries)
        if weeks:  # children in different zones may be on different days: span them all
            week_start, week_end = min(w[2] for w in weeks), max(w[3] for w in weeks)
        else:
            week_end = now.date()
            week_start = week_end - timedelta(days=REPORT_DAYS - 1)
        return WeeklyReport(week_start=week_start, week_end=week_end, profiles=profiles)

    @staticmethod
    def _profile_week(profile_id: uuid.UUID, name: str, limits: LimitConfig, first: date,
                      last: date, totals: dict[tuple[uuid.UUID, date], DayTotal],
                      top_titles: list[TopTitle], created_at: datetime,
                      changes: tuple[WeekReplaced, ...]) -> ProfileReport:
        daily = []
        watched = educational = counted_on_limited_days = Decimal(0)
        limit_minutes_sum = 0
        for offset in range(REPORT_DAYS):
            day = first + timedelta(days=offset)
            total = totals.get((profile_id, day), ZERO)
            limit = _limit_on(limits, day, created_at, changes)
            watched += total.used_seconds + total.educational_seconds
            educational += total.educational_seconds
            if limit is not None:
                limit_minutes_sum += limit
                counted_on_limited_days += total.used_seconds
            daily.append(DailyTotal(
                date=day, minutes=minutes(total.used_seconds + total.educational_seconds),
                counted_minutes=minutes(total.used_seconds),
                educational_minutes=minutes(total.educational_seconds), limit_minutes=limit))
        return ProfileReport(
            profile_id=profile_id, profile_name=name, week_start=first, week_end=last,
            daily_totals=daily, average_daily_minutes=minutes(watched / REPORT_DAYS),
            total_minutes=minutes(watched), educational_minutes=minutes(educational),
            # counted minutes on the days that had a limit, over those limits; null if none had
            limit_usage_percent=_percent(float(counted_on_limited_days) / 60, limit_minutes_sum),
            top_titles=top_titles)
