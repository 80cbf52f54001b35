"""Fuzzing every operation of the live /openapi.json with schemathesis (hypothesis underneath).

The app runs in-process with its real lifespan and a real database. For each operation,
schemathesis generates requests that fit the schema (positive) and requests that break it
(negative: wrong types, missing fields, bad UUIDs, over-long strings, ...); each is sent as
nobody, as the account that owns the data, or as another account, with random or real ids.

Every answer must: not be a 5xx (the database is up, so not even the documented 503: a 503 from
a fail-closed path would hide a bug), carry `X-Content-Type-Options`, be JSON with a `detail`
sentence when it is an error, match a status and schema the document declares, and refuse
negative data with a 4xx. Every 4xx must leave every table exactly as it was (digests of all
rows before and after), except that a 403 for a wrong PIN may move the account's failed-attempt
counter, as the PIN rules require, and a failed sign-in, password check or registration of a
taken email adds its row to the sign-in throttle's failures. Another account's real ids never get a 2xx.

`make test` runs FUZZ_EXAMPLES (default 15) examples per operation and mode, about a minute;
`make test-slow` runs 150.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from app.database import asyncpg_dsn
from app.routes import ENDPOINTS
from tests.support.api import API, PASSWORD
from tests.support.apps import unstarted_app
from tests.support.db import truncate_all

FAST = int(os.environ.get("FUZZ_EXAMPLES", "15"))
# FUZZ_STATS=1: print how often each operation answered each status, per caller (coverage).
STATS: Counter[tuple[str, str, int]] = Counter()
SLOW = 150
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# A wrong PIN must count toward the lockout (api.md): the one row change a 4xx may make.
PIN_COUNTERS = ("failed_pin_attempts", "pin_locked_until")
# A wrong password (401) or a taken email (409) must count toward the sign-in throttle
# (SECURITY.md): the one table those answers of these operations may change.
THROTTLED = {"/api/v1/auth/login": (401,), "/api/v1/auth/register": (409,),
             "/api/v1/parental-controls/pin/reset": (401,)}
ID_PARAMS = ("profile_id", "session_id", "title_id")


class Digests:
    """md5 of every row of every table, in one round trip, on a connection of its own."""

    def __init__(self, database_url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._conn: asyncpg.Connection = self._run(asyncpg.connect(asyncpg_dsn(database_url)))
        tables = self._run(self._conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version' ORDER BY tablename"))
        parts = [f"(SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                 f"FROM {r['tablename']} t) AS {r['tablename']}" for r in tables]
        account_columns = self._run(self._conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts' "
            "ORDER BY ordinal_position"))
        core = ", ".join(c["column_name"] for c in account_columns
                         if c["column_name"] not in PIN_COUNTERS)
        parts.append(f"(SELECT md5(coalesce(string_agg(row({core})::text, ',' ORDER BY id), ''))"
                     f" FROM accounts) AS accounts_without_pin_counters")
        self._sql = "SELECT " + ", ".join(parts)

    def _run(self, coroutine: Any) -> Any:
        return self._loop.run_until_complete(coroutine)

    def take(self) -> dict[str, str]:
        return dict(self._run(self._conn.fetchrow(self._sql)))

    def execute(self, sql: str, *args: object) -> None:
        self._run(self._conn.execute(sql, *args))

    def close(self) -> None:
        self._run(self._conn.close())
        self._loop.close()


@dataclass
class World:
    """Two accounts: the owner (an admin, with a child profile, a session, a PIN) and a
    stranger. Tokens, ids and the in-process client the fuzzer sends through."""

    client: asgi.ASGIClient
    digests: Digests
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    schema: Any = None

    def post(self, path: str, body: object, who: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        r = self.client.post(path, json=body, headers=headers)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def sign_up(self, who: str) -> None:
        email = f"{who}-{uuid.uuid4().hex[:8]}@example.com"
        self.post(f"{API}/auth/register", {"email": email, "password": PASSWORD})
        self.tokens[who] = self.post(f"{API}/auth/login",
                                     {"email": email, "password": PASSWORD})["access_token"]

    def ensure_owner_data(self) -> None:
        """(Re)create the owner's child and session: a fuzzed DELETE may have removed them."""
        kid = self.ids.get("profile_id")
        if kid is not None:
            r = self.client.get(f"{API}/viewing-time/balance/{kid}",
                                headers={"Authorization": f"Bearer {self.tokens['owner']}"})
            if r.status_code == 200:
                return
        kid = self.post(f"{API}/profiles", {"name": "Kid", "is_kids": True}, "owner")["id"]
        beat = self.post(f"{API}/viewing-time/heartbeat",
                         {"profile_id": kid, "title_id": self.ids["title_id"],
                          "device_id": "tv"}, "owner")
        self.ids.update(profile_id=kid, session_id=beat["session_id"])


@pytest.fixture(scope="module")
def state(database_url: str) -> Iterator[tuple[Digests, dict[str, str], dict[str, str]]]:
    """The accounts, tokens and ids every test of the module shares (tokens stay valid: same
    key, system clock)."""
    asyncio.run(truncate_all(database_url))
    digests = Digests(database_url)
    with unstarted_app(database_url) as app:
        with asgi.get_client(app) as client:  # runs the app's lifespan on schemathesis' loop
            w = World(client, digests)
            w.sign_up("owner")
            w.sign_up("stranger")
            owner_id = w.client.get(f"{API}/me", headers={
                "Authorization": f"Bearer {w.tokens['owner']}"}).json()["id"]
            digests.execute("UPDATE accounts SET is_admin = true WHERE id = $1",
                            uuid.UUID(owner_id))
            title = str(uuid.uuid4())
            w.client.put(f"{API}/admin/titles",
                         headers={"Authorization": f"Bearer {w.tokens['owner']}"},
                         json={"titles": [{"id": title, "title": "Cartoon",
                                           "is_educational": False}]})
            w.ids["title_id"] = title
            w.ensure_owner_data()
            w.post(f"{API}/parental-controls/pin", {"new_pin": "1234"}, "owner")
        asgi.shutdown_lifespans()
    yield digests, w.tokens, w.ids
    digests.close()
    if os.environ.get("FUZZ_STATS"):
        for (operation, who, status), count in sorted(STATS.items()):
            print(f"{count:5d}  {status}  {who:9s}  {operation}")


@pytest.fixture
def world(database_url: str, state) -> Iterator[World]:  # type: ignore[no-untyped-def]
    """A fresh app per test: schemathesis' pytest plugin ends every ASGI lifespan after each
    test, and a container's singletons do not survive a restart of their resources."""
    digests, tokens, ids = state
    with unstarted_app(database_url) as app:
        with asgi.get_client(app) as client:
            w = World(client, digests, tokens, ids)
            w.schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            yield w
        asgi.shutdown_lifespans()


# Not "/", "#", "?" or dot segments: those change which URL is requested, not the id in it.
BAD_IDS = st.one_of(
    # no lone surrogates: a URL cannot carry them (the client fails to encode, not the server)
    st.text(st.characters(exclude_characters="/#?", exclude_categories=("Cs",)), min_size=1,
            max_size=60).filter(
        lambda s: s.strip(".")),
    st.integers().map(str),
    st.uuids().map(lambda u: str(u)[:-1] + "g"),
    st.uuids().map(lambda u: str(u) + "0"),
    st.sampled_from(["null", "true", "%00", "0" * 5000, "{profile_id}"]),
)


# The history range is read from the query string, which the document does not describe.
HISTORY_QUERY = st.dictionaries(
    st.sampled_from(["from_date", "to_date", "unknown"]),
    st.one_of(st.dates(min_value=date(1, 1, 1)).map(str), st.text(max_size=30),
              st.integers().map(str), st.just("2026-02-30")),
    max_size=3)


def _with_bad_ids(case: schemathesis.Case, bad: str) -> schemathesis.Case:
    case.path_parameters = dict.fromkeys(case.path_parameters or {}, bad)
    return case


OPERATIONS = [pytest.param(e.method, e.path, id=f"{e.method} {e.path}") for e in ENDPOINTS
              if e.documented]


def _apply(case: schemathesis.Case, world: World, who: str, real_ids: bool,
           negative: bool) -> bool:
    """Set the caller and maybe real ids; True when the request names the owner's data. In
    negative mode the invalid part is left alone: a path id we broke, or the body."""
    case.headers = {k: v for k, v in (case.headers or {}).items()
                    if k.lower() != "authorization"}
    if who != "anonymous":
        case.headers["Authorization"] = f"Bearer {world.tokens[who]}"
    names_owner = False
    if real_ids and not (negative and not case.operation.body.items):
        for name in list(case.path_parameters or {}):
            if name in ID_PARAMS:
                case.path_parameters[name] = world.ids[name]
                names_owner |= name != "title_id"
    if real_ids and not negative and isinstance(case.body, dict) \
            and case.operation.path.endswith("/heartbeat"):
        for name in ID_PARAMS:
            if name in case.body:
                case.body[name] = world.ids[name]
        names_owner = "profile_id" in case.body
    return names_owner


def _header(response: Any, name: str) -> str | None:
    values = response.headers.get(name)  # schemathesis keeps every value of a header
    return values[0] if values else None


def _check(case: schemathesis.Case, response: Any, world: World, who: str, names_owner: bool,
           before: dict[str, str]) -> None:
    status = response.status_code
    label = f"{case.method} {case.formatted_path} as {who}: {status} {response.text[:300]}"
    assert status < 500, label
    assert _header(response, "x-content-type-options") == "nosniff", label
    if status >= 400:
        body = response.json()
        assert isinstance(body.get("detail"), str) and body["detail"], label
    if status == 401:
        assert _header(response, "www-authenticate") == "Bearer", label
    if who == "stranger" and names_owner:
        assert status >= 400, label
        for secret in (world.ids["profile_id"], world.ids["session_id"]):
            assert secret not in response.text, label
    if 400 <= status < 500:
        after = world.digests.take()
        if status == 403 and "/parental-controls/" in case.path:
            before = {**before, "accounts": after["accounts"]}
        if status in THROTTLED.get(case.path, ()):
            before = {**before, "sign_in_failures": after["sign_in_failures"]}
        changed = sorted(t for t in before if before[t] != after[t])
        assert not changed, f"{label}\nchanged: {changed}"


def _fuzz(world: World, method: str, path: str, mode: GenerationMode, examples: int) -> None:
    operation = world.schema[path][method]
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.NEGATIVE and not operation.body.items:
        if "{" not in path:
            pytest.skip("nothing in the request to make invalid")
        # schemathesis cannot negate `format: uuid` in a path: break the ids ourselves.
        strategy = st.builds(_with_bad_ids, operation.as_strategy(), BAD_IDS)
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy, who=st.sampled_from(["anonymous", "owner", "stranger"]),
           real_ids=st.booleans(), query=HISTORY_QUERY)
    def run(case: schemathesis.Case, who: str, real_ids: bool, query: dict[str, str]) -> None:
        world.ensure_owner_data()
        if path.endswith("/history"):
            case.query = query
        names_owner = _apply(case, world, who, real_ids, mode is GenerationMode.NEGATIVE)
        before = world.digests.take()
        response = case.call(session=world.client)
        STATS[(f"{method} {path} {mode.value}", who, response.status_code)] += 1
        _check(case, response, world, who, names_owner, before)
        # 413 refuses an over-long body (e.g. more than 10,000 titles) before it is parsed: a
        # rejection too, which schemathesis' list of rejecting statuses does not name.
        case.validate_response(response, checks=[
            c for c in checks if not (c is negative_data_rejection and response.status_code == 413)])

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
@pytest.mark.parametrize("method, path", OPERATIONS)
def test_fuzz_every_operation(world: World, method: str, path: str, mode: GenerationMode) -> None:
    _fuzz(world, method, path, mode, FAST)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
@pytest.mark.parametrize("method, path", OPERATIONS)
def test_fuzz_every_operation_longer(world: World, method: str, path: str,
                                     mode: GenerationMode) -> None:
    _fuzz(world, method, path, mode, SLOW)
