"""Every endpoint once: path, method, handler and the models the OpenAPI document shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel
from starlette.routing import Route

from app import schemas as s
from app.endpoints import accounts, catalog, operations, viewing_time

API = "/api/v1"
TITLES_UPSERT_PATH = f"{API}/admin/titles"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Callable
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    many: bool = False  # the response is a list of `response`
    auth: bool = True
    errors: tuple[int, ...] = field(default=())


ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", f"{API}/auth/register", accounts.register, "Create an account",
             s.Credentials, s.AccountOut, 201, auth=False, errors=(409, 422)),
    Endpoint("POST", f"{API}/auth/login", accounts.login, "Sign in and get a bearer token",
             s.LoginRequest, s.TokenOut, auth=False, errors=(401, 422)),
    Endpoint("GET", f"{API}/me", accounts.me, "The signed-in account", response=s.MeOut),
    Endpoint("GET", f"{API}/profiles", catalog.list_profiles, "The caller's profiles",
             response=s.ProfileOut, many=True),
    Endpoint("POST", f"{API}/profiles", catalog.create_profile,
             "Create a profile (a child profile gets the default limits)",
             s.ProfileCreate, s.ProfileOut, 201, errors=(422,)),
    Endpoint("DELETE", f"{API}/profiles/{{profile_id}}", catalog.delete_profile,
             "Delete a profile and all its viewing data", status=204, errors=(404,)),
    Endpoint("PUT", TITLES_UPSERT_PATH, catalog.upsert_titles,
             "Upsert up to 10,000 titles (admin)", s.TitlesUpsert, s.UpsertedOut,
             errors=(403, 422)),
    Endpoint("GET", f"{API}/titles/{{title_id}}", catalog.get_title, "One title",
             response=s.TitleOut, errors=(404,)),
    Endpoint("POST", f"{API}/viewing-time/heartbeat", viewing_time.heartbeat,
             "Report watching; answers the enforcement state", s.HeartbeatRequest,
             s.HeartbeatResponse, errors=(404, 409, 422, 503)),
    Endpoint("POST", f"{API}/viewing-time/session/{{session_id}}/end", viewing_time.end_session,
             "End a session and refund its unused paid window", response=s.SessionEndOut,
             errors=(404,)),
    Endpoint("GET", f"{API}/viewing-time/balance/{{profile_id}}", viewing_time.balance,
             "Today's viewing-time balance", response=s.BalanceOut, errors=(404,)),
    Endpoint("GET", f"{API}/viewing-time/playback-eligible/{{profile_id}}",
             viewing_time.playback_eligible, "May playback start?", response=s.EligibilityOut,
             errors=(404, 503)),
    Endpoint("GET", "/healthz", operations.healthz, "Process alive", auth=False),
    Endpoint("GET", "/readyz", operations.readyz, "Database reachable and migrated",
             auth=False, errors=(503,)),
    Endpoint("GET", "/openapi.json", operations.openapi, "This document", auth=False),
]


def routes() -> list[Route]:
    return [Route(e.path, e.handler, methods=[e.method]) for e in ENDPOINTS]
