"""Webhook rules: the event types, the subscription limit, URL and address checks, the retry
schedule and Standard Webhooks signing. Pure: the DNS lookups and HTTP live in app/services.

    InvalidWebhookUrl (422) · TooManyWebhooks (409) · WebhookNotFound (404)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import SplitResult, urlsplit

from app.domain.errors import Conflict, InvalidInput, NotFound

EVENT_TYPES = (
    "viewing.warning_15", "viewing.warning_5", "viewing.blocked",
    "time_request.created", "time_request.expired", "grant.created",
    "pin.locked", "session.superseded",
)
MAX_SUBSCRIPTIONS = 5  # per account
MAX_URL_LENGTH = 2048  # the column's width
SECRET_PREFIX = "whsec_"
# After the first failed attempt, then the second, ...; hourly after the last.
RETRY_DELAYS = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2),
                timedelta(minutes=10), timedelta(hours=1))
GIVE_UP_AFTER = timedelta(hours=24)  # a failure of an event this old drops it


class InvalidWebhookUrl(InvalidInput):
    def __init__(self, reason: str) -> None:
        super().__init__(f"url: {reason}")


class TooManyWebhooks(Conflict):
    detail = f"An account has at most {MAX_SUBSCRIPTIONS} webhook subscriptions"
    code = "too_many_webhooks"


class WebhookNotFound(NotFound):
    detail = "Webhook not found"


@dataclass(frozen=True, slots=True)
class Subscription:
    id: uuid.UUID
    url: str
    events: list[str]
    created_at: datetime
    last_delivery_at: datetime | None = None
    last_status: int | None = None
    failing_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """A subscription just made, with its secret: the only time the secret is shown."""

    subscription: Subscription
    secret: str


@dataclass(frozen=True, slots=True)
class Destination:
    """A URL taken apart for a connection: where to connect and what to call the host."""

    url: SplitResult
    host: str  # without brackets for IPv6
    port: int


def parse_url(url: str, *, allow_private: bool) -> Destination:
    """The URL's destination, or InvalidWebhookUrl: https:// only (http:// too when private
    destinations are allowed), a host, no credentials, a valid port."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidWebhookUrl("is not a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme.lower() not in schemes:
        raise InvalidWebhookUrl("must be an https:// URL")
    if not parts.hostname:
        raise InvalidWebhookUrl("must name a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("must not contain credentials")
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise InvalidWebhookUrl("must not contain spaces or control characters")
    try:  # an internationalised name as the ASCII the resolver and the Host header take
        host = parts.hostname.encode("idna").decode("ascii") if not parts.hostname.isascii() \
            else parts.hostname
    except UnicodeError:
        raise InvalidWebhookUrl("must name a valid host") from None
    default = 443 if parts.scheme.lower() == "https" else 80
    return Destination(url=parts, host=host, port=port or default)


def refused_address(address: str) -> bool:
    """Whether connecting to `address` could reach the operator's own network: loopback,
    private, link-local, multicast, reserved, unspecified or any other non-global range (an
    IPv4 address mapped into IPv6 is judged as itself)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified or not ip.is_global)


def retry_delay(failed_attempts: int) -> timedelta:
    """How long to wait after the `failed_attempts`-th failure (1-based)."""
    return RETRY_DELAYS[min(failed_attempts, len(RETRY_DELAYS)) - 1]


def gives_up(*, created_at: datetime, now: datetime) -> bool:
    """A failed attempt at `now` drops the event once it is 24 hours old."""
    return now - created_at >= GIVE_UP_AFTER


def message_id(event_id: uuid.UUID) -> str:
    """The webhook-id header: the same on every retry, the receiver's idempotency key."""
    return f"msg_{event_id.hex}"


def iso(instant: datetime) -> str:
    """An instant as the API writes it: ISO-8601 in UTC with a Z."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pin_locked_data(account_id: uuid.UUID, locked_until: datetime) -> dict[str, object]:
    """`pin.locked` is about the account, not a profile: the profile fields are null."""
    return {"account_id": str(account_id), "profile_id": None, "profile_name": None,
            "viewing_day": None, "locked_until": iso(locked_until)}


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header (Standard Webhooks v1): HMAC-SHA256 with the secret's
    base64-decoded key over "{id}.{timestamp}.{body}"."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
