"""A viewing day's balance and what it means for the child: remaining time and enforcement.

The same formula is applied inside the heartbeat statement (the `blocked` test of
app/repositories/heartbeats.py), where the charge and the check must be one atomic step; this is
its reading for every answer the service gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

WARNING_MINUTES = (15, 5)


class Enforcement(StrEnum):
    allowed = "allowed"
    warning_15 = "warning_15"
    warning_5 = "warning_5"
    blocked = "blocked"


@dataclass(frozen=True, slots=True)
class Balance:
    """One profile's viewing day: seconds charged, exempt seconds, extra time granted."""

    used_seconds: Decimal
    educational_seconds: Decimal
    granted_seconds: int
    is_unlimited_override: bool


EMPTY_BALANCE = Balance(Decimal(0), Decimal(0), 0, False)


def minutes(seconds: Decimal | int) -> float:
    return round(float(seconds) / 60, 2)


def remaining_seconds(limit_minutes: int | None, balance: Balance) -> Decimal | None:
    """Seconds left today; None when unlimited (no limit, or the day's unlimited grant)."""
    if limit_minutes is None or balance.is_unlimited_override:
        return None
    return limit_minutes * 60 + balance.granted_seconds - balance.used_seconds


def enforcement_for(remaining: Decimal | None) -> Enforcement:
    if remaining is None:
        return Enforcement.allowed
    if remaining <= 0:
        return Enforcement.blocked
    if remaining <= WARNING_MINUTES[1] * 60:
        return Enforcement.warning_5
    if remaining <= WARNING_MINUTES[0] * 60:
        return Enforcement.warning_15
    return Enforcement.allowed


def shown_remaining(remaining: Decimal | None) -> float | None:
    """Remaining minutes as answered: never below zero (an overrun shows as 0)."""
    return None if remaining is None else minutes(max(remaining, Decimal(0)))
