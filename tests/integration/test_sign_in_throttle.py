"""The sign-in throttle on the real table (sign_in_failures) and the injected clock: failures
per email and per address within the window, the wait it answers, what a success or an
abandoned attempt takes back, that two throttles (two replicas' pools) share one budget, and
that rows past the window are deleted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import sqlalchemy_url
from app.domain.errors import DatabaseUnavailable, TooManyRequests
from app.repositories.sign_in_failures import SignInFailureRepository
from app.services.clock import FrozenClock
from app.services.throttle import LoginThrottle
from tests.support.api import API, PASSWORD, signed_up
from tests.support.db import fetch
from tests.support.pgproxy import RoundTripProxy

pytestmark = pytest.mark.anyio

EMAIL, ADDRESS = "parent@example.com", "203.0.113.7"
Make = Callable[..., LoginThrottle]


@pytest.fixture
async def make(database_url: str, clock: FrozenClock) -> AsyncIterator[Make]:
    """Throttles on the test database, each on an engine (a pool) of its own, as replicas are."""
    await fetch(database_url, "TRUNCATE sign_in_failures")
    engines = []

    def throttle(max_failures: int = 3, window: float = 60, url: str = database_url
                 ) -> LoginThrottle:
        engine = create_async_engine(sqlalchemy_url(url), pool_size=10)
        engines.append(engine)
        return LoginThrottle(failures=SignInFailureRepository(engine), clock=clock,
                             max_failures=max_failures, window_seconds=window)

    yield throttle
    for engine in engines:
        await engine.dispose()


async def fail(t: LoginThrottle, times: int, email: str | None = EMAIL,
               address: str | None = ADDRESS) -> None:
    for _ in range(times):
        await t.attempt(email=email, address=address)  # never resolved: counts as a failure


async def wait(t: LoginThrottle, email: str | None = EMAIL,
               address: str | None = ADDRESS) -> int | None:
    return await t.retry_after(email=email, address=address)


async def test_attempts_below_the_limit_are_allowed(make):
    t = make()
    await fail(t, 2)
    assert await wait(t) is None


async def test_the_failure_at_the_limit_makes_the_next_attempt_wait_the_whole_window(make):
    t = make()
    await fail(t, 3)
    with pytest.raises(TooManyRequests) as caught:
        await t.attempt(email=EMAIL, address=ADDRESS)
    assert caught.value.retry_after_seconds == 60


async def test_the_wait_lasts_until_the_oldest_failure_leaves_the_window(make, clock):
    t = make()
    await fail(t, 1)
    clock.advance(20)
    await fail(t, 1)
    clock.advance(20)
    await fail(t, 1)  # failures at 0, 20 and 40 s
    assert await wait(t) == 20
    clock.advance(0.7)
    assert await wait(t) == 20  # 19.3 s, rounded up
    clock.advance(18.8)
    assert await wait(t) == 1  # 0.5 s, rounded up
    clock.advance(0.5)
    assert await wait(t) is None  # the 0 s failure is out
    await t.attempt(email=EMAIL, address=ADDRESS)  # and the limit is reached again at once
    assert await wait(t) == 20


async def test_an_email_is_counted_however_it_is_written(make):
    t = make()
    await fail(t, 1, email="Parent@Example.com", address="198.51.100.1")
    await fail(t, 1, email="  parent@example.COM ", address="198.51.100.2")
    await fail(t, 1, email=EMAIL, address="198.51.100.3")
    with pytest.raises(TooManyRequests):
        await t.attempt(email="PARENT@example.com", address="198.51.100.4")


async def test_an_address_spraying_many_emails_is_throttled(make):
    t = make()
    for n in range(3):
        await fail(t, 1, email=f"victim{n}@example.com")
    assert await wait(t, "another@example.com") == 60
    assert await wait(t, "another@example.com", "198.51.100.9") is None


async def test_a_throttled_email_is_throttled_from_every_address(make):
    t = make()
    await fail(t, 3)
    assert await wait(t, EMAIL, "198.51.100.9") == 60
    assert await wait(t, "other@example.com", "198.51.100.9") is None


async def test_a_probe_without_an_email_counts_against_the_address_only(make):
    t = make()
    await fail(t, 3, email=None)
    assert await wait(t, None, ADDRESS) == 60
    assert await wait(t, EMAIL, "198.51.100.9") is None


async def test_success_forgets_the_accounts_failures_but_not_the_addresss(make):
    t = make()
    await fail(t, 2)
    await (await t.attempt(email=EMAIL, address=ADDRESS)).succeeded()
    assert await wait(t, EMAIL, "198.51.100.9") is None
    await fail(t, 2, email=EMAIL, address="198.51.100.9")  # the account starts again from zero
    assert await wait(t, EMAIL, "198.51.100.9") is None
    await fail(t, 1, email="other@example.com")  # the address had 2 failures left standing
    assert await wait(t, "x@example.com", ADDRESS) == 60


async def test_an_abandoned_attempt_does_not_count(make):
    t = make()
    await fail(t, 2)
    for _ in range(5):
        await (await t.attempt(email=EMAIL, address=ADDRESS)).abandoned()
    assert await wait(t) is None
    await fail(t, 1)
    assert await wait(t) == 60


async def test_an_abandoned_attempt_takes_back_only_itself(make, clock):
    t = make()
    await fail(t, 1)
    clock.advance(10)
    pending = await t.attempt(email=EMAIL, address=ADDRESS)
    clock.advance(10)
    await fail(t, 1)  # failures at 0, 10 (pending) and 20 s
    await pending.abandoned()
    await fail(t, 1)  # 0, 20, 20
    assert await wait(t) == 40  # the 0 s one is oldest


async def test_parallel_attempts_count_while_they_run(make):
    t = make()
    running = [await t.attempt(email=EMAIL, address=ADDRESS) for _ in range(3)]
    with pytest.raises(TooManyRequests):
        await t.attempt(email=EMAIL, address=ADDRESS)  # three guesses in flight already count
    await running[0].succeeded()
    assert await wait(t, EMAIL, "198.51.100.9") is None


async def test_a_throttled_attempt_is_not_itself_counted(make, clock):
    t = make()
    await fail(t, 3)
    clock.advance(30)
    for _ in range(10):
        with pytest.raises(TooManyRequests):
            await t.attempt(email=EMAIL, address=ADDRESS)
    clock.advance(30)  # the window of the three real failures has passed
    assert await wait(t) is None


async def test_when_email_and_address_both_wait_the_longer_wait_is_answered(make, clock):
    t = make(max_failures=2, window=60)
    await fail(t, 2, email=None)           # the address at its limit at 0 s
    clock.advance(30)
    await fail(t, 1, email=EMAIL, address=None)
    await fail(t, 1, email=EMAIL, address=None)  # the account at its limit at 30 s
    assert await wait(t) == 60  # the address alone: 30 s
    assert await wait(t, None, ADDRESS) == 30


async def test_no_email_and_no_address_counts_nothing(make, database_url):
    t = make(max_failures=1)
    for _ in range(3):
        await t.attempt(email=None, address=None)
    assert await fetch(database_url, "SELECT * FROM sign_in_failures") == []


async def test_two_throttles_on_their_own_pools_share_one_budget(make):
    """Two replicas: failures counted by one throttle the other, for the email and the address."""
    first, second = make(), make()
    await fail(first, 1)
    await fail(second, 1, address="198.51.100.1")
    await fail(first, 1, address="198.51.100.2")  # the email: 3 failures over both
    for t in (first, second):
        with pytest.raises(TooManyRequests):
            await t.attempt(email=EMAIL, address="198.51.100.3")
    await fail(second, 2, email="other@example.com")  # the address: 1 + 2 over both
    assert await wait(first, "third@example.com", ADDRESS) == 60


async def test_parallel_checks_on_two_pools_let_exactly_the_budget_through(make, database_url):
    """The check and the insert are one locked statement: 40 attempts at once over two pools
    (20 connections checking at the same time) count exactly 10."""
    throttles = [make(max_failures=10), make(max_failures=10)]

    async def one(i: int) -> bool:
        try:
            await throttles[i % 2].attempt(email=EMAIL, address=f"198.51.100.{i}")
        except TooManyRequests:
            return False
        return True

    passed = await asyncio.gather(*(one(i) for i in range(40)))
    assert sum(passed) == 10
    rows = await fetch(database_url, "SELECT key FROM sign_in_failures WHERE key LIKE 'account:%'")
    assert len(rows) == 10


async def test_rows_past_the_window_are_deleted(make, clock, database_url):
    t = make(max_failures=3, window=60)

    async def keys() -> list[str]:
        return sorted(r["key"] for r in await fetch(database_url,
                                                    "SELECT key FROM sign_in_failures"))

    await fail(t, 2)
    await fail(t, 1, email="sprayed@example.com", address="198.51.100.1")
    clock.advance(60)  # all three are out of the window now
    await fail(t, 1)  # the next check of a key drops that key's old rows
    assert await keys() == ["account:parent@example.com", "account:sprayed@example.com",
                            "address:198.51.100.1", "address:203.0.113.7"]
    assert await t.purge_expired() == 2  # the sweep drops the keys nobody tried again
    assert await keys() == ["account:parent@example.com", "address:203.0.113.7"]
    clock.advance(59)
    assert await t.purge_expired() == 0  # still in the window


async def test_a_failed_take_back_leaves_the_attempt_counted(make, database_url):
    """Taking back is best effort: the database gone after the check neither replaces the
    request's own outcome nor frees a slot (the attempt stays counted until it leaves the
    window)."""
    proxy = RoundTripProxy(database_url)
    await proxy.up()
    try:
        t = make(max_failures=1, url=proxy.url)
        attempt = await t.attempt(email=EMAIL, address=ADDRESS)
        await proxy.down()
        await attempt.abandoned()  # no exception
    finally:
        await proxy.close()
    assert len(await fetch(database_url, "SELECT * FROM sign_in_failures")) == 2


async def _login(client: httpx.AsyncClient, password: str = "wrong-password") -> httpx.Response:
    return await client.post(f"{API}/auth/login",
                             json={"email": "rt-login@example.com", "password": password})


async def test_a_sign_in_check_is_one_round_trip_and_a_throttled_one_costs_only_that(
        proxied):
    proxy, client, container = proxied
    await signed_up(client, "rt-login@example.com")
    for _ in range(2):  # the statements are now prepared on the pool's connections
        await _login(client)
    throttle = await container.login_throttle()
    for _ in range(2):
        before = proxy.round_trips
        attempt = await throttle.attempt(email="rt-login@example.com", address="127.0.0.1")
        assert proxy.round_trips - before == 1  # lock, count, insert: one statement
        before = proxy.round_trips
        await attempt.abandoned()
        assert proxy.round_trips - before == 1
    calls = _count_verifies(container)
    for _ in range(8):  # 10 failures in all
        assert (await _login(client)).status_code == 401
    before = proxy.round_trips
    r = await _login(client, PASSWORD)
    assert r.status_code == 429 and r.headers["retry-after"] == "900"
    assert proxy.round_trips - before == 1  # the check alone: no lookup, no bcrypt
    assert calls() == 8


def _count_verifies(container) -> Callable[[], int]:  # type: ignore[no-untyped-def]
    hasher = container.hasher()
    verify, calls = hasher.verify, [0]

    async def counting(secret, hashed):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return await verify(secret, hashed)

    hasher.verify = counting
    return lambda: calls[0]


async def test_sign_in_with_the_database_unreachable_is_503_and_checks_no_password(
        proxied, database_url):
    """Fail closed: no check, no attempt. Not a 500, and never a password checked unthrottled."""
    proxy, client, container = proxied
    await signed_up(client, "rt-login@example.com")
    calls = _count_verifies(container)
    await proxy.down()
    for password in ("wrong-password", PASSWORD):
        r = await _login(client, password)
        assert r.status_code == 503, r.text
        assert r.json() == {"detail": DatabaseUnavailable.detail}
    r = await client.post(f"{API}/auth/register",
                          json={"email": "new@example.com", "password": PASSWORD})
    assert r.status_code == 503
    assert calls() == 0
    await proxy.up()
    for _ in range(50):  # the engine's pool reconnects by itself
        r = await _login(client, PASSWORD)
        if r.status_code != 503:
            break
        await asyncio.sleep(0.1)
    assert r.status_code == 200
    assert await fetch(database_url, "SELECT * FROM sign_in_failures") == []
