"""A parent's webhook subscriptions: subscribe (URL checked, secret made), list, delete."""

from __future__ import annotations

import base64
import secrets
import uuid

from app.domain.clock import Clock
from app.domain.webhooks import (
    EVENT_TYPES,
    SECRET_PREFIX,
    NewSubscription,
    Subscription,
    WebhookNotFound,
    parse_url,
)
from app.repositories.webhook_subscriptions import WebhookSubscriptionRepository
from app.services.webhook_addresses import resolve

SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class WebhookService:
    def __init__(self, *, subscriptions: WebhookSubscriptionRepository, clock: Clock,
                 allow_private: bool) -> None:
        self._subscriptions = subscriptions
        self._clock = clock
        self._allow_private = allow_private

    async def subscribe(self, account_id: uuid.UUID, *, url: str,
                        events: list[str] | None) -> NewSubscription:
        """InvalidWebhookUrl, TooManyWebhooks; `events` None means every type."""
        destination = parse_url(url, allow_private=self._allow_private)
        await resolve(destination, allow_private=self._allow_private)
        chosen = list(EVENT_TYPES) if events is None else list(dict.fromkeys(events))
        secret = new_secret()
        subscription = await self._subscriptions.add(
            account_id=account_id, url=url, events=chosen, secret=secret,
            now=self._clock.now())
        return NewSubscription(subscription, secret)

    async def list(self, account_id: uuid.UUID) -> list[Subscription]:
        return await self._subscriptions.list_for(account_id)

    async def delete(self, account_id: uuid.UUID, subscription_id: uuid.UUID) -> None:
        if not await self._subscriptions.delete(account_id=account_id,
                                                subscription_id=subscription_id):
            raise WebhookNotFound()
