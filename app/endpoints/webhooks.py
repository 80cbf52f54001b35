"""A parent's webhook subscriptions: subscribe, list, unsubscribe."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import account_id
from app.responses import json_response, parse_body, path_uuid
from app.schemas import WebhookCreate, WebhookCreatedOut, WebhookOut
from app.services.webhooks import WebhookService


@inject
async def create_webhook(request: Request,
                         webhooks: WebhookService = Provide["webhook_service"]) -> Response:
    body = await parse_body(request, WebhookCreate)
    made = await webhooks.subscribe(account_id(request), url=body.url, events=body.events)
    s = made.subscription
    return json_response(WebhookCreatedOut(id=s.id, url=s.url, events=s.events,
                                           secret=made.secret, created_at=s.created_at), 201)


@inject
async def list_webhooks(request: Request,
                        webhooks: WebhookService = Provide["webhook_service"]) -> Response:
    listed = await webhooks.list(account_id(request))
    return json_response([WebhookOut.model_validate(s) for s in listed])


@inject
async def delete_webhook(request: Request,
                         webhooks: WebhookService = Provide["webhook_service"]) -> Response:
    await webhooks.delete(account_id(request), path_uuid(request, "webhook_id"))
    return Response(status_code=204)
