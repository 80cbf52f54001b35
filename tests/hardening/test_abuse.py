"""Abuse: brute force against sign-in, forged and orphaned tokens, other accounts' ids, CORS.

Sign-in throttling (app/services/throttle.py): 10 failures per 15 minutes per email and per
client address, then 429 with Retry-After; the client address is set per test client through
httpx's ASGITransport, the way uvicorn sets it from the socket (or a trusted proxy's header).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid

import asyncpg
import httpx
import pytest

from app.database import asyncpg_dsn
from app.endpoints.access import Access
from app.services.clock import FrozenClock
from tests.hardening import probe
from tests.support import api
from tests.support.api import API, PASSWORD
from tests.support.apps import JWT_SECRET, client_for, running_app
from tests.support.db import truncate_all

pytestmark = pytest.mark.anyio

LOGIN = f"{API}/auth/login"
REGISTER = f"{API}/auth/register"


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": password})


# --- sign-in throttling -----------------------------------------------------------------------

async def test_ten_failures_for_one_email_throttle_it_from_every_address(app, client, clock):
    await api.signed_up(client, "victim@example.com")
    for i in range(10):
        async with client_for(app, f"10.0.0.{i}") as c:
            assert (await login(c, "victim@example.com", "guess-%d" % i)).status_code == 401
    async with client_for(app, "10.0.1.1") as c:
        r = await login(c, "VICTIM@example.com ", PASSWORD)  # even the right password
        assert r.status_code == 429
        assert r.json() == {"detail": "Too many attempts; try again later"}
        assert int(r.headers["retry-after"]) == 900
        # Another account from the same fresh address is not affected.
        await api.signed_up(c, "bystander@example.com")
    clock.advance(600)
    async with client_for(app, "10.0.1.2") as c:
        r = await login(c, "victim@example.com", PASSWORD)
        assert r.status_code == 429 and int(r.headers["retry-after"]) == 300
    clock.advance(300)
    async with client_for(app, "10.0.1.3") as c:
        assert (await login(c, "victim@example.com", PASSWORD)).status_code == 200


async def test_ten_failures_from_one_address_throttle_every_email_from_it(app, client):
    await api.signed_up(client, "real@example.com")
    async with client_for(app, "192.0.2.7") as sprayer:
        for i in range(10):
            r = await login(sprayer, f"user{i}@example.com", "Summer2026!")
            assert r.status_code == 401
        r = await login(sprayer, "real@example.com", PASSWORD)
        assert r.status_code == 429 and "retry-after" in r.headers
        r = await sprayer.post(REGISTER, json={"email": "new@example.com", "password": PASSWORD})
        assert r.status_code == 429
    async with client_for(app, "192.0.2.8") as neighbour:
        assert (await login(neighbour, "real@example.com", PASSWORD)).status_code == 200


async def test_a_right_password_clears_the_emails_count_but_not_the_addresss(app, client):
    await api.signed_up(client, "forgetful@example.com")
    for round_ in range(3):  # 27 failures in all, never 10 in a row
        for i in range(9):
            async with client_for(app, f"198.51.100.{round_ * 10 + i}") as c:
                assert (await login(c, "forgetful@example.com", "nope")).status_code == 401
        async with client_for(app, f"198.51.100.{200 + round_}") as c:
            assert (await login(c, "forgetful@example.com", PASSWORD)).status_code == 200
    async with client_for(app, "203.0.113.1") as c:
        for _ in range(9):
            assert (await login(c, "forgetful@example.com", "nope")).status_code == 401
        assert (await login(c, "forgetful@example.com", PASSWORD)).status_code == 200
        assert (await login(c, "someone@example.com", "nope")).status_code == 401  # 10th
        assert (await login(c, "forgetful@example.com", PASSWORD)).status_code == 429


async def test_parallel_guesses_cannot_get_past_the_budget(app, client):
    await api.signed_up(client, "target@example.com")
    async with client_for(app, "192.0.2.99") as c:
        answers = await asyncio.gather(*(login(c, "target@example.com", f"guess-{i}")
                                         for i in range(40)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [401] * 10 + [429] * 30


async def test_registration_probes_for_taken_emails_share_the_budget(app, client):
    await api.signed_up(client, "taken@example.com")
    async with client_for(app, "192.0.2.50") as prober:
        for _ in range(10):
            r = await prober.post(REGISTER, json={"email": "taken@example.com",
                                                  "password": PASSWORD})
            assert r.status_code == 409
        r = await prober.post(REGISTER, json={"email": "other@example.com", "password": PASSWORD})
        assert r.status_code == 429
    async with client_for(app, "192.0.2.51") as honest:
        for i in range(12):  # successful sign-ups never count
            r = await honest.post(REGISTER, json={"email": f"kid{i}@example.com",
                                                  "password": PASSWORD})
            assert r.status_code == 201


async def test_throttled_attempts_cost_no_bcrypt(app, client, container):
    await api.signed_up(client, "cheap@example.com")
    hasher = container.hasher()
    calls = 0
    verify = hasher.verify

    async def counting(secret, hashed):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return await verify(secret, hashed)

    hasher.verify = counting
    async with client_for(app, "192.0.2.60") as c:
        for _ in range(25):
            await login(c, "cheap@example.com", "nope")
    assert calls == 10


async def test_the_limits_are_settings(database_url, clock):
    await truncate_all(database_url)
    async with running_app(database_url, clock, login_max_failures=3,
                           login_window_seconds=60) as running, \
            client_for(running.app, "192.0.2.70") as c:
        for _ in range(3):
            assert (await login(c, "x@example.com", "nope")).status_code == 401
        r = await login(c, "x@example.com", "nope")
        assert r.status_code == 429 and r.headers["retry-after"] == "60"


async def test_pin_guesses_spread_over_two_replicas_still_lock_after_five(database_url, clock):
    """The PIN counter lives in the database (app/repositories/pins.py), so a child cannot
    get more guesses by spreading them over replicas: two apps, 20 parallel wrong guesses."""
    await truncate_all(database_url)
    async with running_app(database_url, clock) as first, \
            running_app(database_url, clock) as second, \
            client_for(first.app, "10.1.0.1") as a, client_for(second.app, "10.1.0.2") as b:
        parent = await api.signed_up(a, "pin@example.com")
        pc = f"{API}/parental-controls"
        assert (await a.post(f"{pc}/pin", headers=parent.headers,
                             json={"new_pin": "1234"})).status_code == 200
        answers = await asyncio.gather(*(
            (a if i % 2 else b).post(f"{pc}/pin/verify", headers=parent.headers,
                                     json={"pin": f"{9000 + i}"}) for i in range(20)))
        assert all(r.status_code == 403 for r in answers)
        assert sum(r.json()["detail"] == "Incorrect PIN" for r in answers) == 5
        for client in (a, b):  # locked on both, even for the right PIN
            r = await client.post(f"{pc}/pin/verify", headers=parent.headers,
                                  json={"pin": "1234"})
            assert r.status_code == 403 and "locked_until" in r.json()
            assert r.headers["x-locked-until"]


# --- tokens -----------------------------------------------------------------------------------

def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _forged(header: dict, claims: dict, signature: bytes = b"") -> str:
    return f"{_b64(header)}.{_b64(claims)}.{_b64(signature) if signature else ''}"


@pytest.mark.parametrize("case", [
    "alg-none", "alg-None", "alg-NONE", "alg-none-with-signature", "hs384-same-key",
    "hs512-same-key", "rs256-header-hmac-signature", "es256-header", "empty-key",
    "no-exp", "exp-as-string", "sub-not-uuid", "jku-header", "kid-path-traversal",
])
async def test_forged_and_confused_tokens_are_401(client, parent, clock: FrozenClock, case):
    now = int(clock.now().timestamp())
    claims = {"sub": parent.account_id, "exp": now + 600}

    def signed(header: dict, body: dict = claims, key: bytes = JWT_SECRET.encode(),
               digest=hashlib.sha256) -> str:  # type: ignore[no-untyped-def]
        signing_input = f"{_b64(header)}.{_b64(body)}"
        sig = hmac.new(key, signing_input.encode(), digest).digest()
        return f"{signing_input}.{_b64(sig)}"

    hs256 = {"alg": "HS256", "typ": "JWT"}
    token = {
        "alg-none": lambda: _forged({"alg": "none", "typ": "JWT"}, claims),
        "alg-None": lambda: _forged({"alg": "None", "typ": "JWT"}, claims),
        "alg-NONE": lambda: _forged({"alg": "NONE", "typ": "JWT"}, claims),
        "alg-none-with-signature": lambda: _forged({"alg": "none"}, claims, b"sig"),
        "hs384-same-key": lambda: signed({"alg": "HS384"}, digest=hashlib.sha384),
        "hs512-same-key": lambda: signed({"alg": "HS512"}, digest=hashlib.sha512),
        # RS256 named in the header, signed with the shared secret as an HMAC key: the classic
        # confusion attack against verifiers that take the algorithm from the token.
        "rs256-header-hmac-signature": lambda: signed({"alg": "RS256", "typ": "JWT"}),
        "es256-header": lambda: signed({"alg": "ES256", "typ": "JWT"}),
        "empty-key": lambda: signed(hs256, key=b""),
        "no-exp": lambda: signed(hs256, {"sub": parent.account_id}),
        "exp-as-string": lambda: signed(hs256, {"sub": parent.account_id, "exp": "never"}),
        "sub-not-uuid": lambda: signed(hs256, {"sub": "admin", "exp": now + 600}),
        "jku-header": lambda: signed({**hs256, "jku": "http://127.0.0.1:1/keys.json"},
                                     key=b"attacker-key"),
        "kid-path-traversal": lambda: signed({**hs256, "kid": "../../../../dev/null"}, key=b""),
    }[case]()
    r = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert isinstance(r.json()["detail"], str)
    # The real token still works: the forged one did not poison the verification cache.
    assert (await client.get(f"{API}/me", headers=parent.headers)).status_code == 200


async def _owner_with_data(client, container) -> tuple[api.Parent, probe.Ids]:  # type: ignore[no-untyped-def]
    owner = await api.signed_up(client, "owner@example.com")
    titles = await api.seed_titles(container)
    kid = await owner.child()
    beat = await owner.beat(kid, titles.cartoon)
    assert beat.status_code == 200
    device = await owner.pair(kid)
    hook = await client.post(f"{API}/parental-controls/webhooks", headers=owner.headers,
                             json={"url": "https://93.184.215.14/hook"})
    assert hook.status_code == 201, hook.text
    asked = await client.post(f"{API}/viewing-time/time-requests", headers=owner.headers,
                              json={"profile_id": kid, "minutes": 15})
    assert asked.status_code == 201, asked.text
    return owner, probe.Ids(kid, beat.json()["session_id"], titles.cartoon, device["id"],
                            webhook_id=hook.json()["id"], request_id=asked.json()["id"])


async def _rows(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}")
                for t in ("accounts", "profiles", "viewing_time_configs", "viewing_sessions",
                          "daily_balances", "time_grants", "devices")}
    finally:
        await conn.close()


async def test_another_accounts_ids_are_404_on_every_endpoint(client, container, database_url):
    owner, ids = await _owner_with_data(client, container)
    stranger = await api.signed_up(client, "stranger@example.com")
    await api.make_admin(container, stranger)  # even an admin sees no other account's data
    before = await _rows(database_url)
    for endpoint in probe.authenticated():
        r = await probe.call(client, endpoint, ids, stranger.headers)
        label = f"{endpoint.method} {endpoint.path}: {r.status_code} {r.text}"
        assert r.status_code < 500, label
        mentions_owner = any(f"{{{name}}}" in endpoint.path
                             for name in ("profile_id", "session_id", "device_id",
                                          "webhook_id", "request_id")) or (
            endpoint.body is not None
            and endpoint.body.__name__ in ("HeartbeatRequest", "TimeRequestCreate"))
        if mentions_owner:
            assert r.status_code == 404, label
            assert r.json()["detail"].endswith("not found"), label
        for secret in (ids.profile_id, ids.session_id, owner.account_id, owner.email):
            assert secret not in r.text, label
    after = await _rows(database_url)
    # Only what the stranger may do to their own account happened (a title upsert as admin, a
    # profile of their own, a PIN): nothing of the owner's changed.
    assert after["viewing_sessions"] == before["viewing_sessions"]
    assert after["daily_balances"] == before["daily_balances"]
    assert after["devices"] == before["devices"]
    assert after["time_grants"] == before["time_grants"]
    r = await owner.beat(ids.profile_id, ids.title_id, ids.session_id)
    assert r.status_code == 200 and r.json()["used_minutes"] == 0.5


async def test_a_deleted_accounts_token_is_refused_everywhere(database_url, clock):
    """Accounts are deleted out of band (by the operator or the platform, with everything they
    own): their tokens stay signed and unexpired. Account-wide endpoints answer 401 at once;
    profile-scoped ones answer 404 once each replica's config cache drops the profile's facts
    (at once for a deletion made through the API, else within CONFIG_CACHE_TTL_SECONDS, 0.2 s
    of the service clock here). The catalog is not account data: any valid token may read a title."""
    await truncate_all(database_url)
    async with running_app(database_url, clock, config_cache_ttl_seconds=0.2) as running, \
            client_for(running.app, "127.0.0.1") as client:
        owner, ids = await _owner_with_data(client, running.container)
        await api.make_admin(running.container, owner)
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        await conn.execute("DELETE FROM accounts WHERE id = $1", uuid.UUID(owner.account_id))
        await conn.close()
        clock.advance(0.3)  # past the cache's TTL (it runs on the injected clock)
        before = await _rows(database_url)
        for endpoint in probe.authenticated():
            r = await probe.call(client, endpoint, ids, owner.headers)
            label = f"{endpoint.method} {endpoint.path}: {r.status_code} {r.text}"
            if endpoint.path in (f"{API}/titles/{{title_id}}", f"{API}/titles"):  # the catalog
                assert r.status_code == 200, label
                continue
            if endpoint.access is Access.device:  # no account token is a device's
                assert r.status_code == 403, label
                continue
            assert r.status_code in (401, 404), label
            assert isinstance(r.json()["detail"], str), label
            if r.status_code == 401:
                assert r.headers["www-authenticate"] == "Bearer", label
        assert await _rows(database_url) == before  # nothing was written for the ghost


# --- CORS -------------------------------------------------------------------------------------

PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type"}


async def test_cors_answers_only_configured_origins(database_url, clock):
    async with running_app(database_url, clock,
                           cors_origins="https://parents.example.com") as running, \
            client_for(running.app, "127.0.0.1") as c:
        ok = await c.options(LOGIN, headers={"Origin": "https://parents.example.com", **PREFLIGHT})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://parents.example.com"
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in ok.headers

        evil = await c.options(LOGIN, headers={"Origin": "https://evil.example.net", **PREFLIGHT})
        assert evil.status_code == 400
        assert "access-control-allow-origin" not in evil.headers

        simple = await c.get("/healthz", headers={"Origin": "https://evil.example.net"})
        assert "access-control-allow-origin" not in simple.headers
        simple = await c.get("/healthz", headers={"Origin": "https://parents.example.com"})
        assert simple.headers["access-control-allow-origin"] == "https://parents.example.com"


async def test_no_cors_headers_at_all_without_configured_origins(client):
    r = await client.options(LOGIN, headers={"Origin": "https://parents.example.com",
                                             **PREFLIGHT})
    assert "access-control-allow-origin" not in r.headers
    assert r.status_code == 405 and r.json() == {"detail": "Method not allowed"}
    r = await client.get("/healthz", headers={"Origin": "https://parents.example.com"})
    assert "access-control-allow-origin" not in r.headers
