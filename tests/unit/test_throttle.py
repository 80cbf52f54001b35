"""Login throttling on the injected clock: failures per email and per address within the
window, the wait it answers, and what a success or an abandoned attempt takes back."""

from __future__ import annotations

import pytest

from app.domain.errors import TooManyRequests
from app.services.clock import FrozenClock
from app.services.throttle import LoginThrottle

EMAIL, ADDRESS = "parent@example.com", "203.0.113.7"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def throttle(clock: FrozenClock, max_failures: int = 3, window: float = 60) -> LoginThrottle:
    return LoginThrottle(clock=clock, max_failures=max_failures, window_seconds=window)


def fail(t: LoginThrottle, times: int, email: str | None = EMAIL,
         address: str | None = ADDRESS) -> None:
    for _ in range(times):
        t.attempt(email=email, address=address)  # never resolved: counts as a failure


def test_attempts_below_the_limit_are_allowed(clock):
    t = throttle(clock)
    fail(t, 2)
    assert t.retry_after(email=EMAIL, address=ADDRESS) is None


def test_the_failure_at_the_limit_makes_the_next_attempt_wait_the_whole_window(clock):
    t = throttle(clock)
    fail(t, 3)
    with pytest.raises(TooManyRequests) as caught:
        t.attempt(email=EMAIL, address=ADDRESS)
    assert caught.value.retry_after_seconds == 60


def test_the_wait_lasts_until_the_oldest_failure_leaves_the_window(clock):
    t = throttle(clock)
    fail(t, 1)
    clock.advance(20)
    fail(t, 1)
    clock.advance(20)
    fail(t, 1)  # failures at 0, 20 and 40 s
    assert t.retry_after(email=EMAIL, address=ADDRESS) == 20
    clock.advance(0.7)
    assert t.retry_after(email=EMAIL, address=ADDRESS) == 20  # 19.3 s, rounded up
    clock.advance(18.8)
    assert t.retry_after(email=EMAIL, address=ADDRESS) == 1  # 0.5 s, rounded up
    clock.advance(0.5)
    assert t.retry_after(email=EMAIL, address=ADDRESS) is None  # the 0 s failure is out
    t.attempt(email=EMAIL, address=ADDRESS)  # and the limit is reached again at once
    assert t.retry_after(email=EMAIL, address=ADDRESS) == 20


def test_an_email_is_counted_however_it_is_written(clock):
    t = throttle(clock)
    fail(t, 1, email="Parent@Example.com", address="198.51.100.1")
    fail(t, 1, email="  parent@example.COM ", address="198.51.100.2")
    fail(t, 1, email=EMAIL, address="198.51.100.3")
    with pytest.raises(TooManyRequests):
        t.attempt(email="PARENT@example.com", address="198.51.100.4")


def test_an_address_spraying_many_emails_is_throttled(clock):
    t = throttle(clock)
    for n in range(3):
        fail(t, 1, email=f"victim{n}@example.com")
    assert t.retry_after(email="another@example.com", address=ADDRESS) == 60
    assert t.retry_after(email="another@example.com", address="198.51.100.9") is None


def test_a_throttled_email_is_throttled_from_every_address(clock):
    t = throttle(clock)
    fail(t, 3)
    assert t.retry_after(email=EMAIL, address="198.51.100.9") == 60
    assert t.retry_after(email="other@example.com", address="198.51.100.9") is None


def test_a_probe_without_an_email_counts_against_the_address_only(clock):
    t = throttle(clock)
    fail(t, 3, email=None)
    assert t.retry_after(email=None, address=ADDRESS) == 60
    assert t.retry_after(email=EMAIL, address="198.51.100.9") is None


def test_success_forgets_the_accounts_failures_but_not_the_addresss(clock):
    t = throttle(clock)
    fail(t, 2)
    t.attempt(email=EMAIL, address=ADDRESS).succeeded()
    assert t.retry_after(email=EMAIL, address="198.51.100.9") is None
    fail(t, 2, email=EMAIL, address="198.51.100.9")  # the account starts again from zero
    assert t.retry_after(email=EMAIL, address="198.51.100.9") is None
    fail(t, 1, email="other@example.com")  # the address had 2 failures left standing
    assert t.retry_after(email="x@example.com", address=ADDRESS) == 60


def test_an_abandoned_attempt_does_not_count(clock):
    t = throttle(clock)
    fail(t, 2)
    for _ in range(5):
        t.attempt(email=EMAIL, address=ADDRESS).abandoned()
    assert t.retry_after(email=EMAIL, address=ADDRESS) is None
    fail(t, 1)
    assert t.retry_after(email=EMAIL, address=ADDRESS) == 60


def test_an_abandoned_attempt_takes_back_only_itself(clock):
    t = throttle(clock)
    fail(t, 1)
    clock.advance(10)
    pending = t.attempt(email=EMAIL, address=ADDRESS)
    clock.advance(10)
    fail(t, 1)  # failures at 0, 10 (pending) and 20 s
    pending.abandoned()
    fail(t, 1)  # 0, 20, 20
    assert t.retry_after(email=EMAIL, address=ADDRESS) == 40  # the 0 s one is oldest


def test_parallel_attempts_count_while_they_run(clock):
    t = throttle(clock)
    running = [t.attempt(email=EMAIL, address=ADDRESS) for _ in range(3)]
    with pytest.raises(TooManyRequests):
        t.attempt(email=EMAIL, address=ADDRESS)  # three guesses in flight already count
    running[0].succeeded()
    assert t.retry_after(email=EMAIL, address="198.51.100.9") is None


def test_a_throttled_attempt_is_not_itself_counted(clock):
    t = throttle(clock)
    fail(t, 3)
    clock.advance(30)
    for _ in range(10):
        with pytest.raises(TooManyRequests):
            t.attempt(email=EMAIL, address=ADDRESS)
    clock.advance(30)  # the window of the three real failures has passed
    assert t.retry_after(email=EMAIL, address=ADDRESS) is None


def test_when_email_and_address_both_wait_the_longer_wait_is_answered(clock):
    t = throttle(clock, max_failures=2, window=60)
    fail(t, 2, email=None)           # the address at its limit at 0 s
    clock.advance(30)
    fail(t, 1, email=EMAIL, address=None)
    fail(t, 1, email=EMAIL, address=None)  # the account at its limit at 30 s
    assert t.retry_after(email=EMAIL, address=ADDRESS) == 60  # the address alone: 30 s
    assert t.retry_after(email=None, address=ADDRESS) == 30
