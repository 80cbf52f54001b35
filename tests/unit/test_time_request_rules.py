"""The pure rules of time requests: when one expires, what an approval grants, how it reads."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from app.domain.time_requests import (
    PENDING,
    CreateChecks,
    NotLimited,
    RequestPending,
    TimeRequest,
    TooManyTimeRequests,
    expiry,
    granted_minutes,
    refusal,
    seconds_until,
)
from app.settings import Settings

NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
NEXT_RESET = datetime(2026, 3, 5, 6, 0, tzinfo=UTC)


def test_a_request_expires_after_the_ttl():
    assert expiry(NOON, ttl_seconds=900, day_ends_at=NEXT_RESET) == NOON + timedelta(minutes=15)


def test_a_request_expires_with_its_viewing_day_when_that_comes_first():
    late = NEXT_RESET - timedelta(minutes=10)
    assert expiry(late, ttl_seconds=900, day_ends_at=NEXT_RESET) == NEXT_RESET
    assert expiry(NEXT_RESET - timedelta(seconds=900), ttl_seconds=900,
                  day_ends_at=NEXT_RESET) == NEXT_RESET


@pytest.mark.parametrize("asked, decided, given, granted", [
    (30, None, False, 30),   # minutes absent: as asked
    (30, None, True, None),  # present and null: unlimited for the rest of the day
    (30, 60, True, 60),      # present: that amount
    (60, 15, True, 15),
])
def test_what_an_approval_grants(asked, decided, given, granted):
    assert granted_minutes(asked, decided=decided, given=given) == granted


def _request(status: str = PENDING, **fields: object) -> TimeRequest:
    values: dict = dict(id=uuid.UUID(int=1), profile_id=uuid.UUID(int=2), profile_name="Mia",
                        account_id=uuid.UUID(int=3), viewing_day=date(2026, 3, 4), minutes=15,
                        message=None, status=status, created_at=NOON,
                        expires_at=NOON + timedelta(minutes=15), decided_at=None,
                        granted_minutes=None, grant_id=None)
    values.update(fields)
    return TimeRequest(**values)


def test_a_pending_request_reads_as_expired_from_its_expiry_on():
    request = _request()
    assert request.seen_at(request.expires_at - timedelta(microseconds=1)).status == "pending"
    assert request.seen_at(request.expires_at).status == "expired"
    for closed in ("approved", "denied", "expired"):
        assert _request(closed).seen_at(NOON + timedelta(days=1)).status == closed


def test_the_event_carries_the_request_as_the_api_writes_it():
    approved = _request("approved", decided_at=NOON + timedelta(seconds=30.5),
                        granted_minutes=None, grant_id=uuid.UUID(int=4))
    assert approved.event_data() == {
        "account_id": str(uuid.UUID(int=3)), "profile_id": str(uuid.UUID(int=2)),
        "profile_name": "Mia", "viewing_day": "2026-03-04",
        "request": {"id": str(uuid.UUID(int=1)), "profile_id": str(uuid.UUID(int=2)),
                    "profile_name": "Mia", "minutes": 15, "message": None,
                    "status": "approved", "created_at": "2026-03-04T12:00:00Z",
                    "expires_at": "2026-03-04T12:15:00Z",
                    "decided_at": "2026-03-04T12:00:30.500000Z", "granted_minutes": None,
                    "grant_id": str(uuid.UUID(int=4))}}


def test_retry_after_rounds_up_and_is_never_zero():
    assert seconds_until(NOON, NEXT_RESET) == 18 * 3600
    assert seconds_until(NOON, NOON + timedelta(seconds=0.2)) == 1
    assert seconds_until(NOON, NOON) == 1


def test_refusals_in_order_unlimited_then_pending_then_too_many():
    pending = uuid.UUID(int=9)

    def refused(**checks: object) -> object:
        values: dict = dict(pending_id=None, made_today=0, unlimited_today=False)
        values.update(checks)
        return refusal(CreateChecks(**values), next_day_at=NEXT_RESET, now=NOON)

    assert refused() is None
    assert refused(made_today=2) is None
    assert isinstance(refused(unlimited_today=True, pending_id=pending, made_today=3),
                      NotLimited)
    by_pending = refused(pending_id=pending, made_today=3)
    assert isinstance(by_pending, RequestPending)
    assert by_pending.extra() == {"code": "request_pending", "request_id": str(pending)}
    too_many = refused(made_today=3)
    assert isinstance(too_many, TooManyTimeRequests)
    assert (too_many.retry_after_seconds, too_many.extra()) == (
        18 * 3600, {"code": "too_many_requests"})


@pytest.mark.parametrize("ttl, accepted", [(9, False), (10, True), (900, True),
                                           (86_400, True), (86_401, False)])
def test_the_ttl_is_at_least_ten_seconds(ttl, accepted):
    if accepted:
        assert Settings(jwt_secret="s" * 32, time_request_ttl_seconds=ttl) \
            .time_request_ttl_seconds == ttl
    else:
        with pytest.raises(ValidationError):
            Settings(jwt_secret="s" * 32, time_request_ttl_seconds=ttl)


def test_the_ttl_defaults_to_fifteen_minutes():
    assert Settings(jwt_secret="s" * 32).time_request_ttl_seconds == 900
