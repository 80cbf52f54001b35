"""A child's viewing-time config: read, partial update, validation, pin_token, when it applies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.support.api import signed_up
from tests.support.parental import get_config, pin_token, put_config, set_pin

pytestmark = pytest.mark.anyio


async def _watch(parent, kid: str, title: str, minutes: int, clock) -> str:
    """Beat every 30 s for `minutes` minutes; the session stays open."""
    r = await parent.beat(kid, title)
    session = r.json()["session_id"]
    for _ in range(minutes * 2 - 1):
        clock.advance(30)
        r = await parent.beat(kid, title, session)
        assert r.status_code == 200, r.text
    return session


async def test_a_new_child_has_the_default_config(parent, clock):
    kid = await parent.child("Mia", timezone="Europe/Berlin")
    r = await get_config(parent, kid)
    assert r.status_code == 200
    assert r.json() == {
        "profile_id": kid, "profile_name": "Mia", "weekday_limit_minutes": 120,
        "weekend_limit_minutes": 180, "reset_hour": 6, "educational_exempt": True,
        "timezone": "Europe/Berlin", "updated_at": clock.now().isoformat().replace("+00:00", "Z"),
        "effective_from": None,
    }


async def test_adult_unknown_and_other_accounts_profiles_are_404(client, parent):
    adult = await parent.adult()
    other = await signed_up(client, "other@example.com")
    theirs = await other.child()
    for profile in (adult, str(uuid.uuid4()), theirs):
        assert (await get_config(parent, profile)).status_code == 404
        r = await put_config(parent, profile, weekday_limit_minutes=60)
        assert r.status_code == 404 and r.json() == {"detail": "Profile not found"}
    assert (await get_config(other, theirs)).json()["weekday_limit_minutes"] == 120
    r = await get_config(parent, "not-a-uuid")
    assert r.status_code == 422 and r.json()["detail"].startswith("profile_id:")


async def test_only_the_fields_given_change_and_null_means_unlimited(parent, clock):
    kid = await parent.child()
    clock.advance(60)
    r = await put_config(parent, kid, weekday_limit_minutes=90)
    assert r.status_code == 200
    body = r.json()
    assert body["weekday_limit_minutes"] == 90 and body["weekend_limit_minutes"] == 180
    assert body["updated_at"] == "2026-03-04T12:01:00Z"
    r = await put_config(parent, kid, weekend_limit_minutes=None)
    assert r.json()["weekday_limit_minutes"] == 90 and r.json()["weekend_limit_minutes"] is None
    r = await put_config(parent, kid, timezone="Asia/Tokyo", unknown_field="ignored")
    assert r.status_code == 200
    assert (await get_config(parent, kid)).json() == r.json()
    assert r.json()["weekday_limit_minutes"] == 90 and r.json()["timezone"] == "Asia/Tokyo"
    r = await put_config(parent, kid)  # an empty body changes nothing
    assert r.status_code == 200 and r.json()["updated_at"] == "2026-03-04T12:01:00Z"


@pytest.mark.parametrize("field, value, message", [
    ("weekday_limit_minutes", 20, "must be a multiple of 15"),
    ("weekday_limit_minutes", 0, "must be between 15 and 480"),
    ("weekday_limit_minutes", 495, "must be between 15 and 480"),
    ("weekday_limit_minutes", -15, "must be between 15 and 480"),
    ("weekday_limit_minutes", 10**30, "must be between 15 and 480"),
    ("weekend_limit_minutes", "60", "valid integer"),
    ("weekend_limit_minutes", 60.0, "valid integer"),
    ("weekend_limit_minutes", True, "valid integer"),
    ("reset_hour", 24, "must be an hour from 0 to 23"),
    ("reset_hour", -1, "must be an hour from 0 to 23"),
    ("reset_hour", "6", "valid integer"),
    ("reset_hour", 6.5, "valid integer"),
    ("reset_hour", None, "may not be null"),
    ("educational_exempt", 1, "valid boolean"),
    ("educational_exempt", "true", "valid boolean"),
    ("educational_exempt", None, "may not be null"),
    ("timezone", "Mars/Olympus_Mons", "IANA time zone"),
    ("timezone", "", "IANA time zone"),
    ("timezone", "x" * 65, "at most 64 characters"),
    ("timezone", None, "may not be null"),
    ("timezone", 5, "valid string"),
    ("pin_token", 5, "valid string"),
])
async def test_validation_names_the_field(parent, field, value, message):
    kid = await parent.child()
    r = await put_config(parent, kid, **{field: value})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"{field}: ")
    assert message in r.json()["detail"]
    assert (await get_config(parent, kid)).json()["weekday_limit_minutes"] == 120


async def test_several_bad_fields_are_all_named(parent):
    kid = await parent.child()
    r = await put_config(parent, kid, weekday_limit_minutes=7, reset_hour=99)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"weekday_limit_minutes", "reset_hour"}


async def test_malformed_json_and_wrong_content_type(parent):
    kid = await parent.child()
    url = f"/api/v1/parental-controls/profiles/{kid}/viewing-time"
    r = await parent.client.put(url, headers={**parent.headers, "Content-Type": "application/json"},
                                content=b"{not json")
    assert r.status_code == 400
    r = await parent.client.put(url, headers={**parent.headers, "Content-Type": "text/plain"},
                                content=b"{}")
    assert r.status_code == 422


@pytest.mark.parametrize("body", [{"reset_hour": 7}, {"educational_exempt": False},
                                  {"reset_hour": 6, "weekday_limit_minutes": 60}])
async def test_sensitive_fields_need_a_pin_token(parent, body):
    await set_pin(parent, "1234")
    kid = await parent.child()
    r = await put_config(parent, kid, **body)
    assert r.status_code == 403 and "pin_token" in r.json()["detail"]
    assert (await get_config(parent, kid)).json()["weekday_limit_minutes"] == 120  # nothing changed
    r = await put_config(parent, kid, **body, pin_token=await pin_token(parent))
    assert r.status_code == 200
    for field, value in body.items():
        assert r.json()[field] == value


async def test_limits_and_timezone_need_no_pin_token(parent):
    kid = await parent.child()
    r = await put_config(parent, kid, weekday_limit_minutes=45, weekend_limit_minutes=None,
                         timezone="America/New_York")
    assert r.status_code == 200


async def test_a_lower_limit_blocks_at_once(parent, titles, clock):
    kid = await parent.child()
    session = await _watch(parent, kid, titles.cartoon, 16, clock)
    assert (await put_config(parent, kid, weekday_limit_minutes=15)).status_code == 200
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.json()["enforcement"] == "blocked" and r.json()["remaining_minutes"] == 0
    assert (await put_config(parent, kid, weekday_limit_minutes=None)).status_code == 200
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, session)
    assert r.json()["enforcement"] == "allowed" and r.json()["remaining_minutes"] is None


async def test_a_reset_hour_change_waits_for_the_next_reset(parent, titles, clock):
    """Wednesday 12:00 UTC, reset at 06:00: the day ends Thursday 06:00. Moving the reset to
    04:00 must not end it at Thursday 04:00; the new hour rules from Thursday 06:00 on."""
    await set_pin(parent, "1234")
    kid = await parent.child()
    await _watch(parent, kid, titles.cartoon, 10, clock)
    r = await put_config(parent, kid, reset_hour=4, pin_token=await pin_token(parent))
    assert r.status_code == 200
    assert r.json()["reset_hour"] == 4 and r.json()["effective_from"] == "2026-03-05T06:00:00Z"
    assert (await parent.balance(kid))["next_reset_at"] == "2026-03-05T06:00:00Z"

    clock.set(datetime(2026, 3, 5, 5, 0, tzinfo=UTC))
    await parent.login()
    balance = await parent.balance(kid)
    assert balance["used_minutes"] == 10  # still Wednesday's viewing day
    assert balance["next_reset_at"] == "2026-03-05T06:00:00Z"

    clock.set(datetime(2026, 3, 5, 6, 0, tzinfo=UTC))
    await parent.login()
    balance = await parent.balance(kid)
    assert balance["used_minutes"] == 0
    assert balance["next_reset_at"] == "2026-03-06T04:00:00Z"  # the new hour from now on
    assert (await get_config(parent, kid)).json()["effective_from"] is None


async def test_a_second_change_keeps_the_pending_switch_over(parent, clock):
    await set_pin(parent, "1234")
    kid = await parent.child()
    token = await pin_token(parent)
    await put_config(parent, kid, reset_hour=4, pin_token=token)
    clock.advance(3600)
    await parent.login()
    token = await pin_token(parent)
    r = await put_config(parent, kid, reset_hour=3, timezone="Europe/London", pin_token=token)
    assert r.json()["effective_from"] == "2026-03-05T06:00:00Z"  # not moved by the 2nd change
    assert (await parent.balance(kid))["next_reset_at"] == "2026-03-05T06:00:00Z"
    # Back to the rule in force: nothing is pending any more.
    r = await put_config(parent, kid, reset_hour=6, timezone="UTC", pin_token=token)
    assert r.json()["effective_from"] is None
    assert (await parent.balance(kid))["next_reset_at"] == "2026-03-05T06:00:00Z"


async def test_a_timezone_change_never_moves_the_current_day(parent, titles, clock):
    """12:00 UTC is 04:00 in Los Angeles, before its 06:00 reset: applied at once, the zone
    would move the child back to Tuesday's viewing day."""
    kid = await parent.child()
    await _watch(parent, kid, titles.cartoon, 10, clock)
    r = await put_config(parent, kid, timezone="America/Los_Angeles")
    assert r.status_code == 200 and r.json()["effective_from"] == "2026-03-05T06:00:00Z"
    balance = await parent.balance(kid)
    assert balance["used_minutes"] == 10 and balance["next_reset_at"] == "2026-03-05T06:00:00Z"


async def test_config_changes_reach_this_replicas_cache_at_once(parent, titles, clock, container):
    kid = await parent.child()
    r = await parent.beat(kid, titles.cartoon)  # caches the profile's facts
    assert r.json()["remaining_minutes"] == 119.5
    provider = await container.config_provider()
    invalidations = provider.invalidations
    await put_config(parent, kid, weekday_limit_minutes=30)
    assert provider.invalidations > invalidations
    clock.advance(30)
    r = await parent.beat(kid, titles.cartoon, r.json()["session_id"])
    assert r.json()["remaining_minutes"] == 29


async def test_a_later_reset_hour_does_not_replay_the_old_day(parent, titles, clock):
    await set_pin(parent, "1234")
    kid = await parent.child()
    await _watch(parent, kid, titles.cartoon, 10, clock)
    await put_config(parent, kid, reset_hour=8, pin_token=await pin_token(parent))
    clock.set(datetime(2026, 3, 5, 7, 0, tzinfo=UTC))  # past the old 06:00 reset
    await parent.login()
    balance = await parent.balance(kid)
    assert balance["used_minutes"] == 0  # Thursday's viewing day began at 06:00
    assert balance["next_reset_at"] == "2026-03-06T08:00:00Z"
