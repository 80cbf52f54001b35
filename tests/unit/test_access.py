"""Who may call an endpoint is read from the route table, and checked before the handler."""

from __future__ import annotations

import pytest
from starlette.authentication import UnauthenticatedUser
from starlette.requests import Request
from starlette.responses import Response

from app.domain.errors import NotAuthenticated
from app.endpoints.access import Access, guarded
from app.routes import ENDPOINTS, PUBLIC_PATHS, routes

pytestmark = pytest.mark.anyio


def anonymous_request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [],
                    "user": UnauthenticatedUser()})


async def test_a_signed_in_endpoint_refuses_an_anonymous_caller_before_its_handler_runs():
    ran = []

    async def handler(request: Request) -> Response:
        ran.append(request)
        return Response()

    for access in (Access.account, Access.admin):
        with pytest.raises(NotAuthenticated):
            await guarded(handler, access)(anonymous_request())
    assert ran == []


def test_an_anonymous_endpoint_is_its_handler_unchanged():
    async def handler(request: Request) -> Response:
        return Response()

    assert guarded(handler, Access.anonymous) is handler


def test_every_route_is_served_through_its_declared_check():
    for endpoint, route in zip(ENDPOINTS, routes(), strict=True):
        wrapped = route.endpoint is not endpoint.handler
        assert wrapped == (endpoint.access is not Access.anonymous), endpoint.path
        assert route.endpoint.__name__ == endpoint.handler.__name__


def test_only_the_catalog_upsert_and_the_metrics_view_are_admin_only():
    admin = {(e.method, e.path) for e in ENDPOINTS if e.access is Access.admin}
    assert admin == {("PUT", "/api/v1/admin/titles"), ("GET", "/api/v1/admin/metrics")}


def test_the_public_paths_are_exactly_the_anonymous_endpoints():
    assert PUBLIC_PATHS == {"/api/v1/auth/register", "/api/v1/auth/login", "/metrics",
                            "/healthz", "/readyz", "/openapi.json", "/docs", "/docs/init.js",
                            "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"}
