"""/openapi.json: valid OpenAPI 3.1 (checked by openapi-spec-validator, not by us), with the
ranges the service enforces and the tokens each endpoint takes."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from app.endpoints.access import Access
from app.routes import ENDPOINTS

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
