"""/openapi.json: valid OpenAPI 3.1 (checked by openapi-spec-validator, not by us), with the
ranges the service enforces and the tokens each endpoint takes, and a description and an
example for every operation, field and parameter (issue 16)."""

from __future__ import annotations

import json

import jsonschema
import pytest
from openapi_spec_validator import validate

from app.domain.errors import EnforcementUnavailable
from app.endpoints.access import Access
from app.http_errors import domain_response
from app.openapi import model_example
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


def _has_example(node: dict) -> bool:
    return "example" in node or bool(node.get("examples"))


def _undocumented(document: dict) -> list[str]:
    """Every operation without a description or (a body answered) a success example, every
    property of a component schema and every parameter without a description or an example."""
    missing = []
    for e in (e for e in ENDPOINTS if e.documented):
        where = f"{e.method} {e.path}"
        operation = document["paths"][e.path][e.method.lower()]
        if not operation.get("description", "").strip():
            missing.append(f"{where}: description")
        success = operation["responses"][str(e.status)].get("content", {})
        if any(not _has_example(media) for media in success.values()):
            missing.append(f"{where}: success example")
        for parameter in operation.get("parameters", []):
            name = f"{where} ?{parameter['name']}"
            if not parameter.get("description", "").strip():
                missing.append(f"{name}: description")
            if not (_has_example(parameter) or _has_example(parameter["schema"])):
                missing.append(f"{name}: example")
    for model, schema in document["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if not prop.get("description", "").strip():
                missing.append(f"{model}.{field}: description")
            if not _has_example(prop):
                missing.append(f"{model}.{field}: example")
    return missing


async def test_every_operation_field_and_parameter_has_a_description_and_an_example(document):
    assert _undocumented(document) == []
    validate(document)


async def test_the_check_notices_one_missing_description_or_example(document):
    heartbeat = document["components"]["schemas"]["HeartbeatRequest"]["properties"]
    del heartbeat["title_id"]["description"]
    del document["paths"][f"{API}/titles"]["get"]["parameters"][1]["example"]
    assert _undocumented(document) == ["GET /api/v1/titles ?limit: example",
                                       "HeartbeatRequest.title_id: description"]


async def test_the_examples_are_valid_values(document):
    """Against the document's schemas, and through the models' own validators: the fuzzer may
    send a request example as it is."""
    for name, schema in document["components"]["schemas"].items():
        for example in schema.get("examples", []):
            _conforms(document, name, example)
    for e in ENDPOINTS:
        for model in (e.body, e.response, e.query):
            if model is not None:
                model.model_validate_json(json.dumps(model_example(model)))
