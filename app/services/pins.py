"""The parental PIN: set, change, verify (→ pin_token), reset with the password, lockout.

Rules (docs/api.md): exactly 4 digits; 5 consecutive wrong answers lock the PIN for 30 minutes, and
verify, change and on-device grants all count and all refuse while locked, even the right PIN;
a right answer resets the counter. Wrong and right answers cost the same: one read, one bcrypt
on the hasher's pool, one UPDATE. Counting happens in the database (see repositories/pins.py).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from app.domain.clock import Clock
from app.domain.errors import (
    AccountGone,
    BadCredentials,
    CurrentPinRequired,
    IncorrectPin,
    PinLocked,
    PinNotSet,
)
from app.domain.pins import PinState, PinStatus, PinVerified
from app.repositories.pins import PinRepository
from app.services.hasher import PasswordHasher
from app.services.throttle import LoginThrottle
from app.services.tokens import TokenService

MAX_FAILED_ATTEMPTS = 5
LOCK_DURATION = timedelta(minutes=30)


class PinService:
    def __init__(self, *, pins: PinRepository, hasher: PasswordHasher, tokens: TokenService,
                 clock: Clock, throttle: LoginThrottle) -> None:
        self._pins = pins
        self._hasher = hasher
        self._tokens = tokens
        self._clock = clock
        self._throttle = throttle

    async def _state(self, account_id: uuid.UUID) -> PinState:
        state = await self._pins.state(account_id)
        if state is None:  # a valid token of a deleted account
            raise AccountGone()
        return state

    def _refuse_if_locked(self, state: PinState) -> None:
        locked_until = state.locked_at(self._clock.now())
        if locked_until is not None:
            raise PinLocked(locked_until)

    async def status(self, account_id: uuid.UUID) -> PinStatus:
        state = await self._state(account_id)
        return PinStatus(has_pin=state.pin_hash is not None,
                         locked_until=state.locked_at(self._clock.now()))

    async def check(self, account_id: uuid.UUID, pin: str, *,
                    new_pin_hash: str | None = None) -> None:
        """Raise unless `pin` is the account's PIN; a wrong one counts toward the lockout.
        With `new_pin_hash`, a right answer also stores that new PIN (in the same UPDATE)."""
        state = await self._state(account_id)
        if state.pin_hash is None:
            raise PinNotSet()
        self._refuse_if_locked(state)  # no bcrypt is spent on a locked PIN
        right = await self._hasher.verify(pin, state.pin_hash)
        now = self._clock.now()
        if right:
            if await self._pins.record_success(account_id, now=now, checked_hash=state.pin_hash,
                                               new_hash=new_pin_hash):
                return
            # Parallel wrong guesses locked the PIN while bcrypt ran, or it was changed.
            self._refuse_if_locked(await self._state(account_id))
            raise IncorrectPin()
        failure = await self._pins.record_failure(account_id, now=now,
                                                  max_attempts=MAX_FAILED_ATTEMPTS,
                                                  lock_for=LOCK_DURATION)
        if not failure.counted and failure.locked_until is not None and failure.locked_until > now:
            raise PinLocked(failure.locked_until)
        raise IncorrectPin()

    async def verify(self, account_id: uuid.UUID, pin: str) -> PinVerified:
        await self.check(account_id, pin)
        token, expires_at = self._tokens.issue_pin_token(account_id)
        return PinVerified(pin_token=token, expires_at=expires_at)

    async def check_token(self, account_id: uuid.UUID, pin_token: str) -> None:
        """A pin_token proves a PIN check from before now; a lock since then still refuses it
        (a child who saw the PIN typed once must not keep granting through the lock)."""
        self._tokens.check_pin_token(pin_token, account_id)
        self._refuse_if_locked(await self._state(account_id))

    async def set_pin(self, account_id: uuid.UUID, *, new_pin: str,
                      current_pin: str | None) -> None:
        state = await self._state(account_id)
        if state.pin_hash is None:
            if await self._pins.set_first(account_id, new_hash=await self._hasher.hash(new_pin)):
                return
            raise CurrentPinRequired()  # another request set a PIN meanwhile
        if current_pin is None:
            raise CurrentPinRequired()
        self._refuse_if_locked(state)
        # The new PIN is hashed before the check, so right and wrong answers cost the same.
        new_hash = await self._hasher.hash(new_pin)
        await self.check(account_id, current_pin, new_pin_hash=new_hash)

    async def reset(self, account_id: uuid.UUID, *, password: str, new_pin: str) -> None:
        """Forgotten PIN: the account password sets a new one and clears any lockout."""
        state = await self._state(account_id)
        # The password check is a password oracle like sign-in: it shares the account's
        # sign-in budget (429 once exhausted; see services/throttle.py).
        attempt = await self._throttle.attempt(email=state.email, address=None)
        try:
            right = await self._hasher.verify(password, state.password_hash)
        except BaseException:
            await attempt.abandoned()
            raise
        if not right:
            raise BadCredentials("Incorrect password")
        await attempt.succeeded()
        new_hash = await self._hasher.hash(new_pin)
        if not await self._pins.reset(account_id, new_hash=new_hash,
                                      checked_password_hash=state.password_hash):
            raise BadCredentials("Incorrect password")  # the password changed meanwhile
