"""Registration, login and the signed-in account."""

from __future__ import annotations

import uuid

from app.domain.accounts import AccessToken, Account, Me
from app.domain.clock import Clock
from app.domain.errors import (
    AccountGone,
    AdminRequired,
    BadCredentials,
    EmailTaken,
)
from app.repositories.accounts import AccountRepository
from app.services.hasher import PasswordHasher
from app.services.throttle import LoginThrottle
from app.services.tokens import TokenService


class AccountService:
    def __init__(self, *, accounts: AccountRepository, hasher: PasswordHasher,
                 tokens: TokenService, clock: Clock, throttle: LoginThrottle) -> None:
        self._accounts = accounts
        self._hasher = hasher
        self._tokens = tokens
        self._clock = clock
        self._throttle = throttle

    async def register(self, *, email: str, password: str,
                       client_address: str | None = None) -> Account:
        # A 409 tells whether an email has an account (docs/api.md promises it), so each one counts
        # against the address's sign-in budget: enumeration is as slow as guessing passwords.
        attempt = await self._throttle.attempt(email=None, address=client_address)
        try:
            password_hash = await self._hasher.hash(password)
            account = await self._accounts.add(email=email.lower(), password_hash=password_hash,
                                               now=self._clock.now())
        except EmailTaken:
            raise
        except BaseException:
            await attempt.abandoned()
            raise
        await attempt.abandoned()
        return account

    async def login(self, *, email: str, password: str,
                    client_address: str | None = None) -> AccessToken:
        email = email.strip().lower()
        # Throttled attempts (429) cost one statement, no lookup and no bcrypt; see
        # app/services/throttle.py.
        attempt = await self._throttle.attempt(email=email, address=client_address)
        try:
            account = await self._accounts.get_by_email(email)
            # Unknown email and wrong password cost the same bcrypt and give the same answer.
            ok = await self._hasher.verify(password, account.password_hash if account else None)
        except BaseException:
            await attempt.abandoned()
            raise
        if account is None or not ok:
            raise BadCredentials()
        await attempt.succeeded()
        token, expires_in = self._tokens.issue_access(account.id)
        return AccessToken(access_token=token, expires_in=expires_in)

    async def current(self, account_id: uuid.UUID) -> Account:
        account = await self._accounts.get(account_id)
        if account is None:  # a valid token of a deleted account
            raise AccountGone()
        return account

    async def me(self, account_id: uuid.UUID) -> Me:
        account = await self.current(account_id)
        return Me(id=account.id, email=account.email, is_admin=account.is_admin,
                  has_pin=account.pin_hash is not None)

    async def require_admin(self, account_id: uuid.UUID) -> None:
        if not (await self.current(account_id)).is_admin:
            raise AdminRequired()

    async def create_admin(self, *, email: str, password: str | None) -> tuple[Account, bool]:
        """Create the admin, or promote an existing account (new password only if given)."""
        email = email.strip().lower()
        existing = await self._accounts.get_by_email(email)
        password_hash = await self._hasher.hash(password) if password else None
        if existing is not None:
            await self._accounts.set_admin(existing.id, password_hash=password_hash)
            return existing, False
        if password_hash is None:
            raise ValueError("a password is required to create a new admin")
        account = await self._accounts.add(email=email, password_hash=password_hash,
                                           now=self._clock.now(), is_admin=True)
        return account, True
