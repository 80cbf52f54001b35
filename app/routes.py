"""Every endpoint once: path, method, handler and the models the OpenAPI document shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel
from starlette.routing import Route

from app import schemas as s
from app.endpoints import (
    accounts,
    api_docs,
    catalog,
    devices,
    metrics,
    operations,
    parental,
    time_requests,
    viewing_time,
    webhooks,
)
from app.endpoints.access import Access, guarded

API = "/api/v1"
PC = f"{API}/parental-controls"
TITLES_UPSERT_PATH = f"{API}/admin/titles"
HEARTBEAT_PATH = f"{API}/viewing-time/heartbeat"
# The default is Access.account: the parent's.
ANYONE, ADMIN, SHARED, PLAYER = Access.anonymous, Access.admin, Access.shared, Access.player


# Each documented operation's description in /openapi.json is in app/operation_docs.py, under
# its handler's name (the operationId).
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
    access: Access = Access.account
    errors: tuple[int, ...] = field(default=())
    query: type[BaseModel] | None = None  # query-string parameters, one per field
    documented: bool = True  # False: the API page's own files, not part of the API


ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", f"{API}/auth/register", accounts.register, "Create an account",
             s.Credentials, s.AccountOut, 201, access=ANYONE, errors=(409, 422, 429)),
    Endpoint("POST", f"{API}/auth/login", accounts.login, "Sign in and get a bearer token",
             s.LoginRequest, s.TokenOut, access=ANYONE, errors=(401, 422, 429)),
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
             errors=(403, 422), access=ADMIN),
    Endpoint("GET", f"{API}/titles", catalog.browse_titles,
             "Browse or search the catalog, a page at a time", response=s.TitlePageOut,
             errors=(422,), access=SHARED, query=s.TitlesQuery),
    Endpoint("GET", f"{API}/titles/{{title_id}}", catalog.get_title, "One title",
             response=s.TitleOut, errors=(404,), access=SHARED),
    Endpoint("POST", HEARTBEAT_PATH, viewing_time.heartbeat,
             "Report watching; answers the enforcement state", s.HeartbeatRequest,
             s.HeartbeatResponse, errors=(403, 404, 409, 422, 503), access=PLAYER),
    Endpoint("POST", f"{API}/viewing-time/session/{{session_id}}/end", viewing_time.end_session,
             "End a session and refund its unused paid window", response=s.SessionEndOut,
             errors=(403, 404), access=PLAYER),
    Endpoint("GET", f"{API}/viewing-time/balance/{{profile_id}}", viewing_time.balance,
             "Today's viewing-time balance", response=s.BalanceOut, errors=(404,),
             access=SHARED),
    Endpoint("GET", f"{API}/viewing-time/playback-eligible/{{profile_id}}",
             viewing_time.playback_eligible, "May playback start?", response=s.EligibilityOut,
             errors=(403, 404, 503), access=PLAYER),
    Endpoint("POST", f"{API}/viewing-time/time-requests", time_requests.create,
             "Ask for more time today (a device for its own profile, or the account)",
             s.TimeRequestCreate, s.TimeRequestOut, 201, errors=(404, 409, 422, 429),
             access=SHARED),
    Endpoint("GET", f"{API}/viewing-time/time-requests/{{request_id}}", time_requests.get,
             "One time request (a device: its own profile's only)", response=s.TimeRequestOut,
             errors=(404, 422), access=SHARED),
    Endpoint("GET", f"{PC}/pin/status", parental.pin_status, "Is a PIN set, is it locked?",
             response=s.PinStatusOut),
    Endpoint("POST", f"{PC}/pin", parental.set_pin,
             "Set the PIN (current_pin required once one exists)", s.PinSet, s.DetailOut,
             errors=(400, 403)),
    Endpoint("POST", f"{PC}/pin/verify", parental.verify_pin,
             "Check the PIN; answers a 5-minute pin_token", s.PinVerify, s.PinVerifiedOut,
             errors=(400, 403), access=SHARED),
    Endpoint("POST", f"{PC}/pin/reset", parental.reset_pin,
             "Forgotten PIN: set a new one with the account password (clears the lockout)",
             s.PinReset, s.DetailOut, errors=(429,)),
    Endpoint("GET", f"{PC}/profiles/{{profile_id}}/viewing-time", parental.get_config,
             "A child profile's viewing-time config", response=s.ViewingTimeConfigOut,
             errors=(404,)),
    Endpoint("PUT", f"{PC}/profiles/{{profile_id}}/viewing-time", parental.update_config,
             "Change a child's config (only the fields given; pin_token for reset_hour and "
             "educational_exempt)", s.ViewingTimeConfigUpdate, s.ViewingTimeConfigOut,
             errors=(403, 404)),
    Endpoint("GET", f"{PC}/profiles/{{profile_id}}/schedule", parental.get_schedule,
             "A child's schedule: per-weekday limits, allowed hours, and the week they make",
             response=s.ScheduleOut, errors=(404,)),
    Endpoint("PUT", f"{PC}/profiles/{{profile_id}}/schedule", parental.put_schedule,
             "Replace a child's schedule (every bad field named in the 422)",
             s.ScheduleUpdate, s.ScheduleOut, errors=(403, 404)),
    Endpoint("POST", f"{PC}/profiles/{{profile_id}}/viewing-time/grant", parental.grant,
             "Grant extra time for today (remote, or on-device with pin/pin_token)",
             s.GrantRequest, s.GrantOut, errors=(400, 403, 404), access=SHARED),
    Endpoint("GET", f"{PC}/profiles/{{profile_id}}/grants", parental.list_grants,
             "A child's grants, newest first", response=s.GrantRecordOut, many=True,
             errors=(404,)),
    Endpoint("GET", f"{PC}/profiles/{{profile_id}}/history", parental.history,
             "Viewing history by viewing day (?from_date&to_date, at most 90 days)",
             response=s.ViewingHistoryOut, errors=(404, 422), query=s.HistoryQuery),
    Endpoint("GET", f"{PC}/weekly-report", parental.weekly_report,
             "The last 7 viewing days of every child profile", response=s.WeeklyReportOut),
    Endpoint("GET", f"{PC}/profiles/{{profile_id}}/sessions", parental.list_sessions,
             "Who is watching: the profile's sessions, newest first (?state=open|all&limit)",
             response=s.LiveSessionOut, many=True, errors=(403, 404, 422),
             query=s.SessionsQuery),
    Endpoint("POST", f"{PC}/sessions/{{session_id}}/stop", parental.stop_session,
             "Stop a session now (refunded like an end); its next heartbeat answers 409",
             response=s.SessionEndOut, errors=(403, 404)),
    Endpoint("PUT", f"{PC}/profiles/{{profile_id}}/lock", parental.lock_profile,
             "Lock a child profile until an instant, or until unlocked (until: null)",
             s.LockRequest, s.LockOut, errors=(403, 404)),
    Endpoint("DELETE", f"{PC}/profiles/{{profile_id}}/lock", parental.unlock_profile,
             "Unlock a child profile", response=s.LockOut, errors=(403, 404)),
    Endpoint("POST", f"{PC}/webhooks", webhooks.create_webhook,
             "Subscribe a URL to events; answers its signing secret, once",
             s.WebhookCreate, s.WebhookCreatedOut, 201, errors=(409, 422)),
    Endpoint("GET", f"{PC}/webhooks", webhooks.list_webhooks,
             "The account's webhook subscriptions and how their deliveries go (no secrets)",
             response=s.WebhookOut, many=True),
    Endpoint("DELETE", f"{PC}/webhooks/{{webhook_id}}", webhooks.delete_webhook,
             "Delete a webhook subscription and its undelivered events", status=204,
             errors=(404,)),
    Endpoint("GET", f"{PC}/time-requests", time_requests.list_requests,
             "The children's time requests, newest first (?status=pending|all)",
             response=s.TimeRequestOut, many=True, errors=(403, 422),
             query=s.TimeRequestsQuery),
    Endpoint("POST", f"{PC}/time-requests/{{request_id}}/decision", time_requests.decide,
             "Approve (as asked, other minutes, or unlimited: minutes null) or deny a request",
             s.TimeRequestDecision, s.TimeRequestOut, errors=(403, 404, 409, 422)),
    Endpoint("POST", f"{API}/profiles/{{profile_id}}/devices", devices.pair,
             "Pair a player with the profile; answers its device token, once",
             s.DeviceCreate, s.DevicePairedOut, 201, errors=(403, 404)),
    Endpoint("GET", f"{API}/profiles/{{profile_id}}/devices", devices.list_devices,
             "The profile's paired devices (never their tokens)", response=s.DeviceOut,
             many=True, errors=(403, 404)),
    Endpoint("DELETE", f"{API}/devices/{{device_id}}", devices.delete_device,
             "Unpair a device: its token is refused on every replica within a second",
             status=204, errors=(403, 404)),
    Endpoint("GET", f"{API}/device", devices.this_device, "The calling device (device token)",
             response=s.ThisDeviceOut, errors=(403,), access=Access.device),
    Endpoint("GET", f"{API}/admin/metrics", metrics.admin_metrics,
             "Heartbeat, config cache and weekly report figures (admin)",
             response=s.PerformanceMetrics, errors=(403,), access=ADMIN),
    Endpoint("GET", "/metrics", metrics.prometheus, "Prometheus text format", access=ANYONE),
    Endpoint("GET", "/healthz", operations.healthz, "Process alive", access=ANYONE),
    Endpoint("GET", "/readyz", operations.readyz, "Database reachable and migrated",
             access=ANYONE, errors=(503,)),
    Endpoint("GET", "/openapi.json", operations.openapi, "This document", access=ANYONE),
    Endpoint("GET", "/docs", api_docs.page, "This document as an interactive page (Swagger UI)",
             access=ANYONE),
    *(Endpoint("GET", f"/docs/{name}", handler, "", access=ANYONE, documented=False)
      for name, handler in (("init.js", api_docs.script), ("swagger-ui-bundle.js", api_docs.bundle),
                            ("swagger-ui.css", api_docs.stylesheet))),
]


PUBLIC_PATHS = frozenset(e.path for e in ENDPOINTS if e.access is Access.anonymous)


def routes(*, device_tokens_required: bool = False) -> list[Route]:
    return [Route(e.path, guarded(e.handler, e.access,
                                  device_tokens_required=device_tokens_required),
                  methods=[e.method]) for e in ENDPOINTS]
