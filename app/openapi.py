"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app import schemas as s
from app.endpoints.access import Access
from app.operation_docs import DESCRIPTIONS as OPERATIONS
from app.routes import Endpoint


def _text(description: str, example: str) -> dict[str, Any]:
    return {"type": "string", "description": description, "examples": [example]}


def _fixed(schema: dict[str, Any], description: str, example: Any) -> dict[str, Any]:
    return {**schema, "description": description, "examples": [example]}


_UNAVAILABLE = "Viewing-time enforcement is unavailable"
_NO_CHECK = "Always null: nothing could be checked"
# The error bodies the service sends (app/http_errors.py), as components of the document.
ERRORS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object", "required": ["detail"],
        "description": "Every error: `detail` is a sentence for people; `code` (on 409s) is "
                       "for programs.",
        "properties": {
            "detail": _text("What went wrong, in one sentence", "Session has ended"),
            "code": _text("A stable name for the conflict (409), e.g. `session_ended`, "
                          "`session_title_mismatch`", "session_ended"),
            "reason": _text("Why a session ended (409 `session_ended`): `stopped_by_parent`",
                            "stopped_by_parent"),
            "locked_until": {**_text("When a locked PIN opens again (403), written with "
                                     "`+00:00`", "2026-03-04T12:30:00+00:00"),
                             "format": "date-time"},
        },
    },
    "ValidationError": {
        "type": "object", "required": ["detail", "errors"],
        "description": "422: every bad field, each with why.",
        "properties": {
            "detail": _text("The problems joined: `field: message; …`",
                            "minutes: must be 15, 30 or 60"),
            "errors": {"type": "array", "description": "Every bad field, each with why",
                       "examples": [[{"field": "minutes", "message": "must be 15, 30 or 60"}]],
                       "items": {
                           "type": "object", "required": ["field", "message"],
                           "properties": {
                               "field": _text("Dotted path of the field (`body` for a wrong "
                                              "Content-Type, the parameter for a bad path id)",
                                              "allowed_hours.mon[0].end"),
                               "message": _text("Why it was refused", "must be after start")}}},
        },
    },
    "HeartbeatUnavailable": {
        "type": "object", "required": ["detail", "enforcement", "reason"],
        "description": "503 from the heartbeat: the database could not be reached, so the "
                       "service fails closed and the player must stop.",
        "properties": {
            "detail": _text("Why: the time could not be checked", _UNAVAILABLE),
            "session_id": _fixed({"type": "null"}, _NO_CHECK, None),
            "enforcement": _fixed({"const": "blocked"}, "Always `blocked`: stop playback",
                                  "blocked"),
            "reason": _fixed({"const": "enforcement_unavailable"},
                             "Always `enforcement_unavailable`", "enforcement_unavailable"),
            "remaining_minutes": _fixed({"const": 0}, "Always 0", 0),
            "used_minutes": _fixed({"type": "null"}, _NO_CHECK, None),
            "is_educational": _fixed({"type": "null"}, _NO_CHECK, None),
            "next_allowed_at": _fixed({"type": "null"}, _NO_CHECK, None),
        },
    },
    "EligibilityUnavailable": {
        "type": "object", "required": ["detail", "eligible", "reason"],
        "description": "503 from playback eligibility: fail closed, playback may not start.",
        "properties": {
            "detail": _text("Why: the time could not be checked", _UNAVAILABLE),
            "eligible": _fixed({"const": False}, "Always false: playback may not start", False),
            "remaining_minutes": _fixed({"const": 0}, "Always 0", 0),
            "reason": _fixed({"const": "enforcement_unavailable"},
                             "Always `enforcement_unavailable`", "enforcement_unavailable"),
            "next_reset_at": _fixed({"type": "null"}, _NO_CHECK, None),
            "next_allowed_at": _fixed({"type": "null"}, _NO_CHECK, None),
        },
    },
}
# The path parameters: what each names, and an example.
PATH_PARAMETERS: dict[str, tuple[str, str]] = {
    "profile_id": ("The profile's id (a device token: its own profile only)", s.PROFILE_ID),
    "title_id": ("The title's id", s.TITLE_ID),
    "session_id": ("The viewing session's id, as the heartbeat answered it", s.SESSION_ID),
    "request_id": ("The time request's id", s.REQUEST_ID),
    "webhook_id": ("The webhook subscription's id", s.WEBHOOK_ID),
    "device_id": ("The paired device's id", s.DEVICE_ID),
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


def model_example(model: type[BaseModel]) -> dict[str, Any] | None:
    """The example a model gives in its config (app/schemas.py), if any."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    first = examples[0] if isinstance(examples, list) and examples else None
    return first if isinstance(first, dict) else None


def _query_parameter(name: str, schema: dict[str, Any], required: bool,
                     example: dict[str, Any]) -> dict[str, Any]:
    schema = dict(schema)
    parameter = {"name": name, "in": "query", "required": required,
                 "description": schema.pop("description", "")}
    if name in example:
        parameter["example"] = example[name]
    return {**parameter, "schema": schema}


def _operation(e: Endpoint) -> dict[str, Any]:
    name = e.handler.__name__
    op: dict[str, Any] = {"summary": e.summary, "description": OPERATIONS.get(name, ""),
                          "operationId": name}
    params = re.findall(r"{(\w+)}", e.path)
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True,
                             "description": PATH_PARAMETERS[p][0],
                             "example": PATH_PARAMETERS[p][1],
                             "schema": {"type": "string", "format": "uuid"}} for p in params]
    if e.query is not None:
        query = e.query.model_json_schema()
        example = model_example(e.query) or {}
        op.setdefault("parameters", []).extend(
            _query_parameter(param, schema, param in query.get("required", []), example)
            for param, schema in query["properties"].items())
    if e.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _ref(e.body)}}}
    ok: dict[str, Any] = {"description": "Success"}
    if e.response is not None:
        schema = {"type": "array", "items": _ref(e.response)} if e.many else _ref(e.response)
        ok["content"] = {"application/json": {"schema": schema}}
        answered = model_example(e.response)
        if answered is not None:
            ok["content"]["application/json"]["example"] = [answered] if e.many else answered
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


def _with_property_examples(schema: dict[str, Any]) -> dict[str, Any]:
    """A property without an example of its own shows its value in the model's example."""
    examples = schema.get("examples")
    if not (isinstance(examples, list) and examples and isinstance(examples[0], dict)):
        return schema
    properties = {name: prop if "example" in prop or "examples" in prop
                  or name not in examples[0] else {**prop, "examples": [examples[0][name]]}
                  for name, prop in schema.get("properties", {}).items()}
    return {**schema, "properties": properties}


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
        "components": {"schemas": {**{name: _with_property_examples(schema) for name, schema
                                      in definitions.get("$defs", {}).items()}, **ERRORS},
                       "securitySchemes": SCHEMES},
    })
