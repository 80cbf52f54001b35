"""Register, login, /me and every way a bearer token can be refused."""

from __future__ import annotations

import uuid

import jwt
import pytest

from app.services.clock import FrozenClock
from tests.support.api import API, PASSWORD, signed_up
from tests.support.apps import JWT_SECRET

pytestmark = pytest.mark.anyio


async def test_register_login_me(client):
    r = await client.post(f"{API}/auth/register",
                          json={"email": "Ana@Example.COM", "password": PASSWORD})
    assert r.status_code == 201
    body = r.json()
    assert body["email"] == "ana@example.com"
    assert set(body) == {"id", "email", "created_at"}

    r = await client.post(f"{API}/auth/login", json={"email": "ana@example.com", "password": PASSWORD})
    assert r.status_code == 200
    token = r.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600

    r = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert r.json() == {"id": body["id"], "email": "ana@example.com", "is_admin": False,
                        "has_pin": False}


async def test_duplicate_email_is_409_whatever_the_case(client):
    await signed_up(client, "dup@example.com")
    r = await client.post(f"{API}/auth/register", json={"email": "DUP@example.com", "password": PASSWORD})
    assert r.status_code == 409
    assert r.json() == {"detail": "Email is already registered"}


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-email", "password": PASSWORD}, "email"),
    ({"email": "a@example.com", "password": "short"}, "password"),
    ({"email": "a@example.com", "password": "x" * 73}, "password"),
    ({"email": "a@example.com"}, "password"),
    ({"email": 5, "password": PASSWORD}, "email"),
])
async def test_register_validation_names_the_field(client, body, field):
    r = await client.post(f"{API}/auth/register", json=body)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(f"{field}:")


async def test_login_same_answer_for_unknown_email_and_wrong_password(client):
    await signed_up(client, "who@example.com")
    wrong = await client.post(f"{API}/auth/login", json={"email": "who@example.com", "password": "nope-nope"})
    unknown = await client.post(f"{API}/auth/login", json={"email": "ghost@example.com", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect email or password"}
    assert wrong.headers["www-authenticate"] == "Bearer"


def _token(sub: str, exp: int, key: str = JWT_SECRET, **extra) -> str:
    return jwt.encode({"sub": sub, "exp": exp, **extra}, key, algorithm="HS256")


@pytest.mark.parametrize("case", ["missing", "not-bearer", "garbage", "expired", "wrong-key",
                                  "no-sub", "alg-none", "pin-token"])
async def test_every_401_case(client, clock: FrozenClock, case):
    now = int(clock.now().timestamp())
    sub = str(uuid.uuid4())
    headers = {
        "missing": {},
        "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "expired": {"Authorization": f"Bearer {_token(sub, now - 1)}"},
        "wrong-key": {"Authorization": f"Bearer {_token(sub, now + 600, key='x' * 40)}"},
        "no-sub": {"Authorization": "Bearer " + jwt.encode({"exp": now + 600}, JWT_SECRET)},
        "alg-none": {"Authorization": "Bearer " + jwt.encode({"sub": sub, "exp": now + 600}, None,
                                                             algorithm="none")},
        "pin-token": {"Authorization": f"Bearer {_token(sub, now + 600, typ='pin')}"},
    }[case]
    r = await client.get(f"{API}/me", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert isinstance(r.json()["detail"], str)


async def test_token_expires_on_the_service_clock(client, clock: FrozenClock):
    parent = await signed_up(client, "clock@example.com")
    assert (await client.get(f"{API}/me", headers=parent.headers)).status_code == 200
    clock.advance(3600)
    assert (await client.get(f"{API}/me", headers=parent.headers)).status_code == 401


async def test_token_of_deleted_account_is_refused(client, database_url, parent):
    import asyncpg

    from app.database import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    await conn.execute("DELETE FROM accounts WHERE id = $1", uuid.UUID(parent.account_id))
    await conn.close()
    r = await client.get(f"{API}/me", headers=parent.headers)
    assert r.status_code == 401
