"""Login throttling: failed sign-ins counted per account (email) and per client address.

`max_failures` failures within `window_seconds` (10 per 15 minutes by default) make further
attempts for that email, or from that address, answer 429 with Retry-After until the oldest
failure that still matters leaves the window (app/domain/sign_in.py). A throttled attempt costs
no bcrypt and no account lookup: one statement.

Why in PostgreSQL: the counts used to live in each process's memory, so with N replicas (or N
workers) an attacker got N times the budget, and a restart forgot it. Now every replica counts
in the one table sign_in_failures: each check takes the keys' advisory locks, counts, and
refuses or records the attempt in one statement (migration 0011), so checks on all replicas
serialise per key and together let exactly `max_failures` attempts through, no more than one
replica alone would. The price is one round trip per attempt (two on success: the take-back).

An attempt counts as a failure from the moment it starts (and is taken back if it succeeds or
never reaches a verdict): parallel guesses cannot all slip past the check while bcrypt runs.
If the database cannot be reached for the check, the attempt fails with it (503) and nothing is
checked or let through. Taking back is best effort: when it fails, the attempt simply stays
counted until it leaves the window (the safe side). Rows older than the window are deleted by
the next check of their key and by every replica's periodic sweep (`purge_expired`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from app.domain.clock import Clock
from app.domain.errors import TooManyRequests
from app.domain.sign_in import account_key, retry_after_seconds, throttle_keys
from app.repositories.sign_in_failures import SignInFailureRepository

log = logging.getLogger(__name__)


class LoginAttempt:
    """One sign-in attempt, already counted as a failure until told otherwise."""

    __slots__ = ("_throttle", "_keys", "_ids")

    def __init__(self, throttle: LoginThrottle, keys: tuple[str, ...],
                 ids: tuple[int, ...]) -> None:
        self._throttle = throttle
        self._keys = keys
        self._ids = ids

    async def succeeded(self) -> None:
        """Right password: the account's failures are forgotten; the address's earlier ones stay
        (one good password must not reset a spraying address's count)."""
        await self._throttle._take_back(self._keys, self._ids, clear=account_key(self._keys))

    async def abandoned(self) -> None:
        """No verdict (e.g. the database was unreachable): this attempt does not count."""
        await self._throttle._take_back(self._keys, self._ids, clear=None)


class LoginThrottle:
    def __init__(self, *, failures: SignInFailureRepository, clock: Clock, max_failures: int,
                 window_seconds: float) -> None:
        self._failures = failures
        self._clock = clock
        self._max = max_failures
        self._window = window_seconds

    async def retry_after(self, *, email: str | None, address: str | None) -> int | None:
        """Seconds until an attempt for this email from this address is allowed; None: now.
        Read-only: nothing is counted."""
        keys = throttle_keys(email, address)
        if not keys:
            return None
        now = self._clock.now()
        blocked_since = await self._failures.blocked_since(
            keys, at=now, window_seconds=self._window, max_failures=self._max)
        if blocked_since is None:
            return None
        return retry_after_seconds(now=now, blocked_since=blocked_since,
                                   window_seconds=self._window)

    async def attempt(self, *, email: str | None, address: str | None) -> LoginAttempt:
        """Start an attempt (raises TooManyRequests when throttled); it counts as a failure.

        `email=None` counts against the address only: a registration that hits a taken email
        is a probe for which emails exist, and shares the address's budget."""
        keys = throttle_keys(email, address)
        if not keys:  # nothing to count against (no email, no client address)
            return LoginAttempt(self, keys, ())
        now = self._clock.now()
        checked = await self._failures.attempt(keys, at=now, window_seconds=self._window,
                                               max_failures=self._max)
        if checked.blocked_since is not None:
            raise TooManyRequests(retry_after_seconds(
                now=now, blocked_since=checked.blocked_since, window_seconds=self._window))
        return LoginAttempt(self, keys, checked.ids)

    async def purge_expired(self) -> int:
        """Delete failures that have left the window (of keys nobody has tried since)."""
        return await self._failures.purge_before(
            self._clock.now() - timedelta(seconds=self._window))

    async def _take_back(self, keys: tuple[str, ...], ids: tuple[int, ...], *,
                         clear: str | None) -> None:
        if not ids and clear is None:
            return
        try:
            await self._failures.take_back(keys, ids, clear_key=clear)
        except Exception as exc:  # the verdict stands; the attempt stays counted (safe side)
            log.warning("sign-in attempt not taken back: %r", exc)
