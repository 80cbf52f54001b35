"""`python -m app COMMAND`: serve, demo, migrate, create-admin, seed-demo, sweep, loadtest."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from app.settings import Settings, SettingsError, load_settings


class CliError(Exception):
    """Printed as one line; exit status 2."""


def _settings(*, demo: bool) -> Settings:
    """Settings from the environment; with no DATABASE_URL, start the embedded server."""
    overrides: dict[str, Any] = {}
    if not os.environ.get("DATABASE_URL"):
        from app import embedded_db

        try:
            os.environ["DATABASE_URL"] = embedded_db.start("run")
        except embedded_db.NotInstalled as exc:
            raise CliError(str(exc)) from None
        demo = True
    if demo:
        overrides["demo_mode"] = True
        os.environ["DEMO_MODE"] = "true"  # for uvicorn worker processes
    return load_settings(**overrides)


def _with_container(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    from containers import Container, close_resources, open_resources

    async def run() -> Any:
        container = Container()
        container.settings.override(settings)
        await open_resources(container)
        try:
            return await work(container)
        finally:
            await close_resources(container)

    return asyncio.run(run())


def cmd_migrate(args: argparse.Namespace) -> None:
    from app.migrations import upgrade

    settings = _settings(demo=False)
    upgrade(settings.database_url or "")
    print("migrations applied (head)")


def _email(value: str) -> str:
    """The address as registration would store it; a CliError for anything that is not one."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise CliError(f"not a valid email address: {value!r} ({exc})") from None


def cmd_create_admin(args: argparse.Namespace) -> None:
    email = _email(args.email)
    settings = _settings(demo=False)
    password = os.environ.get("ADMIN_PASSWORD")
    if password is None and sys.stdin.isatty():
        password = getpass.getpass("Password for the admin (empty keeps an existing one): ") or None
    if password is not None and not 8 <= len(password.encode()) <= 72:
        raise CliError("the password must be 8 to 72 bytes long")

    async def work(c: Any) -> tuple[Any, bool]:
        return await (await c.account_service()).create_admin(email=email, password=password)

    try:
        account, created = _with_container(settings, work)
    except ValueError as exc:
        raise CliError(f"{exc} (set ADMIN_PASSWORD)") from None
    print(f"{'created' if created else 'promoted'} admin {account.email} ({account.id})")


def _seed(settings: Settings) -> dict[str, Any]:
    from app.services.demo import seed_demo

    async def work(c: Any) -> dict[str, Any]:
        return await seed_demo(accounts=await c.account_service(), account_repo=await c.accounts(),
                               profiles=await c.profile_service(), titles=await c.title_service(),
                               devices=await c.device_service(),
                               configs=await c.viewing_config_service())

    return _with_container(settings, work)


def _print_demo(seeded: dict[str, Any], host: str, port: int) -> None:
    from app.services.demo import DEMO_SCHEDULE

    base = f"http://{host}:{port}/api/v1"
    kids = [p for p in seeded["profiles"] if p.is_kids]
    title = next(iter(seeded["titles"].values()))
    paired_with = next(p.name for p in seeded["profiles"] if p.id == seeded["device"].profile_id)
    print(f"""
Demo account: {seeded['email']} / {seeded['password']}
Profiles: {', '.join(f'{p.name} ({p.id})' for p in seeded['profiles'])}
{DEMO_SCHEDULE[0]} is on a weekly schedule: an hour on school days, bedtime 19:30 on school nights
Try it:
  TOKEN=$(curl -s -X POST {base}/auth/login -H 'Content-Type: application/json' \\
    -d '{{"email": "{seeded['email']}", "password": "{seeded['password']}"}}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -X POST {base}/viewing-time/heartbeat -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/json' \\
    -d '{{"profile_id": "{kids[0].id}", "title_id": "{title}", \
          "device_id": "tv-1", "device_type": "tv"}}'
A player paired with {seeded['device'].name} ({seeded['device'].id}): its device token
reaches only {paired_with}'s player endpoints (a parent's endpoint answers 403):
  DEVICE_TOKEN={seeded['device_token']}
  curl -s -X POST {base}/viewing-time/heartbeat -H "Authorization: Bearer $DEVICE_TOKEN" \
    -H 'Content-Type: application/json' \
    -d '{{"profile_id": "{seeded['device'].profile_id}", "title_id": "{title}"}}'
""", flush=True)


def cmd_seed_demo(args: argparse.Namespace) -> None:
    seeded = _seed(_settings(demo=False))
    _print_demo(seeded, "127.0.0.1", 8000)


def cmd_sweep(args: argparse.Namespace) -> None:
    async def work(c: Any) -> tuple[int, int, int, Any]:
        return (await (await c.viewing_time()).sweep(),
                await (await c.time_request_service()).sweep(),
                await (await c.login_throttle()).purge_expired(),
                await (await c.retention()).purge())

    settings = _settings(demo=False)
    closed, expired, forgotten, purged = _with_container(settings, work)
    print(f"closed {closed} stale sessions")
    print(f"expired {expired} time requests")
    print(f"deleted {forgotten} sign-in failures past the throttle's window")
    if purged is None:
        print("retention off (RETENTION_DAYS=0): no history purged")
    else:
        print(f"purged history older than {settings.retention_days} days: {purged.sessions} "
              f"sessions, {purged.balances} daily balances, {purged.grants} grants")


def cmd_loadtest(args: argparse.Namespace) -> None:
    from app.loadtest import LoadTestError, run

    try:
        run(args)
    except LoadTestError as exc:
        raise CliError(str(exc)) from None


def _exit_normally_on_sigterm() -> None:
    # uvicorn re-raises SIGTERM after its graceful shutdown; as a normal exit it lets atexit
    # hooks run, so the embedded PostgreSQL is stopped instead of orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    from app.logs import logging_config
    from app.prometheus import prepare_multiprocess_dir

    _exit_normally_on_sigterm()
    prepare_multiprocess_dir(workers)  # several workers: /metrics aggregates them all
    options: dict[str, Any] = dict(
        host=host, port=port, workers=workers, factory=False,
        log_level=settings.log_level.lower(), server_header=False, access_log=False,
        log_config=logging_config(settings.log_level),  # JSON lines, app and uvicorn alike
        http="app.http_protocol:BoundedHttpToolsProtocol",  # 431 for heads over 32 KiB
        timeout_graceful_shutdown=20)
    if workers > 1:  # uvicorn's supervisor runs plain servers: no drain period (deploy/README.md)
        uvicorn.run("app.asgi:app", **options)
        return
    from app.shutdown import serve

    serve(uvicorn.Config("app.asgi:app", **options), drain_seconds=settings.shutdown_drain_seconds)


def cmd_serve(args: argparse.Namespace) -> None:
    _serve(_settings(demo=False), args.host, args.port, args.workers)


def cmd_demo(args: argparse.Namespace) -> None:
    from app.migrations import upgrade

    settings = _settings(demo=True)
    upgrade(settings.database_url or "")
    _print_demo(_seed(settings), args.host, args.port)
    _serve(settings, args.host, args.port, args.workers)


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("must be 1..65535")
    return port


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


class OneLineErrors(argparse.ArgumentParser):
    """A bad argument is one line on stderr (and --help still shows the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    p = OneLineErrors(prog="python -m app", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=OneLineErrors)
    for name, fn, help_ in [("serve", cmd_serve, "serve the API"),
                            ("demo", cmd_demo, "migrate, load the demo data and serve (make run)")]:
        s = sub.add_parser(name, help=help_, description=help_)
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=_port, default=8000)
        s.add_argument("--workers", type=_positive, default=1)
        s.set_defaults(fn=fn)
    sub.add_parser("migrate", help="apply migrations up to head on DATABASE_URL",
                   description="Apply Alembic migrations up to head.").set_defaults(fn=cmd_migrate)
    admin = sub.add_parser("create-admin", help="create or promote an admin account",
                           description="Password from ADMIN_PASSWORD or a prompt, "
                                       "never an argument.")
    admin.add_argument("email")
    admin.set_defaults(fn=cmd_create_admin)
    sub.add_parser("seed-demo", help="load the demo data set (idempotent)",
                   description="Load the demo data set (idempotent).",
                   ).set_defaults(fn=cmd_seed_demo)
    sub.add_parser("sweep", help="close stale sessions, expire due time requests, purge "
                                 "history past RETENTION_DAYS",
                   description="Close sessions idle longer than the stale gap; delete sign-in "
                               "failures past the throttle's window and viewing history older "
                               "than RETENTION_DAYS (default 400; 0 keeps all)."
                   ).set_defaults(fn=cmd_sweep)
    from app import loadtest

    load = sub.add_parser("loadtest", help="drive simulated viewers against a URL",
                          description=loadtest.__doc__,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    loadtest.add_arguments(load)
    load.set_defaults(fn=cmd_loadtest)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.fn(args)
    except (SettingsError, CliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
