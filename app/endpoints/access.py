"""Who may call an endpoint, declared once per route in app/routes.py and checked here, before
the handler runs: a handler that forgets to ask cannot be reached by the wrong caller.

A device token is a player's: it reaches the player endpoints, a few shared ones and nothing
else (403). Which profile it may act for is the handler's check (`Caller.may_act_for`): the
route table cannot know where a request names its profile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import caller
from app.domain.devices import AccountTokenRefused, DeviceTokenRefused, DeviceTokenRequired
from app.services.accounts import AccountService

Handler = Callable[[Request], Awaitable[Response]]


class Access(StrEnum):
    anonymous = "anonymous"  # anyone; the Authorization header is not even read
    account = "account"  # the parent: an account token (401 without; 403 for a device token)
    admin = "admin"  # an admin's account token (403 for other accounts and for devices)
    shared = "shared"  # an account token or a device token
    player = "player"  # the same, but DEVICE_TOKENS_REQUIRED refuses account tokens
    device = "device"  # a device token only


@inject
async def _require_admin(request: Request,
                         accounts: AccountService = Provide["account_service"]) -> None:
    who = caller(request)  # 401 before anything is looked up
    if who.device is not None:
        raise DeviceTokenRefused()
    await accounts.require_admin(who.account_id)


def _check(access: Access, device_tokens_required: bool) -> Callable[[Request], None]:
    """The synchronous check of every level but admin."""
    def parent(request: Request) -> None:
        if caller(request).device is not None:
            raise DeviceTokenRefused()

    def any_caller(request: Request) -> None:
        caller(request)

    def device_only(request: Request) -> None:
        if caller(request).device is None:
            raise DeviceTokenRequired()

    def player(request: Request) -> None:
        if caller(request).device is None and device_tokens_required:
            raise AccountTokenRefused()

    if access is Access.player and device_tokens_required:
        return player
    return {Access.account: parent, Access.shared: any_caller, Access.player: any_caller,
            Access.device: device_only}[access]


def guarded(handler: Handler, access: Access, *, device_tokens_required: bool = False) -> Handler:
    """`handler` behind the check `access` asks for."""
    if access is Access.anonymous:
        return handler
    if access is Access.admin:
        async def admin_only(request: Request) -> Response:
            await _require_admin(request)
            return await handler(request)

        guard = admin_only
    else:
        check = _check(access, device_tokens_required)

        async def checked(request: Request) -> Response:
            check(request)
            return await handler(request)

        guard = checked
    guard.__name__ = guard.__qualname__ = handler.__name__
    return guard
