"""Helpers for the webhook tests: subscribe through the API, write events the way the
services do (enqueue_event in a transaction), read the outbox back, build extra workers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from app.database import asyncpg_dsn
from app.repositories.webhook_deliveries import WebhookDeliveryRepository
from app.repositories.webhook_outbox import enqueue_event
from app.services.webhook_delivery import WebhookWorker
from containers import Container
from tests.support.api import Parent
from tests.support.parental import PC

HOOKS = f"{PC}/webhooks"


async def subscribe(parent: Parent, url: str, events: list[str] | None = None) -> dict:
    body: dict[str, object] = {"url": url}
    if events is not None:
        body["events"] = events
    r = await parent.client.post(HOOKS, headers=parent.headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def hooks(parent: Parent) -> list[dict]:
    r = await parent.client.get(HOOKS, headers=parent.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def emit(container: Container, account_id: str, *, at: datetime,
               event_type: str = "pin.locked", data: dict[str, Any] | None = None) -> None:
    """One event, written like the services write theirs."""
    sessions = await container.session_factory.async_()
    async with sessions.begin() as session:
        await enqueue_event(session, account_id=uuid.UUID(account_id), event_type=event_type,
                            data=data or {"account_id": account_id, "n": 1}, at=at)


async def outbox(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetch("SELECT * FROM webhook_outbox ORDER BY id")
    finally:
        await conn.close()


async def worker(container: Container, **options: Any) -> WebhookWorker:
    """Another worker on the container's database (as another replica would run), with
    `options` (allow_private, timeout_seconds) in place of the settings'."""
    settings = container.settings()
    values: dict[str, Any] = {"allow_private": settings.webhook_allow_private,
                              "poll_seconds": 3600, **options}
    return WebhookWorker(
        deliveries=WebhookDeliveryRepository(await container.session_factory.async_()),
        clock=container.clock(), metrics=container.metrics(), **values)
