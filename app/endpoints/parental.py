"""Parental controls: the PIN, a child's limits, grants of extra time, history and report, and
live control (who is watching, stop a session, lock a profile)."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import account_id, caller
from app.domain.configs import ConfigChange
from app.domain.devices import DeviceTokenRefused
from app.responses import json_response, parse_body, parse_query, path_uuid
from app.schemas import (
    DetailOut,
    GrantOut,
    GrantRecordOut,
    GrantRequest,
    HistoryQuery,
    LiveSessionOut,
    LockOut,
    LockRequest,
    PinReset,
    PinSet,
    PinStatusOut,
    PinVerifiedOut,
    PinVerify,
    ScheduleOut,
    ScheduleUpdate,
    SessionEndOut,
    SessionsQuery,
    ViewingHistoryOut,
    ViewingTimeConfigOut,
    ViewingTimeConfigUpdate,
    WeeklyReportOut,
)
from app.services.grants import GrantService
from app.services.pins import PinService
from app.services.reports import ReportService
from app.services.viewing_configs import ViewingConfigService
from app.services.viewing_time import ViewingTimeService


@inject
async def pin_status(request: Request, pins: PinService = Provide["pin_service"]) -> Response:
    return json_response(PinStatusOut.model_validate(await pins.status(account_id(request))))


@inject
async def set_pin(request: Request, pins: PinService = Provide["pin_service"]) -> Response:
    owner = account_id(request)
    body = await parse_body(request, PinSet)
    await pins.set_pin(owner, new_pin=body.new_pin, current_pin=body.current_pin)
    return json_response(DetailOut(detail="PIN set successfully"))


@inject
async def verify_pin(request: Request, pins: PinService = Provide["pin_service"]) -> Response:
    owner = account_id(request)
    body = await parse_body(request, PinVerify)
    return json_response(PinVerifiedOut.model_validate(await pins.verify(owner, body.pin)))


@inject
async def reset_pin(request: Request, pins: PinService = Provide["pin_service"]) -> Response:
    owner = account_id(request)
    body = await parse_body(request, PinReset)
    await pins.reset(owner, password=body.password, new_pin=body.new_pin)
    return json_response(DetailOut(detail="PIN reset successfully"))


@inject
async def get_config(request: Request,
                     configs: ViewingConfigService = Provide["viewing_config_service"]) -> Response:
    owner = account_id(request)
    config = await configs.get(owner, path_uuid(request, "profile_id"))
    return json_response(ViewingTimeConfigOut.model_validate(config))


@inject
async def update_config(request: Request,
                        configs: ViewingConfigService = Provide["viewing_config_service"],
                        ) -> Response:
    owner = account_id(request)
    profile_id = path_uuid(request, "profile_id")
    body = await parse_body(request, ViewingTimeConfigUpdate)
    config = await configs.update(owner, profile_id, ConfigChange(**body.changes()),
                                  pin_token=body.pin_token)
    return json_response(ViewingTimeConfigOut.model_validate(config))


@inject
async def get_schedule(request: Request,
                       configs: ViewingConfigService = Provide["viewing_config_service"],
                       ) -> Response:
    schedule = await configs.schedule(account_id(request), path_uuid(request, "profile_id"))
    return json_response(ScheduleOut.model_validate(schedule))


@inject
async def put_schedule(request: Request,
                       configs: ViewingConfigService = Provide["viewing_config_service"],
                       ) -> Response:
    owner = account_id(request)
    profile_id = path_uuid(request, "profile_id")
    body = await parse_body(request, ScheduleUpdate)
    schedule = await configs.set_schedule(owner, profile_id, limits=body.limits,
                                          allowed_hours=body.allowed_hours)
    return json_response(ScheduleOut.model_validate(schedule))


@inject
async def grant(request: Request, grants: GrantService = Provide["grant_service"]) -> Response:
    who, profile_id = caller(request), path_uuid(request, "profile_id")
    who.may_act_for(profile_id)
    body = await parse_body(request, GrantRequest)
    if who.device is not None and body.pin is None and body.pin_token is None:
        raise DeviceTokenRefused()  # a remote grant is the parent's, from the parent's device
    granted = await grants.grant(who.account_id, profile_id, minutes=body.minutes, pin=body.pin,
                                 pin_token=body.pin_token)
    return json_response(GrantOut.model_validate(granted))


@inject
async def list_grants(request: Request,
                      grants: GrantService = Provide["grant_service"]) -> Response:
    owner = account_id(request)
    return json_response([GrantRecordOut.model_validate(g)
                          for g in await grants.list(owner, path_uuid(request, "profile_id"))])


@inject
async def history(request: Request,
                  reports: ReportService = Provide["report_service"]) -> Response:
    owner = account_id(request)
    profile_id = path_uuid(request, "profile_id")
    query = parse_query(request, HistoryQuery)
    found = await reports.history(owner, profile_id, from_date=query.from_date,
                                  to_date=query.to_date)
    return json_response(ViewingHistoryOut.model_validate(found))


@inject
async def weekly_report(request: Request,
                        reports: ReportService = Provide["report_service"]) -> Response:
    return json_response(WeeklyReportOut.model_validate(await reports.weekly(account_id(request))))


@inject
async def list_sessions(request: Request,
                        viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    owner, profile_id = account_id(request), path_uuid(request, "profile_id")
    query = parse_query(request, SessionsQuery)
    listed = await viewing.sessions(owner, profile_id, open_only=query.state == "open",
                                    limit=query.limit)
    return json_response([LiveSessionOut.model_validate(s) for s in listed])


@inject
async def stop_session(request: Request,
                       viewing: ViewingTimeService = Provide["viewing_time"]) -> Response:
    ended = await viewing.stop(account_id(request), path_uuid(request, "session_id"))
    return json_response(SessionEndOut.model_validate(ended))


@inject
async def lock_profile(request: Request,
                       configs: ViewingConfigService = Provide["viewing_config_service"],
                       ) -> Response:
    owner, profile_id = account_id(request), path_uuid(request, "profile_id")
    body = await parse_body(request, LockRequest)
    return json_response(LockOut.model_validate(await configs.lock(owner, profile_id,
                                                                   body.until)))


@inject
async def unlock_profile(request: Request,
                         configs: ViewingConfigService = Provide["viewing_config_service"],
                         ) -> Response:
    owner, profile_id = account_id(request), path_uuid(request, "profile_id")
    return json_response(LockOut.model_validate(await configs.unlock(owner, profile_id)))
