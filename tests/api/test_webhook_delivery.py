"""Delivering webhooks to a real receiver on 127.0.0.1 (WEBHOOK_ALLOW_PRIVATE=true): Standard
Webhooks signatures, the retry schedule, 410, redirects, timeouts, the SSRF check at delivery,
pin.locked, metrics and the failure log. The worker is driven by run_once, never by sleeping."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.services.webhook_addresses import REFUSED
from tests.support.apps import make_settings
from tests.support.parental import set_pin, verify
from tests.support.webhook_receiver import receiving
from tests.support.webhooks import emit, hooks, outbox, subscribe, worker

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(database_url):
    # The background poll never comes round in a test: run_once is called instead.
    return make_settings(database_url, webhook_allow_private=True, webhook_poll_seconds=3600)


@pytest.fixture
async def receiver():
    async with receiving() as r:
        yield r


@pytest.fixture
async def deliverer(app, container):
    return await container.webhook_worker.async_()


async def test_a_delivery_is_signed_and_verifies_with_the_reference_verifier(
        parent, receiver, deliverer, container, clock, database_url):
    hook = await subscribe(parent, receiver.url)
    await emit(container, parent.account_id, at=clock.now(),
               data={"account_id": parent.account_id, "locked_until": "2026-03-04T12:30:00Z"})
    [row] = await outbox(database_url)

    assert await deliverer.run_once() == 1
    [got] = receiver.received
    assert (got.method, got.path) == ("POST", "/hook")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert got.headers["webhook-id"] == f"msg_{row['event_id'].hex}"
    payload = Webhook(hook["secret"]).verify(got.body, got.headers)
    assert payload == {"type": "pin.locked", "timestamp": "2026-03-04T12:00:00Z",
                       "data": {"account_id": parent.account_id,
                                "locked_until": "2026-03-04T12:30:00Z"}}
    assert await outbox(database_url) == []
    [listed] = await hooks(parent)
    assert (listed["last_delivery_at"], listed["last_status"], listed["failing_since"]) == \
        ("2026-03-04T12:00:00Z", 200, None)
    assert await deliverer.run_once() == 0


async def test_a_wrong_secret_does_not_verify(parent, receiver, deliverer, container, clock):
    await subscribe(parent, receiver.url)
    other = await subscribe(parent, receiver.url + "/other")  # another secret
    await emit(container, parent.account_id, at=clock.now())
    assert await deliverer.run_once() == 2
    first = next(r for r in receiver.received if r.path == "/hook")
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(other["secret"]).verify(first.body, first.headers)


async def test_only_subscribed_types_and_only_the_own_accounts_events(
        client, parent, receiver, deliverer, container, clock):
    from tests.support.api import signed_up

    await subscribe(parent, receiver.url, events=["viewing.blocked"])
    stranger = await signed_up(client, "stranger@example.com")
    await emit(container, parent.account_id, at=clock.now(), event_type="pin.locked")
    await emit(container, stranger.account_id, at=clock.now(), event_type="viewing.blocked")
    assert await deliverer.run_once() == 0
    await emit(container, parent.account_id, at=clock.now(), event_type="viewing.blocked")
    assert await deliverer.run_once() == 1
    assert json.loads(receiver.received[0].body)["type"] == "viewing.blocked"


async def test_failures_retry_with_the_same_id_on_the_backoff_schedule(
        parent, receiver, deliverer, container, clock, database_url, caplog):
    hook = await subscribe(parent, receiver.url)
    receiver.queued = [500, 503, 429, 404, 500, 500]
    await emit(container, parent.account_id, at=clock.now())
    delays = [5, 30, 120, 600, 3600, 3600]
    with caplog.at_level(logging.WARNING, logger="app.services.webhook_delivery"):
        for attempt, delay in enumerate(delays, start=1):
            assert await deliverer.run_once() == 1
            [row] = await outbox(database_url)
            assert row["attempts"] == attempt
            assert row["next_attempt_at"] == clock.now() + timedelta(seconds=delay)
            clock.advance(delay - 1)
            assert await deliverer.run_once() == 0  # not due yet
            clock.advance(1)
    assert row["last_error"] == "HTTP 500"
    await parent.login()  # two hours went by: a fresh token
    [listed] = await hooks(parent)
    assert listed["last_status"] == 500 and listed["failing_since"] is None
    assert await deliverer.run_once() == 1  # the 7th attempt is answered 200
    assert await outbox(database_url) == []
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 7 and len(ids) == 1
    for got in receiver.received:  # every retry is signed afresh and verifies
        Webhook(hook["secret"]).verify(got.body, got.headers)

    failed = [r for r in caplog.records if r.getMessage() == "webhook_delivery_failed"]
    assert [(r.attempt, r.status, r.error) for r in failed] == [
        (1, 500, "HTTP 500"), (2, 503, "HTTP 503"), (3, 429, "HTTP 429"), (4, 404, "HTTP 404"),
        (5, 500, "HTTP 500"), (6, 500, "HTTP 500")]
    assert {(r.subscription_id, r.event_id) for r in failed} == \
        {(hook["id"], str(row["event_id"]))}


async def test_after_24_hours_the_event_is_dropped_and_the_endpoint_marked_failing(
        parent, receiver, deliverer, container, clock, database_url):
    receiver.status = 500
    await subscribe(parent, receiver.url)
    await emit(container, parent.account_id, at=clock.now() - timedelta(hours=23, minutes=59))
    assert await deliverer.run_once() == 1
    assert len(await outbox(database_url)) == 1  # not yet 24 hours old: retried
    clock.advance(60)
    assert await deliverer.run_once() == 1
    assert await outbox(database_url) == []  # dropped
    [listed] = await hooks(parent)
    assert listed["failing_since"] == "2026-03-04T12:01:00Z" and listed["last_status"] == 500

    receiver.status = 200  # the next event gets through: no longer failing
    await emit(container, parent.account_id, at=clock.now())
    assert await deliverer.run_once() == 1
    [listed] = await hooks(parent)
    assert listed["failing_since"] is None and listed["last_status"] == 200


async def test_410_gone_deletes_the_subscription_and_its_events(
        parent, receiver, deliverer, container, clock, database_url):
    receiver.status = 410
    await subscribe(parent, receiver.url)
    for _ in range(3):
        await emit(container, parent.account_id, at=clock.now())
    await deliverer.run_once()
    assert await hooks(parent) == []
    assert await outbox(database_url) == []


async def test_redirects_are_not_followed(parent, receiver, deliverer, container, clock,
                                          database_url):
    receiver.status = 302
    receiver.location = receiver.url + "/elsewhere"
    await subscribe(parent, receiver.url)
    await emit(container, parent.account_id, at=clock.now())
    assert await deliverer.run_once() == 1
    assert [r.path for r in receiver.received] == ["/hook"]
    [row] = await outbox(database_url)
    assert (row["attempts"], row["last_error"]) == (1, "HTTP 302")


async def test_no_answer_within_the_timeout_is_a_failure(parent, receiver, container, clock,
                                                         database_url, app):
    impatient = await worker(container, timeout_seconds=1.0)  # 10 s in production
    receiver.hold()
    await subscribe(parent, receiver.url)
    await emit(container, parent.account_id, at=clock.now())
    try:
        assert await impatient.run_once() == 1
    finally:
        receiver.release()
        await impatient.close()
    [row] = await outbox(database_url)
    assert (row["attempts"], row["last_error"]) == (1, "no answer within 1 s")
    assert row["next_attempt_at"] == clock.now() + timedelta(seconds=5)
    assert (await hooks(parent))[0]["last_status"] is None


@pytest.mark.slow
async def test_the_production_timeout_is_10_seconds(parent, receiver, deliverer, container,
                                                    clock, database_url):
    receiver.hold()
    await subscribe(parent, receiver.url)
    await emit(container, parent.account_id, at=clock.now())
    started = time.monotonic()
    try:
        assert await deliverer.run_once() == 1
    finally:
        receiver.release()
    assert 9.5 < time.monotonic() - started < 12
    [row] = await outbox(database_url)
    assert row["last_error"] == "no answer within 10 s"


async def test_a_name_is_tried_on_each_of_its_addresses(parent, receiver, deliverer, container,
                                                       clock, database_url, monkeypatch):
    # A name with two addresses, the first unreachable (the receiver listens on 127.0.0.1).
    from app.services import webhook_delivery, webhooks

    async def two_addresses(destination, *, allow_private):
        return ["::1", "127.0.0.1"]

    monkeypatch.setattr(webhook_delivery, "resolve", two_addresses)
    monkeypatch.setattr(webhooks, "resolve", two_addresses)
    await subscribe(parent, f"http://hooks.test:{receiver.port}/hook")
    await emit(container, parent.account_id, at=clock.now())
    assert await deliverer.run_once() == 1
    assert len(receiver.received) == 1
    assert receiver.received[0].headers["host"] == f"hooks.test:{receiver.port}"
    assert await outbox(database_url) == []


async def run_once_refusing_private(container) -> None:
    """One round of a worker that refuses private destinations; it claims the one due row."""
    strict = await worker(container, allow_private=False)
    try:
        assert await strict.run_once() == 1
    finally:
        await strict.close()


async def test_a_private_destination_is_refused_at_delivery_too(
        parent, receiver, container, clock, database_url, app):
    # Subscribed while private addresses were allowed (or the name resolved elsewhere then).
    await subscribe(parent, receiver.url)
    await emit(container, parent.account_id, at=clock.now())
    await run_once_refusing_private(container)
    assert receiver.received == []
    [row] = await outbox(database_url)
    assert row["last_error"] == "url: must be an https:// URL"  # http:// is refused first


async def test_a_name_resolving_to_loopback_is_refused_at_delivery(
        parent, receiver, container, clock, database_url, app):
    await subscribe(parent, f"https://localhost:{receiver.port}/hook")
    await emit(container, parent.account_id, at=clock.now())
    await run_once_refusing_private(container)
    assert receiver.received == []
    [row] = await outbox(database_url)
    assert row["last_error"] == f"url: {REFUSED}"


async def test_the_pin_lockout_writes_one_pin_locked_event_in_its_transaction(
        parent, receiver, deliverer, clock, database_url):
    hook = await subscribe(parent, receiver.url, events=["pin.locked"])
    assert (await set_pin(parent, "1234")).status_code == 200
    for _ in range(4):
        assert (await verify(parent, "0000")).status_code == 403
    assert await outbox(database_url) == []  # four wrong answers: no lock, no event
    # Parallel wrong guesses: exactly one of them engages the lock, and only it writes.
    await asyncio.gather(*(verify(parent, "0000") for _ in range(5)))
    [row] = await outbox(database_url)
    until = clock.now() + timedelta(minutes=30)
    assert row["event_type"] == "pin.locked" and row["created_at"] == clock.now()
    assert json.loads(row["data"]) == {
        "account_id": parent.account_id, "profile_id": None, "profile_name": None,
        "viewing_day": None, "locked_until": until.isoformat().replace("+00:00", "Z")}
    assert await deliverer.run_once() == 1
    payload = Webhook(hook["secret"]).verify(receiver.received[0].body,
                                             receiver.received[0].headers)
    assert payload["type"] == "pin.locked"
    assert payload["data"]["locked_until"] == "2026-03-04T12:30:00Z"


async def test_metrics_count_deliveries_retries_drops_and_latency(
        client, parent, receiver, deliverer, container, clock):
    await subscribe(parent, receiver.url)
    receiver.queued = [500]
    await emit(container, parent.account_id, at=clock.now())
    await deliverer.run_once()
    clock.advance(5)
    await deliverer.run_once()  # delivered 5 s after the event
    receiver.status = 500
    await emit(container, parent.account_id, at=clock.now() - timedelta(days=1))
    await deliverer.run_once()
    text = (await client.get("/metrics")).text
    for line in ('vts_webhook_events_total{type="pin.locked"} 2.0',
                 'vts_webhook_delivered_total{type="pin.locked"} 1.0',
                 'vts_webhook_retried_total{type="pin.locked"} 1.0',
                 'vts_webhook_dropped_total{type="pin.locked"} 1.0',
                 "vts_webhook_delivery_latency_seconds_count 1.0",
                 "vts_webhook_delivery_latency_seconds_sum 5.0",
                 'vts_webhook_delivery_latency_seconds_bucket{le="5.0"} 1.0',
                 'vts_webhook_delivery_latency_seconds_bucket{le="2.0"} 0.0'):
        assert line in text, line
