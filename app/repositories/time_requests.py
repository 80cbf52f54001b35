"""Time requests: made, read, decided and expired, each change with its webhook event.

Every status change is one conditional UPDATE (`WHERE status = 'pending'` and the expiry on
the right side of now): of two racing writers exactly one changes the row, and only that one
writes the event, in its own transaction. The instant is always the service clock's, passed
in, never the database's `now()`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.errors import DomainError, ProfileNotFound
from app.domain.time_requests import (
    APPROVED,
    CREATED_EVENT,
    DENIED,
    EXPIRED_EVENT,
    CreateChecks,
    RequestClosed,
    TimeRequest,
    TimeRequestNotFound,
    refusal,
)
from app.repositories.grants import write_grant
from app.repositories.webhook_outbox import enqueue_event

FIELDS = tuple(f.name for f in fields(TimeRequest))
# The request's columns with its profile's name and owner: read from a CTE that RETURNs
# them (`FLAT`), or from the table joined to profiles (`JOINED`).
FLAT = ", ".join(FIELDS)
JOINED = ", ".join({"profile_name": "p.name AS profile_name",
                    "account_id": "p.account_id"}.get(f, f"r.{f}") for f in FIELDS)
RETURNING = "RETURNING r.*, p.name AS profile_name, p.account_id"
SWEEP_BATCH = 500


def _expire(where: str) -> TextClause:
    """Flip the pending requests past their expiry that `where` picks to expired."""
    return text(f"""
        WITH flipped AS (
            UPDATE time_requests r SET status = 'expired' FROM profiles p
            WHERE p.id = r.profile_id AND r.status = 'pending' AND r.expires_at <= :now
              AND {where}
            {RETURNING})
        SELECT {FLAT} FROM flipped""")


# A create and a decision expire what they touch themselves (waiting for a sweep that holds the
# row, then finding it no longer pending); the sweep skips rows someone else holds.
EXPIRE_PROFILE = _expire("r.profile_id = :profile_id")
EXPIRE_ONE = _expire("r.id = :id AND p.account_id = :account_id")
EXPIRE_DUE = _expire("""r.id IN (
    SELECT id FROM time_requests WHERE status = 'pending' AND expires_at <= :now
    ORDER BY expires_at LIMIT :batch FOR UPDATE SKIP LOCKED)""")

# Creates of one profile queue here, so the count of the day's requests cannot be overtaken.
# NO KEY UPDATE does not block the KEY SHARE locks that heartbeats' inserts take on the row.
LOCK_PROFILE = text("SELECT 1 FROM profiles WHERE id = :profile_id FOR NO KEY UPDATE")
# A statement of its own after the lock: its snapshot sees what the creates before it committed.
CHECKS = text("""
    SELECT (SELECT id FROM time_requests
            WHERE profile_id = :profile_id AND status = 'pending') AS pending_id,
           (SELECT count(*) FROM time_requests
            WHERE profile_id = :profile_id AND viewing_day = :day) AS made_today,
           coalesce((SELECT is_unlimited_override FROM daily_balances
                     WHERE profile_id = :profile_id AND reset_date = :day), false)
               AS unlimited_today""")
# The lock orders creates, so none conflicts here; the partial unique index
# uq_time_requests_one_pending is the database's own guarantee of one pending request.
INSERT = text(f"""
    WITH r AS (
        INSERT INTO time_requests
            (id, profile_id, minutes, message, status, viewing_day, created_at, expires_at)
        VALUES (:id, :profile_id, :minutes, :message, 'pending', :day, :now, :expires_at)
        RETURNING *)
    SELECT {JOINED} FROM r JOIN profiles p ON p.id = r.profile_id""")
DECIDE = text(f"""
    WITH decided AS (
        UPDATE time_requests r
        SET status = :status, decided_at = :now, granted_minutes = :granted_minutes,
            grant_id = :grant_id
        FROM profiles p
        WHERE r.id = :id AND p.id = r.profile_id AND p.account_id = :account_id
          AND r.status = 'pending' AND r.expires_at > :now
        {RETURNING})
    SELECT {FLAT} FROM decided""")
GET = text(f"""
    SELECT {JOINED} FROM time_requests r JOIN profiles p ON p.id = r.profile_id
    WHERE r.id = :id AND p.account_id = :account_id""")
LIST = f"""
    SELECT {JOINED} FROM time_requests r JOIN profiles p ON p.id = r.profile_id
    WHERE p.account_id = :account_id {{only}}
    ORDER BY r.created_at DESC, r.seq DESC LIMIT :limit"""
ACCOUNT_EXISTS = text("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = :account_id)")
LIST_ALL = text(LIST.format(only=""))
LIST_PENDING = text(LIST.format(only="AND r.status = 'pending' AND r.expires_at > :now"))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a create or a decision did: the request it made or decided (None when refused),
    why it was refused, and the requests it found expired (their events are written)."""

    request: TimeRequest | None
    refused: DomainError | None
    expired: list[TimeRequest]


def _request(row: Row) -> TimeRequest:
    return TimeRequest(**row._mapping)


async def _flip(session: AsyncSession, statement: TextClause, now: datetime,
                **params: object) -> list[TimeRequest]:
    """Run an expiring UPDATE and write one time_request.expired event per request it flipped."""
    flipped = [_request(row) for row in await session.execute(statement, {"now": now, **params})]
    for request in flipped:
        await enqueue_event(session, account_id=request.account_id, event_type=EXPIRED_EVENT,
                            data=request.event_data(), at=now)
    return flipped


class TimeRequestRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def create(self, *, profile_id: uuid.UUID, day: date, minutes: int,
                     message: str | None, now: datetime, expires_at: datetime,
                     next_day_at: datetime) -> Outcome:
        """Make a request unless the rules refuse it; either way the profile's requests past
        their expiry are expired first, in the same transaction."""
        async with self._sessions.begin() as session:
            if (await session.execute(LOCK_PROFILE, {"profile_id": profile_id})).first() is None:
                return Outcome(None, ProfileNotFound(), [])
            expired = await _flip(session, EXPIRE_PROFILE, now, profile_id=profile_id)
            row = (await session.execute(CHECKS, {"profile_id": profile_id, "day": day})).one()
            refused = refusal(CreateChecks(**row._mapping), next_day_at=next_day_at, now=now)
            if refused is not None:
                return Outcome(None, refused, expired)
            request = _request((await session.execute(INSERT, {
                "id": uuid.uuid4(), "profile_id": profile_id, "minutes": minutes,
                "message": message, "day": day, "now": now, "expires_at": expires_at})).one())
            await enqueue_event(session, account_id=request.account_id,
                                event_type=CREATED_EVENT, data=request.event_data(), at=now)
        return Outcome(request, None, expired)

    async def decide(self, *, account_id: uuid.UUID, request_id: uuid.UUID, approve: bool,
                     granted_minutes: int | None, now: datetime, limit_minutes: int | None,
                     window_seconds: Decimal | None) -> Outcome:
        """Decide a pending, unexpired request of the account; an approval writes its grant
        (as a remote grant by the account) in the same transaction. `limit_minutes` and
        `window_seconds` are the grant's: what it re-arms (app/repositories/grants.py)."""
        grant_id = uuid.uuid4() if approve else None
        async with self._sessions.begin() as session:
            row = (await session.execute(DECIDE, {
                "id": request_id, "account_id": account_id, "now": now,
                "status": APPROVED if approve else DENIED,
                "granted_minutes": granted_minutes if approve else None,
                "grant_id": grant_id})).first()
            if row is not None:
                decided = _request(row)
                if grant_id is not None:
                    await write_grant(session, grant_id=grant_id, profile_id=decided.profile_id,
                                      granted_by=account_id, day=decided.viewing_day,
                                      minutes=granted_minutes, is_remote=True, now=now,
                                      limit_minutes=limit_minutes,
                                      window_seconds=window_seconds, request_id=decided.id)
                return Outcome(decided, None, [])
            expired = await _flip(session, EXPIRE_ONE, now, id=request_id,
                                  account_id=account_id)
            found = expired or (await session.execute(GET, {"id": request_id,
                                                            "account_id": account_id})).first()
        return Outcome(None, RequestClosed() if found else TimeRequestNotFound(), expired)

    async def get(self, *, account_id: uuid.UUID, request_id: uuid.UUID) -> TimeRequest | None:
        async with self._sessions() as session:
            row = (await session.execute(GET, {"id": request_id,
                                               "account_id": account_id})).first()
        return None if row is None else _request(row)

    async def list_for(self, *, account_id: uuid.UUID, pending_only: bool, now: datetime,
                       limit: int) -> list[TimeRequest]:
        """The account's requests, newest first (`seq` breaks ties of the same instant)."""
        params: dict[str, object] = {"account_id": account_id, "limit": limit}
        if pending_only:
            params["now"] = now
        async with self._sessions() as session:
            rows = await session.execute(LIST_PENDING if pending_only else LIST_ALL, params)
            return [_request(row) for row in rows]

    async def account_exists(self, account_id: uuid.UUID) -> bool:
        async with self._sessions() as session:
            return bool(await session.scalar(ACCOUNT_EXISTS, {"account_id": account_id}))

    async def expire_due(self, *, now: datetime, batch: int = SWEEP_BATCH) -> list[TimeRequest]:
        """Expire up to `batch` pending requests past their expiry, skipping rows another
        transaction holds (a decision, a create, another replica's sweep)."""
        async with self._sessions.begin() as session:
            return await _flip(session, EXPIRE_DUE, now, batch=batch)
