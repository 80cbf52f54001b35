"""Access tokens and pin_tokens: issued and checked against the service clock, never the wall
clock; a wrong key, a wrong type or a broken token is refused."""

from __future__ import annotations

import uuid
import warnings
from datetime import UTC, datetime

import jwt
import pytest

from app.domain.errors import NotAuthenticated, PinTokenInvalid
from app.services.clock import FrozenClock
from app.services.tokens import TokenService
from app.settings import Settings

SECRET = "unit-test-secret-that-is-32-bytes-long"
ACCOUNT = uuid.UUID("5f0c3e2a-1111-4222-8333-944445555666")
START = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def service(clock: FrozenClock, secret: str = SECRET, **settings: object) -> TokenService:
    return TokenService(Settings(jwt_secret=secret, jwt_lifetime_seconds=3600,
                                 pin_token_lifetime_seconds=300, **settings), clock)


def claims(token: str) -> dict:
    return jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})


def forged(payload: dict, key: str = SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():  # pyjwt warns of a short key for HS512: that is the point
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(payload, key, algorithm=algorithm)


def test_an_access_token_names_its_account_and_expires_one_lifetime_after_issue(clock):
    token, lifetime = service(clock).issue_access(ACCOUNT)
    assert lifetime == 3600
    assert claims(token) == {"sub": str(ACCOUNT), "exp": int(START.timestamp()) + 3600}
    assert service(clock).verify(token).account_id == ACCOUNT


@pytest.mark.parametrize("cached", [True, False])
def test_an_access_token_is_valid_until_its_last_second_then_refused(clock, cached):
    tokens = service(clock)
    token, _ = tokens.issue_access(ACCOUNT)
    if cached:
        tokens.verify(token).account_id  # a verified token is cached: expiry is checked on hits
    checker = tokens if cached else service(clock)
    clock.advance(3599)
    assert checker.verify(token).account_id == ACCOUNT
    clock.advance(1)
    with pytest.raises(NotAuthenticated, match="^Invalid or expired token$"):
        checker.verify(token).account_id


def test_expiry_is_read_on_the_service_clock_not_the_wall_clock():
    past = FrozenClock(datetime(2001, 1, 1, tzinfo=UTC))  # the token expired long ago for pyjwt
    token, _ = service(past).issue_access(ACCOUNT)
    assert service(past).verify(token).account_id == ACCOUNT


@pytest.mark.parametrize("token", [
    "not-a-token",
    "",
    forged({"sub": str(ACCOUNT), "exp": 2_000_000_000}, key="another-secret-of-32-bytes-or-more"),
    forged({"sub": str(ACCOUNT)}),                          # no expiry
    forged({"exp": 2_000_000_000}),                         # no subject
    forged({"sub": "not-a-uuid", "exp": 2_000_000_000}),
    forged({"sub": str(ACCOUNT), "exp": "soon"}),
    jwt.encode({"sub": str(ACCOUNT), "exp": 2_000_000_000}, None, algorithm="none"),
    forged({"sub": str(ACCOUNT), "exp": 2_000_000_000}, algorithm="HS512"),  # the right key
])
def test_a_broken_forged_or_foreign_token_is_refused_alike(clock, token):
    with pytest.raises(NotAuthenticated) as caught:
        service(clock).verify(token).account_id
    assert caught.value.detail == "Invalid or expired token"


def test_a_pin_token_is_not_an_access_token(clock):
    tokens = service(clock)
    pin_token, _ = tokens.issue_pin_token(ACCOUNT)
    with pytest.raises(NotAuthenticated) as caught:
        tokens.verify(pin_token).account_id
    assert caught.value.detail == "A pin_token is not an access token"


def test_a_pin_token_is_typed_and_expires_after_its_own_lifetime(clock):
    token, expires_at = service(clock).issue_pin_token(ACCOUNT)
    assert claims(token) == {"sub": str(ACCOUNT), "exp": int(START.timestamp()) + 300,
                             "typ": "pin"}
    assert expires_at == datetime(2026, 3, 4, 12, 5, tzinfo=UTC)
    assert expires_at.tzinfo is not None


def test_a_pin_token_is_accepted_for_its_account_until_it_expires(clock):
    tokens = service(clock)
    token, _ = tokens.issue_pin_token(ACCOUNT)
    clock.advance(299)
    assert tokens.check_pin_token(token, ACCOUNT) is None
    clock.advance(1)
    with pytest.raises(PinTokenInvalid):
        tokens.check_pin_token(token, ACCOUNT)


def test_a_pin_token_of_another_account_is_refused(clock):
    tokens = service(clock)
    token, _ = tokens.issue_pin_token(uuid.uuid4())
    with pytest.raises(PinTokenInvalid):
        tokens.check_pin_token(token, ACCOUNT)


@pytest.mark.parametrize("make", [
    lambda tokens: tokens.issue_access(ACCOUNT)[0],  # an access token proves no PIN
    lambda tokens: "garbage",
    lambda tokens: forged({"sub": str(ACCOUNT), "exp": 2_000_000_000, "typ": "pin"},
                          key="another-secret-of-32-bytes-or-more"),
    lambda tokens: forged({"sub": str(ACCOUNT), "typ": "pin"}),
])
def test_anything_but_a_valid_pin_token_is_refused_as_a_pin_token(clock, make):
    tokens = service(clock)
    with pytest.raises(PinTokenInvalid) as caught:
        tokens.check_pin_token(make(tokens), ACCOUNT)
    assert caught.value.detail == "A valid pin_token is required"


def test_tokens_survive_a_restart_with_the_same_key_and_not_a_key_change(clock):
    token, _ = service(clock).issue_access(ACCOUNT)
    assert service(clock).verify(token).account_id == ACCOUNT
    with pytest.raises(NotAuthenticated):
        service(clock, secret="a-rotated-secret-of-at-least-32-bytes").verify(token).account_id


def test_forgetting_an_account_keeps_its_tokens_verifiable_by_signature(clock):
    # forget() only drops cached verifications: a still-valid token verifies again from its
    # signature (the account's deletion is what refuses it, as AccountGone, elsewhere).
    tokens = service(clock)
    token, _ = tokens.issue_access(ACCOUNT)
    tokens.verify(token).account_id
    tokens.forget(ACCOUNT)
    assert tokens.verify(token).account_id == ACCOUNT
