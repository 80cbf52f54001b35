"""An account's webhook subscriptions: adding (at most five, even under parallel requests),
listing and deleting them. Every statement is scoped to the calling account."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.errors import AccountGone
from app.domain.webhooks import MAX_SUBSCRIPTIONS, Subscription, TooManyWebhooks

# Parallel creates of one account queue on its row, so each counts what the one before it
# added (a new statement in READ COMMITTED sees what committed while it waited). NO KEY UPDATE
# does not block the foreign-key checks of rows that reference the account.
LOCK_ACCOUNT = text("SELECT id FROM accounts WHERE id = :account_id FOR NO KEY UPDATE")

ADD = text(f"""
    INSERT INTO webhook_subscriptions (id, account_id, url, events, secret, created_at)
    SELECT :id, :account_id, :url, CAST(:events AS text[]), :secret, :now
    WHERE (SELECT count(*) FROM webhook_subscriptions WHERE account_id = :account_id)
          < {MAX_SUBSCRIPTIONS}
    RETURNING id
""")

# Through the account, so a deleted account's token is told so (AccountGone), not [].
LIST = text("""
    SELECT a.id AS account_id, w.id, w.url, w.events, w.created_at, w.last_delivery_at,
           w.last_status, w.failing_since
    FROM accounts a LEFT JOIN webhook_subscriptions w ON w.account_id = a.id
    WHERE a.id = :account_id
    ORDER BY w.created_at, w.id
""")

DELETE = text("""
    DELETE FROM webhook_subscriptions WHERE id = :id AND account_id = :account_id RETURNING id
""")


def _subscription(row: Any) -> Subscription:
    return Subscription(id=row.id, url=row.url, events=list(row.events),
                        created_at=row.created_at, last_delivery_at=row.last_delivery_at,
                        last_status=row.last_status, failing_since=row.failing_since)


class WebhookSubscriptionRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def add(self, *, account_id: uuid.UUID, url: str, events: list[str], secret: str,
                  now: datetime) -> Subscription:
        """AccountGone for a deleted account, TooManyWebhooks for a sixth subscription."""
        subscription = Subscription(id=uuid.uuid4(), url=url, events=events, created_at=now)
        async with self._sessions.begin() as session:
            if (await session.execute(LOCK_ACCOUNT, {"account_id": account_id})).first() is None:
                raise AccountGone()
            added = (await session.execute(ADD, {
                "id": subscription.id, "account_id": account_id, "url": url, "events": events,
                "secret": secret, "now": now})).first()
            if added is None:
                raise TooManyWebhooks()
        return subscription

    async def list_for(self, account_id: uuid.UUID) -> list[Subscription]:
        """AccountGone for a deleted account."""
        async with self._sessions() as session:
            rows = (await session.execute(LIST, {"account_id": account_id})).all()
        if not rows:
            raise AccountGone()
        return [_subscription(row) for row in rows if row.id is not None]

    async def delete(self, *, account_id: uuid.UUID, subscription_id: uuid.UUID) -> bool:
        async with self._sessions.begin() as session:
            deleted = await session.execute(DELETE, {"id": subscription_id,
                                                     "account_id": account_id})
            return deleted.first() is not None
