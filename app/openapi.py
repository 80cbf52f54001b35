"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.endpoints.access import Access
from app.routes import Endpoint

ERROR = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
DESCRIPTIONS = {401: "Missing, malformed or expired bearer token", 403: "Forbidden",
                404: "Not found (or another account's)", 409: "Conflict", 422: "Validation error",
                429: "Too many attempts", 400: "Bad request", 503: "Database unavailable"}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(e: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": e.summary, "operationId": e.handler.__name__}
    params = re.findall(r"{(\w+)}", e.path)
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True,
                             "schema": {"type": "string", "format": "uuid"}} for p in params]
    if e.query is not None:
        query = e.query.model_json_schema()
        op.setdefault("parameters", []).extend(
            {"name": name, "in": "query", "required": name in query.get("required", []),
             "schema": schema} for name, schema in query["properties"].items())
    if e.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _ref(e.body)}}}
    ok: dict[str, Any] = {"description": "Success"}
    if e.response is not None:
        schema = {"type": "array", "items": _ref(e.response)} if e.many else _ref(e.response)
        ok["content"] = {"application/json": {"schema": schema}}
    responses: dict[str, Any] = {str(e.status): ok}
    signed_in = e.access is not Access.anonymous
    codes = set(e.errors) | ({401} if signed_in else set()) | ({400, 413, 422} if e.body else set())
    codes |= {422} if params else set()  # a path id that is not a UUID
    for code in sorted(codes):
        responses[str(code)] = {"description": DESCRIPTIONS.get(code, "Error"),
                                "content": {"application/json": {"schema": ERROR}}}
    op["responses"] = responses
    if signed_in:
        op["security"] = SECURITY[e.access]
    return op


# Which bearer tokens an endpoint takes (app/endpoints/access.py): a parent's account token,
# a paired player's device token, or either.
Requirement = dict[str, list[str]]
_ACCOUNT: Requirement = {"account": []}
_DEVICE: Requirement = {"device": []}
SECURITY: dict[Access, list[Requirement]] = {
    Access.account: [_ACCOUNT], Access.admin: [_ACCOUNT], Access.device: [_DEVICE],
    Access.shared: [_ACCOUNT, _DEVICE], Access.player: [_DEVICE, _ACCOUNT]}
SCHEMES = {
    "account": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "A parent's account token, from POST /api/v1/auth/login (or "
                               "the platform's identity service, signed with the same key)."},
    "device": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": "A paired player's device token, from POST "
                              "/api/v1/profiles/{profile_id}/devices: it acts for that one "
                              "profile, until the device is unpaired."},
}


def _without_null_defaults(node: Any) -> Any:
    """pydantic writes `default: null` for a field that may be left out; where null itself is
    refused (reset_hour, timezone …) that default contradicts the schema, so it goes."""
    if isinstance(node, list):
        return [_without_null_defaults(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _without_null_defaults(v) for k, v in node.items()}
    if "default" in out and out["default"] is None and not _nullable(out):
        del out["default"]
    return out


def _nullable(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    return (kinds == "null" or (isinstance(kinds, list) and "null" in kinds)
            or any(_nullable(s) for s in schema.get("anyOf", []) + schema.get("oneOf", [])))


def build_openapi(endpoints: list[Endpoint]) -> dict[str, Any]:
    models = {m for e in endpoints for m in (e.body, e.response) if m is not None}
    _, definitions = models_json_schema(
        [(m, "validation" if any(m is e.body for e in endpoints) else "serialization")
         for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        if e.documented:
            paths.setdefault(e.path, {})[e.method.lower()] = _operation(e)
    return _without_null_defaults({
        "openapi": "3.1.0",
        "info": {"title": "viewing-time-service", "version": "1.0.0"},
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {}),
                       "securitySchemes": SCHEMES},
    })
