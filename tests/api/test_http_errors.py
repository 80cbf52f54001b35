"""HTTP behaviour everywhere: JSON errors, 400/404/405/413/422, no stack traces, openapi."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api import API

pytestmark = pytest.mark.anyio


async def test_unknown_route_is_json_404(client):
    r = await client.get("/nowhere")
    assert r.status_code == 404 and r.json() == {"detail": "Not found"}
    r = await client.get(f"{API}/nowhere")
    assert r.status_code == 404 and r.json() == {"detail": "Not found"}


async def test_wrong_method_is_json_405(client):
    r = await client.delete(f"{API}/auth/login")
    assert r.status_code == 405 and r.json() == {"detail": "Method not allowed"}


async def test_unparsable_json_is_400(client, parent):
    r = await client.post(f"{API}/profiles", headers={**parent.headers,
                                                      "Content-Type": "application/json"},
                          content=b"{not json")
    assert r.status_code == 400 and r.json() == {"detail": "Request body is not valid JSON"}


async def test_wrong_content_type_is_422(client, parent):
    r = await client.post(f"{API}/profiles", headers={**parent.headers,
                                                      "Content-Type": "text/plain"},
                          content=b'{"name": "x", "is_kids": true}')
    assert r.status_code == 422 and r.json()["detail"].startswith("body:")


async def test_body_over_64_kib_is_413(client, parent):
    big = b'{"name": "' + b"x" * (64 * 1024) + b'", "is_kids": true}'
    r = await client.post(f"{API}/profiles", headers={**parent.headers,
                                                      "Content-Type": "application/json"},
                          content=big)
    assert r.status_code == 413 and "64 KiB" in r.json()["detail"]


async def test_streamed_body_over_the_limit_is_413(client, parent):
    async def chunks():
        for _ in range(70):
            yield b"x" * 1024

    r = await client.post(f"{API}/profiles", headers={**parent.headers,
                                                      "Content-Type": "application/json"},
                          content=chunks())
    assert r.status_code == 413


async def test_bad_uuid_in_path_is_422(client, parent):
    r = await client.get(f"{API}/viewing-time/balance/not-a-uuid", headers=parent.headers)
    assert r.status_code == 422 and r.json() == {
        "detail": "profile_id: must be a UUID",
        "errors": [{"field": "profile_id", "message": "must be a UUID"}]}


async def test_422_lists_every_bad_field(client, parent):
    r = await client.post(f"{API}/viewing-time/heartbeat", headers=parent.headers,
                          json={"profile_id": "nope", "title_id": str(uuid.uuid4()),
                                "device_id": "x" * 101, "device_type": "toaster"})
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == ["profile_id", "device_id", "device_type"]
    for field in fields:
        assert f"{field}:" in r.json()["detail"]


async def test_security_headers_and_no_server_banner(client):
    r = await client.get("/healthz")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "server" not in r.headers


async def test_openapi_describes_every_route_with_schemas(client, app):
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    routes = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = {(method, route.path) for route in app.routes for method in route.methods
              if method != "HEAD"}
    # only the API page's own files are left out
    assert served - routes == {("GET", "/docs/init.js"), ("GET", "/docs/swagger-ui-bundle.js"),
                               ("GET", "/docs/swagger-ui.css")}
    assert routes <= served
    hb = doc["paths"][f"{API}/viewing-time/heartbeat"]["post"]
    assert hb["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "HeartbeatRequest")
    assert "HeartbeatResponse" in doc["components"]["schemas"]
    assert set(doc["components"]["schemas"]["HeartbeatRequest"]["properties"]) >= {
        "profile_id", "title_id", "device_id", "device_type", "session_id", "is_paused"}
