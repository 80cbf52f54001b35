"""Read models for parents: a profile's viewing history and the account's weekly report.

Every statement here is a range read on an index: sessions by (profile_id, started_at DESC),
balances by their primary key (profile_id, reset_date), titles by id. The weekly report reads
every child of the account in a fixed number of statements (arrays, not one query per child).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Row, exists, func, select, text, type_coerce
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.domain.reports import Child, DayTotal, TitleSeconds, WatchedSession, WeekReplaced
from app.models import Account, LimitChange, Profile, ViewingTimeConfig
from app.repositories.viewing_configs import config_of

# Newest first straight off the index: an ordered range scan that stops after :limit rows. No
# join, so nothing makes the planner reorder rows; each listed row reads its title's name by key.
HISTORY_SESSIONS = text("""
    SELECT s.id AS session_id, s.title_id,
           (SELECT t.title FROM titles t WHERE t.id = s.title_id) AS title_name,
           s.device_type, s.is_educational, s.started_at, s.ended_at, s.total_seconds
    FROM viewing_sessions s
    WHERE s.profile_id = :profile_id AND s.started_at >= :start AND s.started_at < :end
    ORDER BY s.started_at DESC
    LIMIT :limit
""")

# When the profile was created, and the changes of its limits since :since, oldest first (an
# index range): one row with NULL changed_at when there are none.
LIMIT_CHANGES = text("""
    SELECT p.created_at, c.changed_at, c.week_before
    FROM profiles p
    LEFT JOIN limit_changes c ON c.profile_id = p.id AND c.changed_at >= :since
    WHERE p.id = :profile_id
    ORDER BY c.changed_at
""")

# A profile's sessions lie scattered over the table (heartbeats of all children interleave), so
# at the default random_page_cost of 4 (spinning disks) the planner prefers a bitmap scan of the
# whole range plus a sort, even when only the newest 500 are wanted. 1.1 is the usual cost for
# SSD or cached data; set for this transaction only, it makes the ordered index scan win.
HISTORY_PLANNER_COSTS = text("SET LOCAL random_page_cost = 1.1")

DAY_TOTALS = text("""
    SELECT profile_id, reset_date, used_seconds, educational_seconds
    FROM daily_balances
    WHERE profile_id = ANY(CAST(:profile_ids AS uuid[])) AND reset_date BETWEEN :first AND :last
""")

# Each child's three most-watched titles over its own week (its own zone and reset hour): one
# index range per child, driven by the unnest()ed arrays.
TOP_TITLES = text("""
    WITH week AS (
        SELECT * FROM unnest(CAST(:profile_ids AS uuid[]), CAST(:starts AS timestamptz[]),
                             CAST(:ends AS timestamptz[])) AS w(profile_id, start_at, end_at)
    ), per_title AS (
        -- LATERAL with its own GROUP BY: one index range probe per child. A plain join let the
        -- planner, which cannot see how few children the arrays hold, hash-join a sequential
        -- scan of the whole table instead.
        SELECT w.profile_id, s.title_id, s.seconds
        FROM week w
        CROSS JOIN LATERAL (
            SELECT v.title_id, sum(v.total_seconds) AS seconds
            FROM viewing_sessions v
            WHERE v.profile_id = w.profile_id
              AND v.started_at >= w.start_at AND v.started_at < w.end_at
            GROUP BY v.title_id
        ) s
    ), ranked AS (
        SELECT p.profile_id, p.title_id, t.title AS title_name, p.seconds,
               row_number() OVER (PARTITION BY p.profile_id
                                  ORDER BY p.seconds DESC, t.title, p.title_id) AS rank
        FROM per_title p JOIN titles t ON t.id = p.title_id
    )
    SELECT profile_id, title_id, title_name, seconds FROM ranked
    WHERE rank <= :top ORDER BY profile_id, rank
""")


def _changes_since(since: datetime) -> Any:
    """Each child's limit changes since `since` as one JSON array, oldest first: a correlated
    subquery, so the children and their changes stay one statement."""
    change = func.jsonb_build_object("changed_at", col(LimitChange.changed_at),
                                     "week_before", col(LimitChange.week_before))
    changes = func.jsonb_agg(aggregate_order_by(change, col(LimitChange.changed_at)))
    return (select(type_coerce(func.coalesce(changes, func.jsonb_build_array()), JSONB))
            .where(col(LimitChange.profile_id) == col(Profile.id),
                   col(LimitChange.changed_at) >= since)
            .scalar_subquery())


def _replaced(items: list[dict[str, Any]]) -> tuple[WeekReplaced, ...]:
    return tuple(WeekReplaced(datetime.fromisoformat(item["changed_at"]),
                              tuple(item["week_before"])) for item in items)


def _totals(rows: list[Row]) -> dict[tuple[uuid.UUID, date], DayTotal]:
    return {(r.profile_id, r.reset_date): DayTotal(r.used_seconds, r.educational_seconds)
            for r in rows}


class History(NamedTuple):
    sessions: list[WatchedSession]
    totals: dict[tuple[uuid.UUID, date], DayTotal]
    created_at: datetime | None  # the profile's (None: deleted meanwhile)
    changes: tuple[WeekReplaced, ...]  # of the profile's limits, oldest first


class ReportRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def history(self, *, profile_id: uuid.UUID, start: datetime, end: datetime,
                      first: date, last: date, limit: int) -> History:
        """Sessions started in [start, end), newest first, the totals of days first..last, and
        the limit changes since `start`: three statements (and the planner setting)."""
        async with self._sessions() as session:
            await session.execute(HISTORY_PLANNER_COSTS)
            sessions = (await session.execute(HISTORY_SESSIONS, {
                "profile_id": profile_id, "start": start, "end": end, "limit": limit})).all()
            totals = (await session.execute(DAY_TOTALS, {
                "profile_ids": [profile_id], "first": first, "last": last})).all()
            changes = (await session.execute(LIMIT_CHANGES, {
                "profile_id": profile_id, "since": start})).all()
        return History([WatchedSession(**r._mapping) for r in sessions], _totals(list(totals)),
                       changes[0].created_at if changes else None,
                       tuple(WeekReplaced(r.changed_at, tuple(r.week_before))
                             for r in changes if r.changed_at is not None))

    async def children(self, account_id: uuid.UUID, *, changes_since: datetime) -> list[Child]:
        """The account's child profiles with their configs and their limit changes since
        `changes_since`: one statement."""
        query = (select(col(Profile.id), col(Profile.name), ViewingTimeConfig,
                        col(Profile.created_at), _changes_since(changes_since))
                 .join(ViewingTimeConfig, col(ViewingTimeConfig.profile_id) == col(Profile.id))
                 .where(col(Profile.account_id) == account_id, col(Profile.is_kids))
                 .order_by(col(Profile.created_at), col(Profile.id)))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [Child(r[0], r[1], config_of(r[2]), r[3], _replaced(r[4])) for r in rows]

    async def account_exists(self, account_id: uuid.UUID) -> bool:
        async with self._sessions() as session:
            return bool(await session.scalar(select(exists().where(col(Account.id) == account_id))))

    async def weeks(self, *, profile_ids: list[uuid.UUID], starts: list[datetime],
                    ends: list[datetime], first: date, last: date, top: int,
                    ) -> tuple[dict[tuple[uuid.UUID, date], DayTotal], list[TitleSeconds]]:
        """Day totals (days first..last) and top titles of every listed profile's week: two
        statements whatever the number of profiles."""
        async with self._sessions() as session:
            totals = (await session.execute(DAY_TOTALS, {
                "profile_ids": profile_ids, "first": first, "last": last})).all()
            tops = (await session.execute(TOP_TITLES, {
                "profile_ids": profile_ids, "starts": starts, "ends": ends, "top": top})).all()
        return _totals(list(totals)), [TitleSeconds(**r._mapping) for r in tops]
