"""Profiles of the caller's account, and catalog titles."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import account_id
from app.responses import json_response, parse_body, path_uuid
from app.schemas import ProfileCreate, TitlesUpsert
from app.services.catalog import ProfileService, TitleService


@inject
async def list_profiles(request: Request,
                        profiles: ProfileService = Provide["profile_service"]) -> Response:
    return json_response(await profiles.list(account_id(request)))


@inject
async def create_profile(request: Request,
                         profiles: ProfileService = Provide["profile_service"]) -> Response:
    owner = account_id(request)
    body = await parse_body(request, ProfileCreate)
    return json_response(await profiles.create(owner, body), 201)


@inject
async def delete_profile(request: Request,
                         profiles: ProfileService = Provide["profile_service"]) -> Response:
    await profiles.delete(account_id(request), path_uuid(request, "profile_id"))
    return Response(status_code=204)


@inject
async def upsert_titles(request: Request,
                        titles: TitleService = Provide["title_service"]) -> Response:
    body = await parse_body(request, TitlesUpsert)
    return json_response(await titles.upsert(body))


@inject
async def get_title(request: Request, titles: TitleService = Provide["title_service"]) -> Response:
    return json_response(await titles.get(path_uuid(request, "title_id")))
