"""JSON in and out: orjson responses and strict parsing of request bodies and paths."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.domain.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        # UTC instants end in "Z", as pydantic writes them in every other answer.
        return orjson.dumps(content, default=_default, option=orjson.OPT_UTC_Z)


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(content: Any, status_code: int = 200) -> ORJSONResponse:
    if isinstance(content, BaseModel):
        content = content.model_dump(mode="json")
    elif isinstance(content, list):
        content = [c.model_dump(mode="json") if isinstance(c, BaseModel) else c for c in content]
    return ORJSONResponse(content, status_code=status_code)


class MalformedJSON(Exception):
    """The body is not JSON at all (400), as opposed to JSON that fails validation (422)."""


async def parse_body(request: Request, model: type[M]) -> M:
    """Validate a JSON body strictly; pydantic's JSON mode keeps `"60"` from being an int."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise InvalidInput("body: Content-Type must be application/json")
    body = await request.body()
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise MalformedJSON() from None
        raise


def parse_query(request: Request, model: type[M]) -> M:
    """The query string's parameters that `model` names; a bad value raises pydantic's
    ValidationError: 422 naming the parameter."""
    return model.model_validate({k: v for k, v in request.query_params.items()
                                 if k in model.model_fields})


def path_uuid(request: Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params[name])
    except ValueError:
        raise InvalidInput(f"{name}: must be a UUID") from None
