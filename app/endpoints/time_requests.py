"""Time requests: the child's "ask for more time" (player or account) and the parent's answer."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import account_id, caller
from app.responses import json_response, parse_body, path_uuid, query_params
from app.schemas import TimeRequestCreate, TimeRequestDecision, TimeRequestOut, TimeRequestsQuery
from app.services.time_requests import TimeRequestService


@inject
async def create(request: Request,
                 requests: TimeRequestService = Provide["time_request_service"]) -> Response:
    who = caller(request)
    body = await parse_body(request, TimeRequestCreate)
    who.may_act_for(body.profile_id)  # a device asks for its own profile only
    made = await requests.create(who.account_id, body.profile_id, minutes=body.minutes,
                                 message=body.message)
    return json_response(TimeRequestOut.model_validate(made), 201)


@inject
async def get(request: Request,
              requests: TimeRequestService = Provide["time_request_service"]) -> Response:
    who = caller(request)
    found = await requests.get(who.account_id, path_uuid(request, "request_id"),
                               profile_id=who.profile_id)
    return json_response(TimeRequestOut.model_validate(found))


@inject
async def list_requests(request: Request,
                        requests: TimeRequestService = Provide["time_request_service"],
                        ) -> Response:
    owner = account_id(request)
    query = query_params(request, TimeRequestsQuery)
    listed = await requests.list(owner, pending_only=query.status == "pending")
    return json_response([TimeRequestOut.model_validate(r) for r in listed])


@inject
async def decide(request: Request,
                 requests: TimeRequestService = Provide["time_request_service"]) -> Response:
    owner, request_id = account_id(request), path_uuid(request, "request_id")
    body = await parse_body(request, TimeRequestDecision)
    decided = await requests.decide(owner, request_id, approve=body.approve,
                                    minutes=body.minutes,
                                    minutes_given="minutes" in body.model_fields_set)
    return json_response(TimeRequestOut.model_validate(decided))
