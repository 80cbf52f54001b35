"""Balance → remaining → enforcement, with no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.balance import (
    EMPTY_BALANCE,
    Balance,
    Enforcement,
    enforcement_for,
    remaining_seconds,
    shown_remaining,
)


def used(seconds: str, granted: int = 0, unlimited: bool = False) -> Balance:
    return Balance(Decimal(seconds), Decimal(0), granted, unlimited)


@pytest.mark.parametrize("remaining, expected", [
    (None, Enforcement.allowed),
    (Decimal("900.001"), Enforcement.allowed),
    (Decimal(900), Enforcement.warning_15),
    (Decimal("300.001"), Enforcement.warning_15),
    (Decimal(300), Enforcement.warning_5),
    (Decimal("0.001"), Enforcement.warning_5),
    (Decimal(0), Enforcement.blocked),
    (Decimal(-30), Enforcement.blocked),
])
def test_warnings_start_at_15_and_5_minutes_left_and_zero_blocks(remaining, expected):
    assert enforcement_for(remaining) is expected


def test_remaining_is_limit_plus_grants_minus_used():
    assert remaining_seconds(60, used("1800.5", granted=900)) == Decimal("2699.5")
    assert remaining_seconds(60, EMPTY_BALANCE) == 3600


def test_no_limit_or_an_unlimited_grant_means_no_remaining_figure():
    assert remaining_seconds(None, used("99999")) is None
    assert remaining_seconds(15, used("99999", unlimited=True)) is None


def test_educational_seconds_never_count_against_the_limit():
    exempt = Balance(Decimal(0), Decimal(7200), 0, False)
    assert remaining_seconds(60, exempt) == 3600


def test_an_overrun_shows_as_zero_minutes_not_negative():
    assert shown_remaining(Decimal(-45)) == 0
    assert shown_remaining(Decimal(90)) == 1.5
    assert shown_remaining(None) is None
