"""The sign-in throttle's pure rules: which keys an attempt counts against, and the wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.sign_in import account_key, retry_after_seconds, throttle_keys

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_keys_name_the_normalised_email_and_the_address():
    assert throttle_keys("  Parent@Example.COM ", "203.0.113.7") == (
        "account:parent@example.com", "address:203.0.113.7")
    assert throttle_keys(None, "203.0.113.7") == ("address:203.0.113.7",)
    assert throttle_keys("a@example.com", None) == ("account:a@example.com",)
    assert throttle_keys(None, None) == ()


def test_the_account_key_is_the_one_a_right_password_clears():
    assert account_key(throttle_keys("a@example.com", "10.0.0.1")) == "account:a@example.com"
    assert account_key(throttle_keys(None, "10.0.0.1")) is None


def test_the_wait_runs_until_the_failure_leaves_the_window_rounded_up():
    def wait(seconds_since: float) -> int:
        return retry_after_seconds(now=T0 + timedelta(seconds=seconds_since), blocked_since=T0,
                                   window_seconds=60)

    assert wait(0) == 60
    assert wait(0.7) == 60   # 59.3 s left, rounded up
    assert wait(59.5) == 1   # 0.5 s left
    assert wait(60) == 1     # never 0: the caller checks whether it is free yet
    assert wait(45) == 15
