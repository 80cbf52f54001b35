"""Pairing players with a profile (the parent's), and a device asking who it is."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import account_id, caller
from app.responses import json_response, parse_body, path_uuid
from app.schemas import DeviceCreate, DeviceOut, DevicePairedOut, ThisDeviceOut
from app.services.devices import DeviceService


@inject
async def pair(request: Request, devices: DeviceService = Provide["device_service"]) -> Response:
    owner = account_id(request)
    profile_id = path_uuid(request, "profile_id")
    body = await parse_body(request, DeviceCreate)
    paired = await devices.pair(owner, profile_id, name=body.name,
                                device_type=body.device_type.value)
    out = DevicePairedOut.model_validate({**DeviceOut.model_validate(paired.device).model_dump(),
                                          "device_token": paired.device_token})
    return json_response(out, 201)


@inject
async def list_devices(request: Request,
                       devices: DeviceService = Provide["device_service"]) -> Response:
    listed = await devices.list(account_id(request), path_uuid(request, "profile_id"))
    return json_response([DeviceOut.model_validate(d) for d in listed])


@inject
async def delete_device(request: Request,
                        devices: DeviceService = Provide["device_service"]) -> Response:
    await devices.delete(account_id(request), path_uuid(request, "device_id"))
    return Response(status_code=204)


async def this_device(request: Request) -> Response:
    return json_response(ThisDeviceOut.model_validate(caller(request).device))
