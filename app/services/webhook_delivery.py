"""The delivery worker every replica runs: claim due outbox rows, POST them, record the outcome.

At-least-once: a row leaves the outbox only after a 2xx (or once it is given up on, or its
subscription is gone). A claim is a lease (LEASE, longer than a whole delivery can take), so a
replica killed mid-delivery loses nothing: its rows fall due again and any replica sends them,
with the same webhook-id, which receivers use to drop duplicates.

Outcomes: 2xx within TIMEOUT_SECONDS delivers; 410 Gone deletes the subscription; anything else
(3xx included: redirects are not followed; a timeout; a refused address) is a failed attempt,
retried after 5 s, 30 s, 2 min, 10 min, 1 h, then hourly, and dropped once the event is 24 hours
old, which marks the subscription failing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from urllib.parse import urlunsplit

import httpx
import orjson

from app.domain.clock import Clock
from app.domain.webhooks import (
    Destination,
    InvalidWebhookUrl,
    gives_up,
    iso,
    message_id,
    parse_url,
    retry_delay,
    sign,
)
from app.repositories.webhook_deliveries import Claimed, WebhookDeliveryRepository
from app.services.metrics import MetricsCollector
from app.services.webhook_addresses import resolve

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0  # the whole attempt: lookup, connect, send, status line
LEASE = timedelta(seconds=60)
BATCH_SIZE = 50  # delivered concurrently: a batch takes at most one timeout, well inside LEASE
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86_400)


class WebhookWorker:
    def __init__(self, *, deliveries: WebhookDeliveryRepository, clock: Clock,
                 metrics: MetricsCollector, allow_private: bool, poll_seconds: float,
                 timeout_seconds: float = TIMEOUT_SECONDS) -> None:
        self._deliveries = deliveries
        self._clock = clock
        self._allow_private = allow_private
        self._poll_seconds = poll_seconds
        self._timeout = timeout_seconds
        self._client: httpx.AsyncClient | None = None
        m = metrics
        self._first = m.counter("vts_webhook_events", "Outbox rows (an event for one "
                                "subscription) attempted for the first time", ("type",))
        self._delivered = m.counter("vts_webhook_delivered", "Webhook events delivered (2xx)",
                                    ("type",))
        self._retried = m.counter("vts_webhook_retried",
                                  "Failed webhook attempts that will be retried", ("type",))
        self._dropped = m.counter("vts_webhook_dropped",
                                  "Webhook events given up on after 24 hours", ("type",))
        self._gone = m.counter("vts_webhook_gone",
                               "Subscriptions deleted because the receiver answered 410")
        self._latency = m.histogram("vts_webhook_delivery_latency_seconds",
                                    "From the event's creation to its 2xx",
                                    buckets=LATENCY_BUCKETS)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # No keep-alive: each delivery connects to the address it has just checked, and a
            # connection opened for one host (its SNI) is never reused for another's events.
            # The attempt's own deadline (asyncio.timeout in deliver) ends it; httpx's
            # per-operation timeouts are only a backstop.
            self._client = httpx.AsyncClient(
                follow_redirects=False, timeout=self._timeout + 1,
                limits=httpx.Limits(max_keepalive_connections=0))
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run_forever(self) -> None:
        """Poll every WEBHOOK_POLL_SECONDS; a full batch is followed by the next at once."""
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                while await self.run_once() == BATCH_SIZE:
                    pass
            except Exception as exc:  # the database may be down; try again next round
                log.warning("webhook delivery round failed: %r", exc)

    async def run_once(self) -> int:
        """Claim up to BATCH_SIZE due rows and deliver them; the number claimed."""
        now = self._clock.now()
        claimed = await self._deliveries.claim(now=now, lease_until=now + LEASE,
                                               limit=BATCH_SIZE)
        results = await asyncio.gather(*(self.deliver(row) for row in claimed),
                                       return_exceptions=True)
        for row, result in zip(claimed, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):  # its lease runs out: it is tried again
                log.warning("webhook outcome not recorded: %r", result,
                            extra={"subscription_id": str(row.subscription_id),
                                   "event_id": str(row.event_id)})
        return len(claimed)

    async def deliver(self, row: Claimed) -> None:
        """One attempt at one claimed row, and its outcome recorded."""
        kind = row.event_type
        if row.attempts == 0:
            self._first.labels(kind).inc()
        status: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self._timeout):
                status = await self._post(row)
        except TimeoutError:
            error = f"no answer within {self._timeout:g} s"
        except InvalidWebhookUrl as exc:
            error = exc.detail
        except Exception as exc:
            # Whatever stops the attempt fails it (retried, then dropped): no row may come back
            # forever because its outcome could not be recorded.
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        now = self._clock.now()
        if status is not None and 200 <= status < 300:
            await self._deliveries.delivered(row, now=now, status=status)
            self._delivered.labels(kind).inc()
            self._latency.observe(max((now - row.created_at).total_seconds(), 0.0))
            return
        if status == 410:
            await self._deliveries.unsubscribe(row)
            self._gone.inc()
            log.warning("webhook_subscription_gone", extra={
                "subscription_id": str(row.subscription_id), "event_id": str(row.event_id)})
            return
        error = error or f"HTTP {status}"
        fields = {"subscription_id": str(row.subscription_id), "event_id": str(row.event_id),
                  "event_type": kind, "attempt": row.attempts + 1, "status": status,
                  "error": error}
        if gives_up(created_at=row.created_at, now=now):
            await self._deliveries.dropped(row, now=now, status=status)
            self._dropped.labels(kind).inc()
            log.warning("webhook_delivery_failed", extra={**fields, "dropped": True})
            return
        next_at = now + retry_delay(row.attempts + 1)
        await self._deliveries.retry(row, now=now, status=status, error=error, next_at=next_at)
        self._retried.labels(kind).inc()
        log.warning("webhook_delivery_failed",
                    extra={**fields, "dropped": False, "next_attempt_at": iso(next_at)})

    async def _post(self, row: Claimed) -> int:
        """POST the signed event to the address just checked; the response's status."""
        destination = parse_url(row.url, allow_private=self._allow_private)
        addresses = await resolve(destination, allow_private=self._allow_private)
        body = orjson.dumps({"type": row.event_type, "timestamp": iso(row.created_at),
                             "data": row.data})
        for address in addresses[:-1]:  # the next address when one cannot be reached
            try:
                return await self._send(row, destination, address, body)
            except httpx.ConnectError:
                continue
        return await self._send(row, destination, addresses[-1], body)

    async def _send(self, row: Claimed, destination: Destination, address: str,
                    body: bytes) -> int:
        url = destination.url
        host = f"[{address}]" if ":" in address else address
        pinned = urlunsplit((url.scheme, f"{host}:{destination.port}", url.path or "/",
                             url.query, ""))
        msg_id = message_id(row.event_id)
        # The receiver's clock judges this (5 minutes either way), so it is the real time.
        timestamp = int(time.time())
        headers = {"Host": url.netloc, "Content-Type": "application/json",
                   "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign(row.secret, msg_id=msg_id, timestamp=timestamp,
                                             body=body),
                   "User-Agent": "viewing-time-service-webhooks"}
        # TLS is checked against the URL's host name, not the address connected to.
        extensions = {} if address == destination.host else {"sni_hostname": destination.host}
        async with self._http().stream("POST", pinned, content=body, headers=headers,
                                       extensions=extensions) as response:
            return response.status_code  # the body is not read: nothing in it matters
