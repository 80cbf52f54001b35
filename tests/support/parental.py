"""Helpers for the parental-controls API, the way the parent app calls it."""

from __future__ import annotations

import httpx
from app.services.clock import FrozenClock
from tests.support.api import API, Parent, Titles

PC = f"{API}/parental-controls"


async def set_pin(parent: Parent, pin: str = "1234", current: str | None = None) -> httpx.Response:
    body = {"new_pin": pin} if current is None else {"new_pin": pin, "current_pin": current}
    return await parent.client.post(f"{PC}/pin", headers=parent.headers, json=body)


async def verify(parent: Parent, pin: object) -> httpx.Response:
    return await parent.client.post(f"{PC}/pin/verify", headers=parent.headers, json={"pin": pin})


async def pin_token(parent: Parent, pin: str = "1234") -> str:
    r = await verify(parent, pin)
    assert r.status_code == 200, r.text
    return r.json()["pin_token"]


async def status(parent: Parent) -> dict:
    r = await parent.client.get(f"{PC}/pin/status", headers=parent.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def get_config(parent: Parent, profile_id: str) -> httpx.Response:
    return await parent.client.get(f"{PC}/profiles/{profile_id}/viewing-time",
                                   headers=parent.headers)


async def put_config(parent: Parent, profile_id: str, **body: object) -> httpx.Response:
    return await parent.client.put(f"{PC}/profiles/{profile_id}/viewing-time",
                                   headers=parent.headers, json=body)


async def grant(parent: Parent, profile_id: str, **body: object) -> httpx.Response:
    return await parent.client.post(f"{PC}/profiles/{profile_id}/viewing-time/grant",
                                    headers=parent.headers, json=body)


async def grants(parent: Parent, profile_id: str) -> httpx.Response:
    return await parent.client.get(f"{PC}/profiles/{profile_id}/grants", headers=parent.headers)


async def history(parent: Parent, profile_id: str, **params: str) -> httpx.Response:
    return await parent.client.get(f"{PC}/profiles/{profile_id}/history", headers=parent.headers,
                                   params=params)


async def weekly_report(parent: Parent) -> httpx.Response:
    return await parent.client.get(f"{PC}/weekly-report", headers=parent.headers)


async def eligibility(parent: Parent, profile_id: str) -> dict:
    """What the player asks before it starts playback (must answer 200)."""
    r = await parent.client.get(f"{API}/viewing-time/playback-eligible/{profile_id}",
                                headers=parent.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def blocked_child(parent: Parent, titles: Titles, clock: FrozenClock) -> tuple[str, str]:
    """A child with a 15-minute limit who has used it all; returns (profile, session)."""
    kid = await parent.child()
    await put_config(parent, kid, weekday_limit_minutes=15)
    r = await parent.beat(kid, titles.cartoon)
    session = r.json()["session_id"]
    for _ in range(30):
        clock.advance(30)
        r = await parent.beat(kid, titles.cartoon, session)
    assert r.json()["enforcement"] == "blocked", r.text
    return kid, session
