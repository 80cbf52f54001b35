"""Liveness, readiness and the OpenAPI document."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.responses import json_response
from app.services.health import HealthService


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


@inject
async def readyz(request: Request, health: HealthService = Provide["health"]) -> Response:
    ready, reason = await health.ready()
    return json_response({"status": "ok" if ready else "unavailable", "detail": reason},
                         200 if ready else 503)


async def openapi(request: Request) -> Response:
    return json_response(request.app.state.openapi)
