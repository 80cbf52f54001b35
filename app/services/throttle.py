"""Login throttling: failed sign-ins counted per account (email) and per client address.

`max_failures` failures within `window_seconds` (10 per 15 minutes by default) make further
attempts for that email, or from that address, answer 429 with Retry-After until the oldest
failure leaves the window. A throttled attempt costs no bcrypt and no database query.

Why in memory, per process: it needs no table, no migration and no round trip, and the hasher
already bounds how fast one process can check passwords. The cost is that each replica counts
alone, so with N replicas an attacker gets at most N times the budget (SECURITY.md). Both
counters are bounded LRU/TTL maps, so spraying many emails or addresses cannot exhaust memory.

An attempt counts as a failure from the moment it starts (and is taken back if it succeeds or
never reaches a verdict): parallel guesses cannot all slip past the check while bcrypt runs.
"""

from __future__ import annotations

import math
from collections import deque

from cachetools import TTLCache

from app.domain.clock import Clock
from app.domain.errors import TooManyRequests

MAX_KEYS = 100_000


class LoginAttempt:
    """One sign-in attempt, already counted as a failure until told otherwise."""

    __slots__ = ("_throttle", "_keys", "_at")

    def __init__(self, throttle: LoginThrottle, keys: tuple[str, ...], at: float) -> None:
        self._throttle = throttle
        self._keys = keys
        self._at = at

    def succeeded(self) -> None:
        """Right password: the account's failures are forgotten; the address's earlier ones stay
        (one good password must not reset a spraying address's count)."""
        self._throttle._take_back(self._keys, self._at, clear_account=True)

    def abandoned(self) -> None:
        """No verdict (e.g. the database was unreachable): this attempt does not count."""
        self._throttle._take_back(self._keys, self._at, clear_account=False)


class LoginThrottle:
    def __init__(self, *, clock: Clock, max_failures: int, window_seconds: float,
                 max_keys: int = MAX_KEYS) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window_seconds
        self._failures: TTLCache[str, deque[float]] = TTLCache(
            maxsize=max_keys, ttl=window_seconds, timer=self._now)

    def _now(self) -> float:
        return self._clock.now().timestamp()

    @staticmethod
    def _keys(email: str | None, address: str | None) -> tuple[str, ...]:
        keys = () if email is None else (f"account:{email.strip().lower()}",)
        return keys if address is None else (*keys, f"address:{address}")

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        return times

    def retry_after(self, *, email: str | None, address: str | None) -> int | None:
        """Seconds until an attempt for this email from this address is allowed; None: now."""
        now = self._now()
        waits = [self._window - (now - times[0])
                 for key in self._keys(email, address)
                 if len(times := self._recent(key, now)) >= self._max]
        return max(1, math.ceil(max(waits))) if waits else None

    def attempt(self, *, email: str | None, address: str | None) -> LoginAttempt:
        """Start an attempt (raises TooManyRequests when throttled); it counts as a failure.

        `email=None` counts against the address only: a registration that hits a taken email
        is a probe for which emails exist, and shares the address's budget."""
        wait = self.retry_after(email=email, address=address)
        if wait is not None:
            raise TooManyRequests(wait)
        now = self._now()
        keys = self._keys(email, address)
        for key in keys:
            times = self._recent(key, now)
            times.append(now)
            while len(times) > self._max:  # only the newest max_failures matter
                times.popleft()
            self._failures[key] = times  # (re)sets the key's TTL
        return LoginAttempt(self, keys, now)

    def _take_back(self, keys: tuple[str, ...], at: float, *, clear_account: bool) -> None:
        for key in keys:
            times = self._failures.get(key)
            if times is None:
                continue
            if clear_account and key.startswith("account:"):
                del self._failures[key]
            elif at in times:
                times.remove(at)
