"""Writing webhook events into the outbox, inside the statement or transaction that caused them.

An event fans out to one outbox row per subscription of the account that takes its type, so
each delivery keeps its own attempts and backoff; an account with no subscription writes
nothing. The delivery worker reads the rows back; nothing here talks HTTP.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def enqueue(events: str) -> str:
    """An INSERT of the events of `events` (a CTE or subquery with columns `account_id`,
    `event_type`, `data` jsonb and `at`), for use as a CTE of a bigger statement: the heartbeat
    writes its threshold events this way, in its one round trip."""
    return f"""INSERT INTO webhook_outbox
        (event_id, subscription_id, event_type, data, created_at, next_attempt_at)
    SELECT gen_random_uuid(), w.id, e.event_type, e.data, e.at, e.at
    FROM {events} e
    JOIN webhook_subscriptions w
      ON w.account_id = e.account_id AND e.event_type = ANY(w.events)"""


ENQUEUE_ONE = text(enqueue(
    "(SELECT CAST(:account_id AS uuid) AS account_id, CAST(:event_type AS text) AS event_type, "
    "CAST(:data AS jsonb) AS data, CAST(:at AS timestamptz) AS at)"))


async def enqueue_event(session: AsyncSession, *, account_id: uuid.UUID, event_type: str,
                        data: dict[str, Any], at: datetime) -> None:
    """Write one event in `session`'s transaction: it is delivered only if that commits."""
    await session.execute(ENQUEUE_ONE, {"account_id": account_id, "event_type": event_type,
                                        "data": json.dumps(data, default=str), "at": at})
