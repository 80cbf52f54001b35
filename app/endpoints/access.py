"""Who may call an endpoint, declared once per route in app/routes.py and checked here, before
the handler runs: a handler that forgets to ask cannot be reached by the wrong caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import account_id
from app.services.accounts import AccountService

Handler = Callable[[Request], Awaitable[Response]]


class Access(StrEnum):
    anonymous = "anonymous"  # anyone; the Authorization header is not even read
    account = "account"  # a valid account token (401 without)
    admin = "admin"  # an admin's token (403 for other accounts)


@inject
async def _require_admin(request: Request,
                         accounts: AccountService = Provide["account_service"]) -> None:
    caller = account_id(request)  # 401 before anything is looked up
    await accounts.require_admin(caller)


def guarded(handler: Handler, access: Access) -> Handler:
    """`handler` behind the check `access` asks for."""
    if access is Access.anonymous:
        return handler

    async def signed_in(request: Request) -> Response:
        account_id(request)
        return await handler(request)

    async def admin_only(request: Request) -> Response:
        await _require_admin(request)
        return await handler(request)

    check = signed_in if access is Access.account else admin_only
    check.__name__ = check.__qualname__ = handler.__name__
    return check
