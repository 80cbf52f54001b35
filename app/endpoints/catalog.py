"""Profiles of the caller's account, and catalog titles."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import account_id
from app.domain.catalog import Title
from app.responses import json_response, parse_body, path_uuid, query_params
from app.schemas import (
    ProfileCreate,
    ProfileOut,
    TitleOut,
    TitlePageOut,
    TitlesQuery,
    TitlesUpsert,
    UpsertedOut,
)
from app.services.catalog import ProfileService, TitleService


@inject
async def list_profiles(request: Request,
                        profiles: ProfileService = Provide["profile_service"]) -> Response:
    return json_response([ProfileOut.model_validate(p)
                          for p in await profiles.list(account_id(request))])


@inject
async def create_profile(request: Request,
                         profiles: ProfileService = Provide["profile_service"]) -> Response:
    owner = account_id(request)
    body = await parse_body(request, ProfileCreate)
    profile = await profiles.create(owner, name=body.name, is_kids=body.is_kids,
                                    timezone=body.timezone)
    return json_response(ProfileOut.model_validate(profile), 201)


@inject
async def delete_profile(request: Request,
                         profiles: ProfileService = Provide["profile_service"]) -> Response:
    await profiles.delete(account_id(request), path_uuid(request, "profile_id"))
    return Response(status_code=204)


@inject
async def upsert_titles(request: Request,
                        titles: TitleService = Provide["title_service"]) -> Response:
    body = await parse_body(request, TitlesUpsert)
    upserted = await titles.upsert([Title(t.id, t.title, t.is_educational) for t in body.titles])
    return json_response(UpsertedOut(upserted=upserted))


@inject
async def get_title(request: Request, titles: TitleService = Provide["title_service"]) -> Response:
    return json_response(TitleOut.model_validate(await titles.get(path_uuid(request, "title_id"))))


@inject
async def browse_titles(request: Request,
                        titles: TitleService = Provide["title_service"]) -> Response:
    query = query_params(request, TitlesQuery)
    page = await titles.browse(query=query.query, after=query.after, limit=query.limit)
    return json_response(TitlePageOut(items=[TitleOut.model_validate(t) for t in page.titles],
                                      next_cursor=page.next_cursor))
