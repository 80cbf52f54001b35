"""The player-facing API: heartbeats, session ends, balance and eligibility."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import account_id
from app.domain.heartbeat import Beat
from app.responses import json_response, parse_body, path_uuid
from app.schemas import BalanceOut, EligibilityOut, HeartbeatRequest, SessionEndOut
from app.services.viewing_time import ViewingTimeService


@inject
async def heartbeat(request: Request,
                    viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    owner = account_id(request)
    body = await parse_body(request, HeartbeatRequest)
    beat = Beat(profile_id=body.profile_id, title_id=body.title_id, session_id=body.session_id,
                device_id=body.device_id, device_type=body.device_type.value,
                is_paused=body.is_paused)
    # The answer's fields are HeartbeatResponse's: orjson writes the dataclass as it is.
    return json_response(await viewing.heartbeat(owner, beat))


@inject
async def end_session(request: Request,
                      viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    owner = account_id(request)
    ended = await viewing.end_session(owner, path_uuid(request, "session_id"))
    return json_response(SessionEndOut.model_validate(ended))


@inject
async def balance(request: Request,
                  viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    owner = account_id(request)
    balance = await viewing.balance(owner, path_uuid(request, "profile_id"))
    return json_response(BalanceOut.model_validate(balance))


@inject
async def playback_eligible(request: Request,
                            viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    owner = account_id(request)
    answer = await viewing.playback_eligible(owner, path_uuid(request, "profile_id"))
    return json_response(EligibilityOut.model_validate(answer))
