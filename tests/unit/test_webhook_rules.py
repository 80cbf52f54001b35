"""The webhook rules: Standard Webhooks signing, the address and URL checks, the backoff."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from app.domain.webhooks import (
    InvalidWebhookUrl,
    gives_up,
    message_id,
    parse_url,
    refused_address,
    retry_delay,
    sign,
)
from app.services.webhooks import new_secret

# The published test vector of the Standard Webhooks reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_published_test_vector():
    assert sign(VECTOR_SECRET, msg_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP,
                body=VECTOR_BODY) == VECTOR_SIGNATURE


def test_the_reference_verifier_accepts_our_signature_with_a_fresh_secret():
    secret = new_secret()
    body = b'{"type":"pin.locked","timestamp":"2026-03-04T12:00:00Z","data":{}}'
    now = int(datetime.now(UTC).timestamp())
    msg_id = message_id(uuid.uuid4())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(now),
               "webhook-signature": sign(secret, msg_id=msg_id, timestamp=now, body=body)}
    assert Webhook(secret).verify(body, headers)["type"] == "pin.locked"


def test_secret_is_whsec_and_32_random_bytes():
    import base64

    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::",
    "fe80::1", "fe80::1%eth0", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "192.0.2.1", "198.18.0.1",
])
def test_addresses_that_could_reach_the_operators_network_are_refused(address):
    assert refused_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert not refused_address(address)


@pytest.mark.parametrize("url, reason", [
    ("http://example.com/hook", "url: must be an https:// URL"),
    ("ftp://example.com/hook", "url: must be an https:// URL"),
    ("example.com/hook", "url: must be an https:// URL"),
    ("https:///hook", "url: must name a host"),
    ("https://user:pw@example.com/hook", "url: must not contain credentials"),
    ("https://example.com:99999/hook", "url: is not a valid URL"),
    ("https://[::1/hook", "url: is not a valid URL"),
    ("https://example.com/a b", "url: must not contain spaces or control characters"),
    ("https://example.com/" + "a" * 2048, "url: must be at most 2048 characters"),
])
def test_bad_urls(url, reason):
    with pytest.raises(InvalidWebhookUrl) as caught:
        parse_url(url, allow_private=False)
    assert caught.value.detail == reason


def test_url_parts_and_http_only_when_private_allowed():
    d = parse_url("https://Hooks.Example.com/in?x=1", allow_private=False)
    assert (d.host, d.port, d.url.path, d.url.query) == ("hooks.example.com", 443, "/in", "x=1")
    d = parse_url("http://127.0.0.1:8080/hook", allow_private=True)
    assert (d.host, d.port) == ("127.0.0.1", 8080)
    assert parse_url("https://bücher.example/x", allow_private=False).host == \
        "xn--bcher-kva.example"


def test_backoff_then_hourly_and_the_24_hour_limit():
    assert [retry_delay(n) for n in range(1, 9)] == [
        timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2),
        timedelta(minutes=10), timedelta(hours=1), timedelta(hours=1), timedelta(hours=1),
        timedelta(hours=1)]
    made = datetime(2026, 3, 4, 12, tzinfo=UTC)
    assert not gives_up(created_at=made, now=made + timedelta(hours=23, minutes=59))
    assert gives_up(created_at=made, now=made + timedelta(hours=24))
