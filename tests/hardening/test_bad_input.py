"""Hand-picked bad input that fuzzing finds only now and then, pinned as regressions."""

from __future__ import annotations

import uuid

import pytest

from tests.hardening.test_abuse import _rows
from tests.support import api
from tests.support.api import API, PASSWORD

pytestmark = pytest.mark.anyio

NUL = "a\u0000b"


async def test_nul_characters_are_422_everywhere(client, parent, titles, container,
                                                 database_url):
    """U+0000 is valid JSON but PostgreSQL text cannot hold it and bcrypt refuses it: a title
    with one was a 500 (found by the longer fuzzing run), and so were passwords."""
    await api.make_admin(container, parent)
    kid = await parent.child()
    pc = f"{API}/parental-controls"
    requests = [
        ("POST", f"{API}/auth/register", {"email": "nul@example.com", "password": PASSWORD + NUL}),
        ("POST", f"{API}/auth/login", {"email": parent.email, "password": NUL * 4}),
        ("POST", f"{API}/profiles", {"name": NUL, "is_kids": True}),
        ("PUT", f"{API}/admin/titles",
         {"titles": [{"id": str(uuid.uuid4()), "title": NUL, "is_educational": False}]}),
        ("POST", f"{API}/viewing-time/heartbeat",
         {"profile_id": kid, "title_id": titles.cartoon, "device_id": NUL}),
        ("POST", f"{pc}/pin/reset", {"password": NUL, "new_pin": "1234"}),
        ("PUT", f"{pc}/profiles/{kid}/viewing-time", {"timezone": "UTC" + NUL}),
        ("POST", f"{pc}/profiles/{kid}/viewing-time/grant", {"minutes": 15, "pin_token": NUL}),
    ]
    before = await _rows(database_url)
    for method, path, body in requests:
        r = await client.request(method, path, json=body, headers=parent.headers)
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert "NUL" in r.json()["detail"] or "timezone" in r.json()["detail"], r.text
    assert await _rows(database_url) == before
