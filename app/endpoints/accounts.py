"""Registration, login and /me."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.auth import account_id, client_address
from app.responses import json_response, parse_body
from app.schemas import AccountOut, Credentials, LoginRequest, MeOut, TokenOut
from app.services.accounts import AccountService


@inject
async def register(request: Request,
                   accounts: AccountService = Provide["account_service"]) -> Response:
    body = await parse_body(request, Credentials)
    account = await accounts.register(email=body.email, password=body.password,
                                      client_address=client_address(request))
    return json_response(AccountOut.model_validate(account), 201)


@inject
async def login(request: Request,
                accounts: AccountService = Provide["account_service"]) -> Response:
    body = await parse_body(request, LoginRequest)
    token = await accounts.login(email=body.email, password=body.password,
                                 client_address=client_address(request))
    return json_response(TokenOut.model_validate(token))


@inject
async def me(request: Request, accounts: AccountService = Provide["account_service"]) -> Response:
    return json_response(MeOut.model_validate(await accounts.me(account_id(request))))
