"""Hardening, round 2: each test pins a failure found from outside (it failed before its fix)."""

from __future__ import annotations

import pytest

from tests.support.api import API, PASSWORD
from tests.support.parental import PC, grant, pin_token, set_pin, verify

pytestmark = pytest.mark.anyio

LONG = "x" * 73  # one byte over bcrypt's limit
VERY_LONG = "é" * 100  # 200 bytes, within the 256-character field limit


@pytest.mark.parametrize("password", [LONG, VERY_LONG])
async def test_an_overlong_password_at_login_is_a_plain_401(client, parent, password):
    r = await client.post(f"{API}/auth/login", json={"email": parent.email, "password": password})
    assert r.status_code == 401, r.text
    assert r.json() == {"detail": "Incorrect email or password"}
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("password", [LONG, VERY_LONG])
async def test_an_overlong_password_at_pin_reset_is_a_plain_401(parent, password):
    r = await parent.client.post(f"{PC}/pin/reset", headers=parent.headers,
                                 json={"password": password, "new_pin": "4321"})
    assert r.status_code == 401, r.text
    assert r.json() == {"detail": "Incorrect password"}


async def test_an_overlong_password_is_refused_at_registration(client):
    r = await client.post(f"{API}/auth/register", json={"email": "long@example.com",
                                                        "password": LONG})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "password: must be 8 to 72 bytes long"


async def test_a_pin_token_from_before_the_lock_cannot_grant(parent, clock):
    kid = await parent.child()
    assert (await set_pin(parent, "1234")).status_code == 200
    token = await pin_token(parent, "1234")
    for _ in range(5):
        assert (await verify(parent, "0000")).status_code == 403
    r = await grant(parent, kid, minutes=15, pin_token=token)
    assert r.status_code == 403, r.text
    assert r.json()["detail"] == "PIN is locked after too many failed attempts"
    assert "locked_until" in r.json() and "x-locked-until" in r.headers
    # Nothing was granted.
    r = await parent.client.get(f"{PC}/profiles/{kid}/grants", headers=parent.headers)
    assert r.json() == []
    clock.advance(4 * 60)  # the token is still within its 5 minutes, the lock lasts 30
    r = await grant(parent, kid, minutes=15, pin_token=token)
    assert r.status_code == 403
    assert r.json()["detail"] == "PIN is locked after too many failed attempts"


async def _expired_header(parent, clock) -> dict[str, str]:
    headers = dict(parent.headers)
    clock.advance(2 * 86_400)  # the token's lifetime is an hour
    r = await parent.client.get(f"{API}/me", headers=headers)
    assert r.status_code == 401  # it is expired indeed
    return headers


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
async def test_a_stale_token_is_ignored_by_public_reads(client, parent, clock, path):
    headers = await _expired_header(parent, clock)
    r = await client.get(path, headers=headers)
    assert r.status_code == 200, r.text


async def test_a_stale_token_is_ignored_by_login_and_register(client, parent, clock):
    headers = await _expired_header(parent, clock)
    r = await client.post(f"{API}/auth/login", headers=headers,
                          json={"email": parent.email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/auth/register", headers=headers,
                          json={"email": "second@example.com", "password": PASSWORD})
    assert r.status_code == 201, r.text
    # A garbage header too: a public endpoint does not read it.
    r = await client.get("/healthz", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert r.status_code == 200


def test_create_admin_refuses_what_is_not_an_email(tmp_path):
    from tests.integration.test_cli import run

    result = run("create-admin", "not-an-email", database_url="postgresql://nobody@127.0.0.1:1/x",
                 ADMIN_PASSWORD=PASSWORD, JWT_SECRET="x" * 40)
    assert result.returncode == 2, result
    assert result.stderr.count("\n") == 1
    assert "not a valid email address: 'not-an-email'" in result.stderr


def test_a_stale_gap_shorter_than_the_interval_is_refused():
    from app.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as refused:
        load_settings(jwt_secret="x" * 40, heartbeat_interval_seconds=60, stale_gap_seconds=30)
    assert "STALE_GAP_SECONDS must be at least HEARTBEAT_INTERVAL_SECONDS" in str(refused.value)
    assert load_settings(jwt_secret="x" * 40, heartbeat_interval_seconds=60,
                         stale_gap_seconds=60).stale_gap_seconds == 60


async def test_serving_with_the_development_key_says_so_loudly(database_url, caplog):
    import logging

    from app.main import DEVELOPMENT_KEY_WARNING
    from tests.support.apps import running_app

    for secret, warned in ((None, True), ("y" * 40, False)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="app.main"):
            async with running_app(database_url, jwt_secret=secret, demo_mode=True):
                pass
        found = [r for r in caplog.records if r.getMessage() == DEVELOPMENT_KEY_WARNING]
        assert (len(found) == 1) is warned
        if warned:
            assert found[0].levelno == logging.WARNING


# --- every way a heartbeat or eligibility check fails is the fail-closed body -----------------

HEARTBEAT_CLOSED = {"detail": "Viewing-time enforcement is unavailable", "session_id": None,
                    "enforcement": "blocked", "reason": "enforcement_unavailable",
                    "remaining_minutes": 0, "used_minutes": None, "is_educational": None,
                    "next_allowed_at": None}
ELIGIBILITY_CLOSED = {"detail": "Viewing-time enforcement is unavailable", "eligible": False,
                      "remaining_minutes": 0, "reason": "enforcement_unavailable",
                      "next_reset_at": None, "next_allowed_at": None}


async def _assert_fails_closed(client, container) -> None:
    """A signed-in player (its token needs no database) asks while enforcement cannot run."""
    import uuid

    token, _ = container.tokens().issue_access(uuid.uuid4())
    headers = {"Authorization": f"Bearer {token}"}
    kid, title = uuid.uuid4(), uuid.uuid4()
    r = await client.post(f"{API}/viewing-time/heartbeat", headers=headers,
                          json={"profile_id": str(kid), "title_id": str(title),
                                "device_id": "tv"})
    assert (r.status_code, r.json()) == (503, HEARTBEAT_CLOSED)
    r = await client.get(f"{API}/viewing-time/playback-eligible/{kid}", headers=headers)
    assert (r.status_code, r.json()) == (503, ELIGIBILITY_CLOSED)
    assert "x-request-id" in r.headers


async def test_fail_closed_with_the_database_down_since_start_up(database_url, clock):
    from tests.support.apps import running_app
    from tests.support.pgproxy import RoundTripProxy

    proxy = RoundTripProxy(database_url)
    await proxy.up()
    url = proxy.url
    await proxy.down()
    try:
        async with running_app(url, clock) as running:
            await _assert_fails_closed(running.client, running.container)
    finally:
        await proxy.close()


@pytest.fixture
def unmigrated_url():
    from tests.support.db import scratch_database

    with scratch_database() as url:
        yield url


async def test_fail_closed_on_a_database_that_is_not_migrated(unmigrated_url, clock):
    from tests.support.apps import running_app

    async with running_app(unmigrated_url, clock) as running:
        assert (await running.client.get("/readyz")).status_code == 503
        await _assert_fails_closed(running.client, running.container)


# --- the error path: async handlers, 500s inside the observer, 503 only for the database --------

def test_every_exception_handler_runs_on_the_event_loop():
    """A plain-function handler is run in Starlette's thread pool: a thread hop for every
    fail-closed heartbeat of an outage."""
    import inspect

    from app.http_errors import EXCEPTION_HANDLERS

    assert EXCEPTION_HANDLERS and all(
        inspect.iscoroutinefunction(handler) for handler in EXCEPTION_HANDLERS.values())
    assert Exception not in EXCEPTION_HANDLERS  # the observer renders 500s


class _Broken:
    """A title service whose lookup fails with the given error (a bug, not an outage)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def get(self, title_id):  # noqa: ANN001
        raise self.error


@pytest.mark.parametrize("error", [RuntimeError("bug"), OSError("disk full"),
                                   TimeoutError("a timer of ours")])
async def test_a_bug_is_a_500_with_request_id_headers_and_logged_context(
        container, client, parent, error):
    import logging
    import uuid

    from app.logs import JsonFormatter

    lines: list[str] = []

    class Lines(logging.Handler):  # formats at emit time, as the served JSON handler does
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Lines()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("app.http_errors")
    logger.addHandler(handler)
    try:
        with container.title_service.override(_Broken(error)):
            r = await client.get(f"{API}/titles/{uuid.uuid4()}", headers={
                **parent.headers, "X-Request-ID": "req-500-test"})
    finally:
        logger.removeHandler(handler)
    assert r.status_code == 500, r.text
    assert r.json() == {"detail": "Internal server error"}
    assert r.headers["x-request-id"] == "req-500-test"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    [line] = lines
    assert '"request_id":"req-500-test"' in line.replace(" ", "") and "Traceback" in line
