"""Subscribing to webhooks: the URL rules (SSRF), event types, the five-per-account limit
(under parallel requests too), listing without secrets, deleting, account isolation."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.domain.webhooks import EVENT_TYPES
from tests.support.api import signed_up
from tests.support.parental import PC

pytestmark = pytest.mark.anyio
HOOKS = f"{PC}/webhooks"
PUBLIC = "https://93.184.215.14/hook"  # an address literal: no DNS needed
REFUSED = ("url: must not resolve to a loopback, private, link-local, multicast or reserved "
           "address")


async def _create(parent, url: str = PUBLIC, **body: object):
    return await parent.client.post(HOOKS, headers=parent.headers, json={"url": url, **body})


async def test_create_answers_the_secret_once_and_defaults_to_every_event(parent, clock):
    r = await _create(parent)
    assert r.status_code == 201, r.text
    made = r.json()
    assert set(made) == {"id", "url", "events", "secret", "created_at"}
    assert made["url"] == PUBLIC and made["events"] == list(EVENT_TYPES)
    assert made["secret"].startswith("whsec_") and len(made["secret"]) == 6 + 44
    assert made["created_at"] == "2026-03-04T12:00:00Z"

    r = await parent.client.get(HOOKS, headers=parent.headers)
    assert r.status_code == 200
    assert r.json() == [{"id": made["id"], "url": PUBLIC, "events": list(EVENT_TYPES),
                         "created_at": "2026-03-04T12:00:00Z", "last_delivery_at": None,
                         "last_status": None, "failing_since": None}]


async def test_chosen_events_are_kept_once_each(parent):
    r = await _create(parent, events=["pin.locked", "viewing.blocked", "pin.locked"])
    assert r.status_code == 201, r.text
    assert r.json()["events"] == ["pin.locked", "viewing.blocked"]


@pytest.mark.parametrize("events, field", [
    (["viewing.lunch"], "events.0"), ([], "events"), ("pin.locked", "events"),
])
async def test_bad_event_lists_are_422_naming_the_field(parent, events, field):
    r = await _create(parent, events=events)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"{field}:")


@pytest.mark.parametrize("url, detail", [
    ("http://93.184.215.14/hook", "url: must be an https:// URL"),
    ("not a url", "url: must be an https:// URL"),
    ("https://127.0.0.1/hook", REFUSED),
    ("https://10.0.0.7/hook", REFUSED),
    ("https://169.254.169.254/latest/meta-data", REFUSED),
    ("https://[::1]/hook", REFUSED),
    ("https://[::ffff:127.0.0.1]/hook", REFUSED),
    ("https://localhost/hook", REFUSED),  # a name that resolves to loopback
    ("https://no-such-host.invalid/hook", "url: host does not resolve"),
])
async def test_urls_that_could_reach_the_operators_network_are_422(parent, url, detail):
    r = await _create(parent, url=url)
    assert r.status_code == 422, r.text
    assert r.json() == {"detail": detail, "errors": [
        {"field": "url", "message": detail.removeprefix("url: ")}]}
    assert (await parent.client.get(HOOKS, headers=parent.headers)).json() == []


async def test_missing_url_is_422(parent):
    r = await parent.client.post(HOOKS, headers=parent.headers, json={"events": ["pin.locked"]})
    assert r.status_code == 422 and r.json()["detail"].startswith("url:")


async def test_a_sixth_subscription_is_409(parent):
    for n in range(5):
        assert (await _create(parent, url=f"{PUBLIC}/{n}")).status_code == 201
    r = await _create(parent)
    assert r.status_code == 409
    assert r.json() == {"detail": "An account has at most 5 webhook subscriptions",
                        "code": "too_many_webhooks"}


async def test_parallel_creates_stop_at_five(parent):
    answers = await asyncio.gather(*(_create(parent, url=f"{PUBLIC}/{n}") for n in range(12)))
    assert sorted(r.status_code for r in answers) == [201] * 5 + [409] * 7
    assert len((await parent.client.get(HOOKS, headers=parent.headers)).json()) == 5


async def test_delete_and_isolation_between_accounts(client, parent):
    other = await signed_up(client, "other@example.com")
    mine = (await _create(parent)).json()["id"]
    theirs = (await _create(other, url=f"{PUBLIC}/theirs")).json()["id"]

    assert [h["id"] for h in (await client.get(HOOKS, headers=parent.headers)).json()] == [mine]
    r = await client.delete(f"{HOOKS}/{theirs}", headers=parent.headers)
    assert r.status_code == 404 and r.json() == {"detail": "Webhook not found"}
    r = await client.delete(f"{HOOKS}/{uuid.uuid4()}", headers=parent.headers)
    assert r.status_code == 404
    r = await client.delete(f"{HOOKS}/not-a-uuid", headers=parent.headers)
    assert r.status_code == 422

    assert (await client.delete(f"{HOOKS}/{mine}", headers=parent.headers)).status_code == 204
    assert (await client.get(HOOKS, headers=parent.headers)).json() == []
    assert [h["id"] for h in (await client.get(HOOKS, headers=other.headers)).json()] == [theirs]
    # The limit is per account: the other account's subscriptions do not count.
    assert (await client.delete(f"{HOOKS}/{mine}", headers=parent.headers)).status_code == 404


async def test_a_device_token_cannot_manage_webhooks(parent):
    profile = await parent.child()
    device = await parent.pair(profile)
    headers = {"Authorization": f"Bearer {device['device_token']}"}
    assert (await parent.client.get(HOOKS, headers=headers)).status_code == 403
    assert (await parent.client.post(HOOKS, headers=headers,
                                     json={"url": PUBLIC})).status_code == 403
