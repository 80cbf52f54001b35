"""The player-facing API: heartbeats, session ends, balance and eligibility."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import account_id
from app.responses import json_response, parse_body, path_uuid
from app.schemas import HeartbeatRequest
from app.services.viewing_time import ViewingTimeService


@inject
async def heartbeat(request: Request,
                    viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    owner = account_id(request)
    beat = await parse_body(request, HeartbeatRequest)
    return json_response(await viewing.heartbeat(owner, beat))


@inject
async def end_session(request: Request,
                      viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    owner = account_id(request)
    return json_response(await viewing.end_session(owner, path_uuid(request, "session_id")))


@inject
async def balance(request: Request,
                  viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    owner = account_id(request)
    return json_response(await viewing.balance(owner, path_uuid(request, "profile_id")))


@inject
async def playback_eligible(request: Request,
                            viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    owner = account_id(request)
    return json_response(await viewing.playback_eligible(owner, path_uuid(request, "profile_id")))
