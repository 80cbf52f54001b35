"""Balance → remaining → enforcement, with no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.balance import (
    EMPTY_BALANCE,
    Balance,
    Enforcement,
    enforcement_for,
    minutes,
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


@pytest.mark.parametrize("seconds, expected", [
    (0, 0.0),
    (60, 1.0),
    (Decimal(90), 1.5),
    (100, 1.67),               # rounded to hundredths of a minute
    (1, 0.02),
    (Decimal("29.4"), 0.49),
    (Decimal(-30), -0.5),      # minutes() itself does not clamp; shown_remaining does
])
def test_minutes_are_seconds_over_60_rounded_to_two_places(seconds, expected):
    result = minutes(seconds)
    assert type(result) is float and result == expected


@pytest.mark.parametrize("limit, balance, expected", [
    (15, EMPTY_BALANCE, Decimal(900)),
    (480, EMPTY_BALANCE, Decimal(28800)),
    (60, used("3600"), Decimal(0)),                   # exactly used up
    (60, used("3600.5"), Decimal("-0.5")),            # an overrun stays negative here
    (60, used("3600", granted=1800), Decimal(1800)),  # a grant adds seconds, not minutes
    (0, EMPTY_BALANCE, Decimal(0)),
])
def test_remaining_seconds_is_exact_decimal_arithmetic(limit, balance, expected):
    remaining = remaining_seconds(limit, balance)
    assert isinstance(remaining, Decimal) and remaining == expected


def test_an_unlimited_grant_wins_over_a_used_up_day_and_any_granted_seconds():
    assert remaining_seconds(60, used("7200", granted=900, unlimited=True)) is None


@pytest.mark.parametrize("limit, balance, expected", [
    (15, EMPTY_BALANCE, Enforcement.warning_15),                # a 15-minute day starts warned
    (15, used("600"), Enforcement.warning_5),                   # 5 minutes left exactly
    (60, used("3600", granted=901), Enforcement.allowed),       # the grant lifts the warning
    (60, used("3600", granted=900), Enforcement.warning_15),
    (60, used("3599.999"), Enforcement.warning_5),
    (60, used("3600.001"), Enforcement.blocked),
    (None, used("99999"), Enforcement.allowed),
])
def test_enforcement_of_a_day(limit, balance, expected):
    assert enforcement_for(remaining_seconds(limit, balance)) is expected


def test_enforcement_values_are_the_strings_the_api_answers():
    assert [e.value for e in Enforcement] == ["allowed", "warning_15", "warning_5", "blocked"]


@pytest.mark.parametrize("remaining, expected", [
    (Decimal(0), 0.0),
    (Decimal("0.4"), 0.01),
    (Decimal(3600), 60.0),
    (Decimal("-0.001"), 0.0),
])
def test_shown_remaining_is_clamped_minutes(remaining, expected):
    assert shown_remaining(remaining) == expected
