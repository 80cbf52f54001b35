"""Call every endpoint of the route table with real ids of one account and a valid body.

Used by the abuse tests: with another account's token (every answer must be 404, or 401/403
where the endpoint is about the caller itself), and with the token of an account that has since
been deleted (401 or 404, never a 2xx and never a 5xx).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import httpx

from app.endpoints.access import Access
from app.routes import ENDPOINTS, Endpoint


@dataclass
class Ids:
    profile_id: str
    session_id: str
    title_id: str
    device_id: str
    # A webhook subscription and a time request of the account, where the caller made them
    # (else no one's).
    webhook_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


BODIES: dict[str, object] = {
    "HeartbeatRequest": lambda ids: {"profile_id": ids.profile_id, "title_id": ids.title_id,
                                     "device_id": "probe"},
    "ProfileCreate": lambda ids: {"name": "Probe", "is_kids": True},
    "DeviceCreate": lambda ids: {"name": "Probe TV", "device_type": "tv"},
    "LockRequest": lambda ids: {"until": None},
    "TitlesUpsert": lambda ids: {"titles": [{"id": str(uuid.uuid4()), "title": "Probe",
                                             "is_educational": False}]},
    "PinSet": lambda ids: {"new_pin": "4321", "current_pin": "1234"},
    "PinVerify": lambda ids: {"pin": "1234"},
    "PinReset": lambda ids: {"password": "wrong-password", "new_pin": "4321"},
    "ViewingTimeConfigUpdate": lambda ids: {"weekday_limit_minutes": 60},
    "ScheduleUpdate": lambda ids: {"limits": {"mon": 60}},
    "GrantRequest": lambda ids: {"minutes": 15},
    "WebhookCreate": lambda ids: {"url": "https://93.184.215.14/hook"},  # no DNS lookup
    "TimeRequestCreate": lambda ids: {"profile_id": ids.profile_id, "minutes": 15},
    "TimeRequestDecision": lambda ids: {"approve": False},
    "Credentials": lambda ids: {"email": f"{uuid.uuid4().hex[:8]}@example.com",
                                "password": "correct-horse-battery"},
    "LoginRequest": lambda ids: {"email": "nobody@example.com", "password": "x"},
}


def authenticated() -> list[Endpoint]:
    return [e for e in ENDPOINTS if e.access is not Access.anonymous]


def path_of(endpoint: Endpoint, ids: Ids) -> str:
    return re.sub(r"{(\w+)}", lambda m: getattr(ids, m.group(1)), endpoint.path)


def body_of(endpoint: Endpoint, ids: Ids) -> object | None:
    if endpoint.body is None:
        return None
    return BODIES[endpoint.body.__name__](ids)  # type: ignore[operator]


async def call(client: httpx.AsyncClient, endpoint: Endpoint, ids: Ids,
               headers: dict[str, str]) -> httpx.Response:
    body = body_of(endpoint, ids)
    return await client.request(endpoint.method, path_of(endpoint, ids), headers=headers,
                                json=body if body is not None else None)
