"""The sign-in throttle's rules, apart from where the counts are kept (app/services/throttle.py).

Failures are counted per key: "account:<email>" (the email as sign-in normalises it, so any
spelling counts against the same account) and "address:<client address>". A key is throttled
while it has `max_failures` failures younger than the window; it is free again when the
max-th newest of them leaves the window, and that instant is what Retry-After counts down to.
"""

from __future__ import annotations

import math
from datetime import datetime

ACCOUNT = "account:"
ADDRESS = "address:"


def throttle_keys(email: str | None, address: str | None) -> tuple[str, ...]:
    """The keys an attempt counts against; `email=None` counts against the address only."""
    keys = () if email is None else (f"{ACCOUNT}{email.strip().lower()}",)
    return keys if address is None else (*keys, f"{ADDRESS}{address}")


def account_key(keys: tuple[str, ...]) -> str | None:
    """The account's key among `keys` (the one a right password clears), if any."""
    return next((key for key in keys if key.startswith(ACCOUNT)), None)


def retry_after_seconds(*, now: datetime, blocked_since: datetime,
                        window_seconds: float) -> int:
    """Whole seconds until a failure at `blocked_since` leaves the window: rounded up, and at
    least 1 (a Retry-After of 0 would invite an immediate retry that is still refused)."""
    left = window_seconds - (now - blocked_since).total_seconds()
    return max(1, math.ceil(left))
