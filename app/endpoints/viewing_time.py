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
    EligibilityOut,
    HeartbeatRequest,
    SessionEndOut,
)
from app.services.viewing_time import ViewingTimeService


@inject
async def heartbeat(request: Request,
                    viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    """The route table's heartbeat (its OpenAPI operation, 405 for other methods). The served
    app answers it through app.hot_path.HotPath, which calls `beat` with the service resolved
    once instead of on every call."""
    return await beat(request, viewing)


async def beat(request: Request, viewing: ViewingTimeService) -> Response:
    who = caller(request)
    device = who.device
    body: BeatBody = await parse_body(request, HeartbeatRequest if device is None else BeatBody)
    device_id, device_type = body.device_id, body.device_type.value
    if device is not None:  # a paired player: its own profile; its own id and type unless named
        who.may_act_for(body.profile_id)
        device_id = device_id or str(device.id)
        if "device_type" not in body.model_fields_set:
            device_type = device.device_type
    assert device_id is not None  # an account token's body names it (HeartbeatRequest)
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
