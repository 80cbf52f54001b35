"""The player-facing API: heartbeats, session ends, balance and eligibility."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import caller
from app.domain.heartbeat import Beat
from app.responses import json_response, parse_body, path_uuid
from app.schemas import (
    BalanceOut,
    BeatBody,
    DeviceHeartbeatRequest,
    EligibilityOut,
    HeartbeatRequest,
    SessionEndOut,
)
from app.services.viewing_time import ViewingTimeService


@inject
async def heartbeat(request: Request,
                    viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    who = caller(request)
    body: BeatBody
    if who.device is None:
        account_body = await parse_body(request, HeartbeatRequest)
        body, device_id, device_type = account_body, account_body.device_id, \
            account_body.device_type.value
    else:  # a paired player: its own profile, and its own id unless it names one
        device_body = await parse_body(request, DeviceHeartbeatRequest)
        who.may_act_for(device_body.profile_id)
        body, device_id = device_body, device_body.device_id or str(who.device.id)
        device_type = (body.device_type.value if "device_type" in body.model_fields_set
                       else who.device.device_type)
    beat = Beat(profile_id=body.profile_id, title_id=body.title_id, session_id=body.session_id,
                device_id=device_id, device_type=device_type, is_paused=body.is_paused)
    # The answer's fields are HeartbeatResponse's: orjson writes the dataclass as it is.
    return json_response(await viewing.heartbeat(who.account_id, beat))


@inject
async def end_session(request: Request,
                      viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    who = caller(request)
    ended = await viewing.end_session(who.account_id, path_uuid(request, "session_id"),
                                      profile_id=who.profile_id)
    return json_response(SessionEndOut.model_validate(ended))


@inject
async def balance(request: Request,
                  viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    who, profile_id = caller(request), path_uuid(request, "profile_id")
    who.may_act_for(profile_id)
    balance = await viewing.balance(who.account_id, profile_id)
    return json_response(BalanceOut.model_validate(balance))


@inject
async def playback_eligible(request: Request,
                            viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    who, profile_id = caller(request), path_uuid(request, "profile_id")
    who.may_act_for(profile_id)
    answer = await viewing.playback_eligible(who.account_id, profile_id)
    return json_response(EligibilityOut.model_validate(answer))
