"""Webhook delivery across replicas: every event once, whichever replica's worker claims it,
and nothing lost when a worker dies mid-delivery (its lease runs out, another delivers).

In process: independent workers (their own HTTP clients) on one database, driven by run_once.
Served (slow): two `python -m app serve` processes whose own background workers deliver.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest

from app.services.clock import FrozenClock
from tests.support.api import signed_up
from tests.support.apps import make_settings, running_app
from tests.support.db import truncate_all
from tests.support.served import ServedApp
from tests.support.webhook_receiver import receiving
from tests.support.webhooks import emit, outbox, subscribe, worker

pytestmark = pytest.mark.anyio
EVENTS = 120


@pytest.fixture
def settings(database_url):
    return make_settings(database_url, webhook_allow_private=True, webhook_poll_seconds=3600)


async def test_three_workers_deliver_every_event_exactly_once(parent, container, clock,
                                                              database_url):
    async with receiving() as receiver:
        await subscribe(parent, receiver.url)
        await subscribe(parent, receiver.url + "/second")
        for _ in range(EVENTS):
            await emit(container, parent.account_id, at=clock.now())
        workers = [await worker(container) for _ in range(3)]

        async def drain(w):
            while await w.run_once():
                pass

        try:
            await asyncio.gather(*(drain(w) for w in workers))
        finally:
            for w in workers:
                await w.close()
        per_id = Counter(r.headers["webhook-id"] for r in receiver.received)
        assert len(per_id) == 2 * EVENTS and set(per_id.values()) == {1}
        assert Counter(r.path for r in receiver.received) == {"/hook": EVENTS,
                                                              "/hook/second": EVENTS}
        assert await outbox(database_url) == []


async def test_a_worker_cancelled_mid_delivery_loses_nothing(parent, container, clock,
                                                             database_url):
    async with receiving() as receiver:
        await subscribe(parent, receiver.url)
        await emit(container, parent.account_id, at=clock.now())
        doomed, survivor = await worker(container), await worker(container)
        receiver.hold()
        attempt = asyncio.create_task(doomed.run_once())
        await asyncio.wait_for(receiver.arrived.wait(), 5)
        attempt.cancel()  # the replica dies while the receiver holds the request
        with pytest.raises(asyncio.CancelledError):
            await attempt
        receiver.release()
        try:
            assert await survivor.run_once() == 0  # still leased to the dead worker
            [row] = await outbox(database_url)
            assert row["attempts"] == 0  # no outcome was recorded
            clock.advance(59)
            assert await survivor.run_once() == 0
            clock.advance(1)  # the 60-second lease is over
            assert await survivor.run_once() == 1
        finally:
            await doomed.close()
            await survivor.close()
        assert await outbox(database_url) == []
        first, second = receiver.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"]


@pytest.mark.slow
async def test_two_served_replicas_deliver_every_event_exactly_once(database_url):
    await truncate_all(database_url)
    clock = FrozenClock(datetime.now(UTC))  # the events must be due on the replicas' clocks
    replicas = [ServedApp(database_url=database_url, WEBHOOK_ALLOW_PRIVATE="true",
                          WEBHOOK_POLL_SECONDS="0.2", LOG_LEVEL="WARNING") for _ in range(2)]
    async with receiving() as receiver, running_app(
            database_url, clock, webhook_allow_private=True,
            webhook_poll_seconds=3600) as local:
        parent = await signed_up(local.client, "replicas@example.com")
        await subscribe(parent, receiver.url)
        try:
            for replica in replicas:
                await replica.started()
            for _ in range(EVENTS):
                await emit(local.container, parent.account_id, at=clock.now())
            await receiver.until(EVENTS, within=30)
            await asyncio.sleep(1)  # time for any duplicate to show up
        finally:
            for replica in replicas:
                replica.close(grace=5)
        per_id = Counter(r.headers["webhook-id"] for r in receiver.received)
        assert len(per_id) == EVENTS and set(per_id.values()) == {1}
        assert await outbox(database_url) == []
