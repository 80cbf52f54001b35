"""/openapi.json: valid OpenAPI 3.1 (checked by openapi-spec-validator, not by us), with the
ranges the service enforces and the tokens each endpoint takes."""

from __future__ import annotations

import json

import jsonschema
import pytest
from openapi_spec_validator import validate

from app.domain.errors import EnforcementUnavailable
from app.endpoints.access import Access
from app.http_errors import domain_response
from app.routes import ENDPOINTS
from tests.support.api import API

pytestmark = pytest.mark.anyio


@pytest.fixture
async def document(client) -> dict:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


async def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on the first error


async def test_the_validator_catches_what_the_document_used_to_get_wrong(document):
    """The check is real: the `default: null` of a field that refuses null fails it."""
    update = document["components"]["schemas"]["ViewingTimeConfigUpdate"]["properties"]
    update["reset_hour"]["default"] = None
    with pytest.raises(Exception, match="None is not of type 'integer'"):
        validate(document)


async def test_ranges_and_enums_are_in_the_document(document):
    schemas = document["components"]["schemas"]
    limit = schemas["ViewingTimeConfigUpdate"]["properties"]["weekday_limit_minutes"]
    assert limit["anyOf"] == [{"type": "integer", "minimum": 15, "maximum": 480,
                               "multipleOf": 15}, {"type": "null"}]
    assert schemas["GrantRequest"]["properties"]["minutes"]["anyOf"] == [
        {"type": "integer", "enum": [15, 30, 60]}, {"type": "null"}]
    reset = schemas["ViewingTimeConfigUpdate"]["properties"]["reset_hour"]
    assert (reset["type"], reset["minimum"], reset["maximum"]) == ("integer", 0, 23)
    assert "default" not in reset


async def test_each_operation_names_the_tokens_it_takes(document):
    assert set(document["components"]["securitySchemes"]) == {"account", "device"}
    expected = {Access.account: [{"account": []}], Access.admin: [{"account": []}],
                Access.shared: [{"account": []}, {"device": []}],
                Access.player: [{"device": []}, {"account": []}],
                Access.device: [{"device": []}]}
    for e in (e for e in ENDPOINTS if e.documented):
        operation = document["paths"][e.path][e.method.lower()]
        if e.access is Access.anonymous:
            assert "security" not in operation, e.path
        else:
            assert operation["security"] == expected[e.access], e.path


def _conforms(document: dict, name: str, body: dict) -> None:
    schema = {**document["components"]["schemas"][name],
              "components": document["components"]}
    jsonschema.validate(body, schema)


async def test_real_error_bodies_match_their_documented_schemas(client, parent, document):
    r = await client.post(f"{API}/profiles", headers=parent.headers, json={"name": ""})
    assert r.status_code == 422
    _conforms(document, "ValidationError", r.json())
    r = await client.get(f"{API}/me")
    _conforms(document, "Error", r.json())
    for eligibility, name in ((False, "HeartbeatUnavailable"), (True, "EligibilityUnavailable")):
        body = json.loads(domain_response(EnforcementUnavailable(eligibility=eligibility)).body)
        _conforms(document, name, body)


async def test_errors_are_documented_with_their_schemas_headers_and_examples(document):
    heartbeat = document["paths"][f"{API}/viewing-time/heartbeat"]["post"]["responses"]
    assert heartbeat["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HeartbeatUnavailable"}
    assert heartbeat["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationError"}
    assert heartbeat["401"]["headers"] == {"WWW-Authenticate": {"schema": {"const": "Bearer"}}}
    login = document["paths"][f"{API}/auth/login"]["post"]["responses"]
    assert set(login["429"]["headers"]) == {"Retry-After"}
    assert login["429"]["content"]["application/json"]["example"] == {
        "detail": "Too many attempts; try again later"}


@pytest.mark.parametrize("path", [f"{API}/devices/not-a-uuid",
                                  f"{API}/parental-controls/profiles/x/viewing-time"])
async def test_a_bad_path_id_is_a_422_of_the_same_shape_as_a_bad_body(client, parent, document,
                                                                       path):
    r = await client.request("DELETE" if "devices" in path else "GET", path,
                             headers=parent.headers)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": r.json()["detail"].split(":")[0],
                                   "message": "must be a UUID"}]
    _conforms(document, "ValidationError", r.json())
