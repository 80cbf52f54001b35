"""Grants of extra time: remote and on-device, the audit trail, effect on the next heartbeat."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from tests.support.api import signed_up
from tests.support.db import fetch
from tests.support.parental import (
    blocked_child,
    grant,
    grants,
    pin_token,
    set_pin,
    verify,
)

pytestmark = pytest.mark.anyio




async def test_a_grant_unblocks_the_very_next_heartbeat(parent, titles, clock):
    kid, session = await blocked_child(parent, titles, clock)
    r = await grant(parent, kid, minutes=15)
    assert r.status_code == 200
    assert r.json() == {"granted_minutes": 15, "remaining_minutes": 15.0,
                        "is_unlimited_override": False}
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.json()["enforcement"] == "warning_15"
    assert r.json()["remaining_minutes"] == 14.5
    balance = await parent.balance(kid)
    assert balance["used_minutes"] == 15.5  # a grant never rewrites the watched time


async def test_grants_add_up(parent, titles, clock):
    kid, _ = await blocked_child(parent, titles, clock)
    await grant(parent, kid, minutes=15)
    r = await grant(parent, kid, minutes=30)
    assert r.json()["remaining_minutes"] == 45.0
    r = await grant(parent, kid, minutes=60)
    assert r.json()["remaining_minutes"] == 105.0
    assert (await parent.balance(kid))["remaining_minutes"] == 105.0


async def test_unlimited_for_the_rest_of_the_viewing_day(parent, titles, clock):
    kid, session = await blocked_child(parent, titles, clock)
    r = await grant(parent, kid, minutes=None)
    assert r.json() == {"granted_minutes": None, "remaining_minutes": None,
                        "is_unlimited_override": True}
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.json()["enforcement"] == "allowed" and r.json()["remaining_minutes"] is None
    assert (await parent.balance(kid))["is_unlimited_override"] is True
    # A later +15 keeps the day unlimited.
    r = await grant(parent, kid, minutes=15)
    assert r.json()["is_unlimited_override"] is True and r.json()["remaining_minutes"] is None

    clock.set(datetime(2026, 3, 5, 6, 0, tzinfo=UTC))  # the next viewing day: limits again
    await parent.login()
    balance = await parent.balance(kid)
    assert balance["is_unlimited_override"] is False and balance["remaining_minutes"] == 15


async def test_a_grant_goes_to_the_current_viewing_day(parent, database_url, clock):
    kid = await parent.child()
    clock.set(datetime(2026, 3, 5, 5, 59, tzinfo=UTC))  # before the 06:00 reset: Wednesday
    await parent.login()
    assert (await grant(parent, kid, minutes=30)).status_code == 200
    rows = await fetch(database_url, "SELECT reset_date, granted_seconds FROM daily_balances "
                                    "WHERE profile_id = $1", uuid.UUID(kid))
    assert [(r["reset_date"], r["granted_seconds"]) for r in rows] == [(date(2026, 3, 4), 1800)]
    audit = await fetch(database_url, "SELECT reset_date FROM time_grants WHERE profile_id = $1",
                        uuid.UUID(kid))
    assert [r["reset_date"] for r in audit] == [date(2026, 3, 4)]


async def test_remote_and_on_device_grants_are_audited_newest_first(parent, clock):
    await set_pin(parent, "1234")
    kid = await parent.child()
    assert (await grant(parent, kid, minutes=15)).status_code == 200
    clock.advance(60)
    assert (await grant(parent, kid, minutes=30, pin="1234")).status_code == 200
    clock.advance(60)
    token = await pin_token(parent)
    assert (await grant(parent, kid, minutes=None, pin_token=token)).status_code == 200

    r = await grants(parent, kid)
    assert r.status_code == 200
    listed = r.json()
    assert [(g["granted_minutes"], g["is_remote"]) for g in listed] == [
        (None, False), (30, False), (15, True)]
    assert [g["granted_at"] for g in listed] == [
        "2026-03-04T12:02:00Z", "2026-03-04T12:01:00Z", "2026-03-04T12:00:00Z"]
    assert all(g["granted_by"] == parent.account_id for g in listed)
    assert set(listed[0]) == {"id", "granted_minutes", "is_remote", "granted_at", "granted_by",
                              "request_id"}
    assert all(g["request_id"] is None for g in listed)  # direct grants answer no request


async def test_a_refused_grant_writes_nothing(parent, titles, clock, database_url):
    await set_pin(parent, "1234")
    kid, _ = await blocked_child(parent, titles, clock)
    r = await grant(parent, kid, minutes=60, pin="9999")
    assert r.status_code == 403 and r.json() == {"detail": "Incorrect PIN"}
    r = await grant(parent, kid, minutes=60, pin_token="forged")
    assert r.status_code == 403 and r.json() == {"detail": "A valid pin_token is required"}
    assert (await grants(parent, kid)).json() == []
    assert (await parent.balance(kid))["remaining_minutes"] == 0


async def test_a_wrong_grant_pin_counts_toward_the_lockout(parent):
    await set_pin(parent, "1234")
    kid = await parent.child()
    for _ in range(4):
        assert (await grant(parent, kid, minutes=15, pin="0000")).status_code == 403
    assert (await verify(parent, "0000")).json() == {"detail": "Incorrect PIN"}
    r = await grant(parent, kid, minutes=15, pin="1234")
    assert r.status_code == 403 and "locked_until" in r.json() and "x-locked-until" in r.headers


async def test_grant_with_a_pin_when_none_is_set(parent):
    kid = await parent.child()
    r = await grant(parent, kid, minutes=15, pin="1234")
    assert r.status_code == 400 and r.json() == {"detail": "No PIN set"}


async def test_adult_unknown_and_other_accounts_profiles_are_404(client, parent):
    adult = await parent.adult()
    other = await signed_up(client, "other@example.com")
    theirs = await other.child()
    for profile in (adult, str(uuid.uuid4()), theirs):
        r = await grant(parent, profile, minutes=15)
        assert r.status_code == 404 and r.json() == {"detail": "Profile not found"}
        assert (await grants(parent, profile)).status_code == 404
    assert (await grants(other, theirs)).json() == []


@pytest.mark.parametrize("body, message", [
    ({"minutes": 45}, "minutes: must be 15, 30, 60 or null"),
    ({"minutes": 0}, "minutes: must be 15, 30, 60 or null"),
    ({"minutes": "15"}, "minutes: Input should be a valid integer"),
    ({"minutes": 15.0}, "minutes: Input should be a valid integer"),
    ({"minutes": True}, "minutes: Input should be a valid integer"),
    ({}, "minutes: Field required"),
    ({"minutes": 15, "pin": 1234}, "pin: Input should be a valid string"),
    ({"minutes": 15, "pin": "12345"}, "pin: String should match pattern"),
])
async def test_grant_validation(parent, body, message):
    kid = await parent.child()
    r = await parent.client.post(f"/api/v1/parental-controls/profiles/{kid}/viewing-time/grant",
                                 headers=parent.headers, json=body)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(message)
