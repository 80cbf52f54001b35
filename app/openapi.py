"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.endpoints.access import Access
from app.routes import Endpoint

# The error bodies the service sends (app/http_errors.py), as components of the document.
_TEXT = {"type": "string"}
ERRORS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object", "required": ["detail"],
        "description": "Every error: `detail` is a sentence for people; `code` (on 409s) is "
                       "for programs.",
        "properties": {
            "detail": {**_TEXT, "description": "What went wrong, in one sentence"},
            "code": {**_TEXT, "description": "A stable name for the conflict (409), e.g. "
                                             "`session_ended`, `session_title_mismatch`"},
            "reason": {**_TEXT, "description": "Why a session ended (409 `session_ended`): "
                                               "`stopped_by_parent`"},
            "locked_until": {**_TEXT, "format": "date-time",
                             "description": "When a locked PIN opens again (403)"},
        },
    },
    "ValidationError": {
        "type": "object", "required": ["detail", "errors"],
        "description": "422: every bad field, each with why.",
        "properties": {
            "detail": {**_TEXT, "description": "The problems joined: `field: message; …`"},
            "errors": {"type": "array", "items": {
                "type": "object", "required": ["field", "message"],
                "properties": {"field": {**_TEXT, "description": "Dotted path of the field"},
                               "message": {**_TEXT, "description": "Why it was refused"}}}},
        },
    },
    "HeartbeatUnavailable": {
        "type": "object", "required": ["detail", "enforcement", "reason"],
        "description": "503 from the heartbeat: the database could not be reached, so the "
                       "service fails closed and the player must stop.",
        "properties": {
            "detail": _TEXT, "session_id": {"type": "null"},
            "enforcement": {"const": "blocked"}, "reason": {"const": "enforcement_unavailable"},
            "remaining_minutes": {"const": 0}, "used_minutes": {"type": "null"},
            "is_educational": {"type": "null"}, "next_allowed_at": {"type": "null"},
        },
    },
    "EligibilityUnavailable": {
        "type": "object", "required": ["detail", "eligible", "reason"],
        "description": "503 from playback eligibility: fail closed, playback may not start.",
        "properties": {
            "detail": _TEXT, "eligible": {"const": False},
            "remaining_minutes": {"const": 0}, "reason": {"const": "enforcement_unavailable"},
            "next_reset_at": {"type": "null"}, "next_allowed_at": {"type": "null"},
        },
    },
}
DESCRIPTIONS = {400: "The body is not JSON, or a required step is missing", 401:
                "Missing, malformed or expired bearer token", 403: "Forbidden for this caller",
                404: "Not found (or another account's)", 409: "Conflict", 413:
                "Body too large", 422: "Validation error", 429: "Too many attempts",
                503: "Database unavailable"}
EXAMPLES: dict[int, dict[str, Any]] = {
    400: {"detail": "Request body is not valid JSON"},
    401: {"detail": "Not authenticated"},
    403: {"detail": "Incorrect PIN"},
    404: {"detail": "Profile not found"},
    409: {"detail": "Session has ended", "code": "session_ended"},
    413: {"detail": "Request body exceeds 64 KiB"},
    422: {"detail": "minutes: must be 15, 30, 60 or null (unlimited for the rest of the day)",
          "errors": [{"field": "minutes",
                      "message": "must be 15, 30, 60 or null (unlimited for the rest of the "
                                 "day)"}]},
    429: {"detail": "Too many attempts; try again later"},
    503: {"detail": "Database unavailable"},
}
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"const": "Bearer"}}},
    429: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}
# Operations whose 503 is a fail-closed answer rather than a bare error.
FAIL_CLOSED = {"heartbeat": "HeartbeatUnavailable", "playback_eligible": "EligibilityUnavailable"}


def _error(code: int, operation: str) -> dict[str, Any]:
    name = "ValidationError" if code == 422 else "Error"
    if code == 503 and operation in FAIL_CLOSED:
        name = FAIL_CLOSED[operation]
    response: dict[str, Any] = {"description": DESCRIPTIONS.get(code, "Error"), "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}
    if name in ("Error", "ValidationError"):
        response["content"]["application/json"]["example"] = EXAMPLES[code]
    if code in HEADERS:
        response["headers"] = HEADERS[code]
    return response


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
        responses[str(code)] = _error(code, e.handler.__name__)
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
        "components": {"schemas": {**definitions.get("$defs", {}), **ERRORS},
                       "securitySchemes": SCHEMES},
    })
