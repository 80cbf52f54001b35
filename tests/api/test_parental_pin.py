"""The parental PIN: set, change, verify, reset, lockout (also when guessed in parallel), tokens."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import asyncpg
import pytest

from app.database import asyncpg_dsn
from tests.support.api import API, PASSWORD, signed_up
from tests.support.parental import (
    PC,
    get_config,
    grant,
    pin_token,
    put_config,
    set_pin,
    status,
    verify,
)

pytestmark = pytest.mark.anyio


async def _pin_row(database_url: str, account_id: str) -> asyncpg.Record:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetchrow(
            "SELECT failed_pin_attempts, pin_locked_until FROM accounts WHERE id = $1",
            uuid.UUID(account_id))
    finally:
        await conn.close()


async def _fail(parent, times: int, pin: str = "0000") -> None:
    for _ in range(times):
        r = await verify(parent, pin)
        assert r.status_code == 403 and r.json() == {"detail": "Incorrect PIN"}, r.text


def _assert_locked(r, until: datetime | None = None) -> datetime:
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["detail"] == "PIN is locked after too many failed attempts"
    locked_until = datetime.fromisoformat(body["locked_until"])
    assert datetime.fromisoformat(r.headers["x-locked-until"]) == locked_until
    if until is not None:
        assert locked_until == until
    return locked_until


async def test_set_status_verify_and_me(parent):
    assert await status(parent) == {"has_pin": False, "locked_until": None}
    r = await verify(parent, "1234")
    assert r.status_code == 400 and r.json() == {"detail": "No PIN set"}

    r = await set_pin(parent, "1234")
    assert r.status_code == 200 and r.json() == {"detail": "PIN set successfully"}
    assert await status(parent) == {"has_pin": True, "locked_until": None}
    me = await parent.client.get(f"{API}/me", headers=parent.headers)
    assert me.json()["has_pin"] is True

    r = await verify(parent, "1234")
    assert r.status_code == 200
    assert r.json()["verified"] is True and isinstance(r.json()["pin_token"], str)
    r = await verify(parent, "4321")
    assert r.status_code == 403 and r.json() == {"detail": "Incorrect PIN"}


async def test_change_needs_the_current_pin(parent):
    await set_pin(parent, "1234")
    r = await set_pin(parent, "5678")
    assert r.status_code == 400
    assert r.json() == {"detail": "current_pin is required to change an existing PIN"}
    r = await set_pin(parent, "5678", current="9999")
    assert r.status_code == 403 and r.json() == {"detail": "Incorrect PIN"}
    r = await set_pin(parent, "5678", current="1234")
    assert r.status_code == 200 and r.json() == {"detail": "PIN set successfully"}
    assert (await verify(parent, "1234")).status_code == 403
    assert (await verify(parent, "5678")).status_code == 200


@pytest.mark.parametrize("pin", [1234, "123", "12345", "12a4", "١٢٣٤", " 1234", "1234\n", "",
                                 None, ["1234"]])
async def test_pin_is_exactly_four_ascii_digits_as_a_string(parent, pin):
    r = await parent.client.post(f"{PC}/pin", headers=parent.headers, json={"new_pin": pin})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("new_pin:")
    await set_pin(parent, "1234")
    r = await verify(parent, pin)
    assert r.status_code == 422 and r.json()["detail"].startswith("pin:")


async def test_five_failures_lock_even_the_right_pin_for_30_minutes(parent, clock, database_url):
    await set_pin(parent, "1234")
    await _fail(parent, 5)
    until = clock.now() + timedelta(minutes=30)
    _assert_locked(await verify(parent, "1234"), until)
    assert datetime.fromisoformat((await status(parent))["locked_until"]) == until
    # Change and on-device grant refuse too, even with the right PIN.
    _assert_locked(await set_pin(parent, "5678", current="1234"), until)
    kid = await parent.child()
    _assert_locked(await grant(parent, kid, minutes=15, pin="1234"), until)
    row = await _pin_row(database_url, parent.account_id)
    assert row["failed_pin_attempts"] == 5  # refused attempts while locked are not counted

    clock.advance(30 * 60 - 1)
    _assert_locked(await verify(parent, "1234"), until)
    clock.advance(1)
    assert (await verify(parent, "1234")).status_code == 200
    assert await status(parent) == {"has_pin": True, "locked_until": None}
    row = await _pin_row(database_url, parent.account_id)
    assert row["failed_pin_attempts"] == 0 and row["pin_locked_until"] is None


async def test_a_right_pin_resets_the_count(parent):
    await set_pin(parent, "1234")
    await _fail(parent, 4)
    assert (await verify(parent, "1234")).status_code == 200
    await _fail(parent, 4)
    assert (await verify(parent, "1234")).status_code == 200
    await _fail(parent, 5)
    _assert_locked(await verify(parent, "0000"))


async def test_an_expired_lock_gives_five_fresh_attempts(parent, clock):
    await set_pin(parent, "1234")
    await _fail(parent, 5)
    clock.advance(30 * 60)
    await _fail(parent, 4)  # the old count does not carry over
    await _fail(parent, 1)
    _assert_locked(await verify(parent, "1234"), clock.now() + timedelta(minutes=30))


async def test_verify_change_and_grant_failures_count_together(parent):
    await set_pin(parent, "1234")
    kid = await parent.child()
    await _fail(parent, 2)
    for _ in range(2):
        r = await set_pin(parent, "5678", current="0000")
        assert r.status_code == 403 and r.json() == {"detail": "Incorrect PIN"}
    r = await grant(parent, kid, minutes=15, pin="0000")
    assert r.status_code == 403 and r.json() == {"detail": "Incorrect PIN"}
    _assert_locked(await verify(parent, "1234"))


async def test_parallel_wrong_guesses_cannot_exceed_five(parent, clock, database_url):
    await set_pin(parent, "1234")
    answers = await asyncio.gather(*(verify(parent, f"{n:04d}") for n in range(5000, 5010)))
    incorrect = [r for r in answers if r.json()["detail"] == "Incorrect PIN"]
    locked = [r for r in answers if "locked_until" in r.json()]
    assert all(r.status_code == 403 for r in answers)
    assert len(incorrect) == 5 and len(locked) == 5
    row = await _pin_row(database_url, parent.account_id)
    assert row["failed_pin_attempts"] == 5
    _assert_locked(await verify(parent, "1234"), clock.now() + timedelta(minutes=30))


async def test_parallel_guesses_with_the_right_pin_among_them(parent, database_url):
    """Whatever the interleaving, the counter never passes 5, and the right PIN is either
    accepted (before the lock engaged; it resets the count) or refused as locked."""
    await set_pin(parent, "1234")
    guesses = [f"{n:04d}" for n in range(6000, 6011)] + ["1234"]
    answers = await asyncio.gather(*(verify(parent, pin) for pin in guesses))
    incorrect = sum(r.json().get("detail") == "Incorrect PIN" for r in answers)
    row = await _pin_row(database_url, parent.account_id)
    assert row["failed_pin_attempts"] <= 5
    if answers[-1].status_code == 200:
        assert incorrect <= 10  # at most 5 before the right PIN reset the count, 5 after
    else:
        _assert_locked(answers[-1])
        assert incorrect == 5


async def test_reset_with_the_password_clears_the_lock(parent):
    await set_pin(parent, "1234")
    await _fail(parent, 5)
    r = await parent.client.post(f"{PC}/pin/reset", headers=parent.headers,
                                 json={"password": "wrong-password", "new_pin": "2468"})
    assert r.status_code == 401 and r.json() == {"detail": "Incorrect password"}
    _assert_locked(await verify(parent, "1234"))  # a wrong password changes nothing

    r = await parent.client.post(f"{PC}/pin/reset", headers=parent.headers,
                                 json={"password": PASSWORD, "new_pin": "2468"})
    assert r.status_code == 200 and r.json() == {"detail": "PIN reset successfully"}
    assert await status(parent) == {"has_pin": True, "locked_until": None}
    assert (await verify(parent, "1234")).status_code == 403
    assert (await verify(parent, "2468")).status_code == 200


async def test_reset_passwords_share_the_sign_in_budget(parent):
    """Wrong passwords at /pin/reset count like failed sign-ins of the account (10 → 429)."""
    for _ in range(10):
        r = await parent.client.post(f"{PC}/pin/reset", headers=parent.headers,
                                     json={"password": "wrong-password", "new_pin": "2468"})
        assert r.status_code == 401
    r = await parent.client.post(f"{PC}/pin/reset", headers=parent.headers,
                                 json={"password": PASSWORD, "new_pin": "2468"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    r = await parent.client.post(f"{API}/auth/login",
                                 json={"email": parent.email, "password": PASSWORD})
    assert r.status_code == 429


@pytest.mark.parametrize("body, field", [
    ({"password": PASSWORD, "new_pin": "12"}, "new_pin"),
    ({"password": PASSWORD, "new_pin": 1234}, "new_pin"),
    ({"new_pin": "1234"}, "password"),
    ({"password": 12345678, "new_pin": "1234"}, "password"),
])
async def test_reset_validation(parent, body, field):
    r = await parent.client.post(f"{PC}/pin/reset", headers=parent.headers, json=body)
    assert r.status_code == 422 and r.json()["detail"].startswith(f"{field}:")


async def test_reset_also_sets_a_first_pin(parent):
    r = await parent.client.post(f"{PC}/pin/reset", headers=parent.headers,
                                 json={"password": PASSWORD, "new_pin": "1357"})
    assert r.status_code == 200
    assert (await verify(parent, "1357")).status_code == 200


async def test_pin_token_lasts_five_minutes_on_the_service_clock(parent, clock):
    await set_pin(parent, "1234")
    kid = await parent.child()
    token = await pin_token(parent)
    clock.advance(299)
    assert (await put_config(parent, kid, reset_hour=7, pin_token=token)).status_code == 200
    clock.advance(1)
    r = await put_config(parent, kid, reset_hour=8, pin_token=token)
    assert r.status_code == 403 and "pin_token" in r.json()["detail"]
    assert (await get_config(parent, kid)).json()["reset_hour"] == 7


async def test_pin_token_is_bound_to_its_account(client, parent):
    await set_pin(parent, "1234")
    token = await pin_token(parent)
    other = await signed_up(client, "other@example.com")
    await set_pin(other, "1234")
    kid = await other.child()
    r = await put_config(other, kid, educational_exempt=False, pin_token=token)
    assert r.status_code == 403
    r = await grant(other, kid, minutes=15, pin_token=token)
    assert r.status_code == 403 and r.json() == {"detail": "A valid pin_token is required"}
    r = await put_config(other, kid, educational_exempt=False, pin_token="not-a-token")
    assert r.status_code == 403


async def test_right_and_wrong_answers_cost_one_bcrypt_each(parent, container):
    await set_pin(parent, "1234")
    hasher = container.hasher()  # a sync resource, already initialised by the app
    calls: list[str] = []
    real = hasher.verify

    async def counting(secret, hashed):
        calls.append(secret)
        return await real(secret, hashed)

    hasher.verify = counting
    try:
        await verify(parent, "1234")
        await verify(parent, "0000")
    finally:
        del hasher.verify
    assert calls == ["1234", "0000"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/pin/status"), ("POST", "/pin"), ("POST", "/pin/verify"), ("POST", "/pin/reset"),
    ("GET", f"/profiles/{uuid.uuid4()}/viewing-time"),
    ("PUT", f"/profiles/{uuid.uuid4()}/viewing-time"),
    ("POST", f"/profiles/{uuid.uuid4()}/viewing-time/grant"),
    ("GET", f"/profiles/{uuid.uuid4()}/grants"), ("GET", f"/profiles/{uuid.uuid4()}/history"),
    ("GET", "/weekly-report"),
])
async def test_every_endpoint_needs_a_bearer_token(client, method, path):
    r = await client.request(method, f"{PC}{path}", json={})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
