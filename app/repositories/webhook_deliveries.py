"""The delivery worker's SQL: claim due outbox rows under a lease, then record each outcome.

Claiming is one short statement: FOR UPDATE SKIP LOCKED lets every replica claim at once without
waiting on each other, and moving next_attempt_at ahead is the lease: no transaction stays open
during the HTTP call, and a replica that dies mid-delivery leaves its rows due again once the
lease runs out. Outcomes match the row by id only, so a late outcome after an expired lease
(another replica may have delivered too: at-least-once) still lands.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

CLAIM = text("""
    UPDATE webhook_outbox o SET next_attempt_at = :lease_until
    FROM (SELECT id FROM webhook_outbox WHERE next_attempt_at <= :now
          ORDER BY next_attempt_at, id LIMIT :limit FOR UPDATE SKIP LOCKED) due,
         webhook_subscriptions w
    WHERE o.id = due.id AND w.id = o.subscription_id
    RETURNING o.id, o.event_id, o.event_type, o.data, o.created_at, o.attempts,
              w.id AS subscription_id, w.url, w.secret
""")

# The subscription's last_* columns, set with every outcome (in the outcome's statement).
_TOUCH = """
    UPDATE webhook_subscriptions SET last_delivery_at = :now, last_status = :status{extra}
    WHERE id = :subscription_id
"""

DELIVERED = text(f"""
    WITH gone AS (DELETE FROM webhook_outbox WHERE id = :id)
    {_TOUCH.format(extra=", failing_since = NULL")}
""")

RETRY = text(f"""
    WITH later AS (UPDATE webhook_outbox
                   SET attempts = attempts + 1, last_error = :error, next_attempt_at = :next_at
                   WHERE id = :id)
    {_TOUCH.format(extra="")}
""")

DROPPED = text(f"""
    WITH gone AS (DELETE FROM webhook_outbox WHERE id = :id)
    {_TOUCH.format(extra=", failing_since = coalesce(failing_since, :now)")}
""")

# 410 Gone: the receiver asks to be forgotten; its outbox rows go by cascade.
UNSUBSCRIBE = text("DELETE FROM webhook_subscriptions WHERE id = :subscription_id")


@dataclass(frozen=True, slots=True)
class Claimed:
    """One event for one subscription, leased to this worker."""

    id: int
    event_id: uuid.UUID
    event_type: str
    data: dict[str, Any]
    created_at: datetime
    attempts: int  # failed attempts before this one
    subscription_id: uuid.UUID
    url: str
    secret: str


class WebhookDeliveryRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def claim(self, *, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
        async with self._sessions.begin() as session:
            rows = await session.execute(CLAIM, {"now": now, "lease_until": lease_until,
                                                 "limit": limit})
            return [Claimed(**row._mapping) for row in rows]

    async def _run(self, statement: Any, params: dict[str, Any]) -> None:
        async with self._sessions.begin() as session:
            await session.execute(statement, params)

    async def delivered(self, row: Claimed, *, now: datetime, status: int) -> None:
        await self._run(DELIVERED, {"id": row.id, "subscription_id": row.subscription_id,
                                    "now": now, "status": status})

    async def retry(self, row: Claimed, *, now: datetime, status: int | None, error: str,
                    next_at: datetime) -> None:
        await self._run(RETRY, {"id": row.id, "subscription_id": row.subscription_id,
                                "now": now, "status": status, "error": error,
                                "next_at": next_at})

    async def dropped(self, row: Claimed, *, now: datetime, status: int | None) -> None:
        await self._run(DROPPED, {"id": row.id, "subscription_id": row.subscription_id,
                                  "now": now, "status": status})

    async def unsubscribe(self, row: Claimed) -> None:
        await self._run(UNSUBSCRIBE, {"subscription_id": row.subscription_id})
