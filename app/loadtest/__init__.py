"""`python -m app loadtest`: simulated viewers against any deployment, for sizing it.

Each viewer is a child profile watching one title: a first heartbeat opens its session, then it
continues that session every `--interval` seconds (or, with `--rate`, at whatever interval makes
the total rate R). Beats are scheduled (open loop), so a slow server shows up as latency and
schedule lag, not as a politely lower request rate. `--max` instead sends back to back on every
connection (closed loop, like wrk) to find the most one server answers.

Viewers only ever use child profiles named loadtest-N: without credentials it signs up an
account of its own; given an account (`--token`, `--email`) it creates the loadtest-N profiles it
lacks there and never spends a real child's time. `--cleanup` deletes those profiles (and with
them their sessions and balances) at the end. A profile whose session ends (409/404) opens a new
one on its next beat, as a player would.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import math
import os
import re
import secrets
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from app.loadtest.rawhttp import Connection, HttpError, Target

API = "/api/v1"
PROFILE_NAME = re.compile(r"loadtest-(\d+)")


class LoadTestError(Exception):
    """A setup problem (login, profiles, title), printed as one line."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", required=True, help="base URL of the service, e.g. http://host:8000")
    p.add_argument("--token", default=os.environ.get("LOADTEST_TOKEN"),
                   help="bearer token of a parent account (or LOADTEST_TOKEN); without it or "
                        "--email, a new account of its own is signed up")
    p.add_argument("--email", help="parent account to sign in as (instead of --token)")
    p.add_argument("--password", default=os.environ.get("LOADTEST_PASSWORD"),
                   help="its password (or LOADTEST_PASSWORD, or a prompt)")
    p.add_argument("--title", required=True, help="id of a catalog title the viewers watch")
    p.add_argument("--profiles", type=_positive_int, default=100, help="simulated viewers")
    p.add_argument("--interval", type=_positive_float, default=30.0,
                   help="seconds between one viewer's heartbeats (default 30)")
    p.add_argument("--rate", type=_positive_float,
                   help="total heartbeats per second instead (each viewer every profiles/rate s)")
    p.add_argument("--max", action="store_true",
                   help="closed loop: as fast as the server answers (like wrk)")
    p.add_argument("--duration", type=_positive_float, default=60.0, help="seconds (default 60)")
    p.add_argument("--connections", type=_positive_int, default=64,
                   help="concurrent connections (default 64)")
    p.add_argument("--cleanup", action="store_true",
                   help="delete the loadtest-N profiles (and their viewing data) at the end")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0 or math.isinf(number):
        raise argparse.ArgumentTypeError("must be a positive number")
    return number


@dataclass
class Viewer:
    profile_id: str
    device_id: str
    session_id: str | None = None
    next_beat: bytes | None = None  # the continuing beat, encoded once per session


class Stats:
    def __init__(self) -> None:
        self.latencies = array("d")
        self.lag = array("d")
        self.statuses: Counter[int] = Counter()
        self.failures: Counter[str] = Counter()
        self.enforcement: Counter[str] = Counter()

    def percentile(self, values: array, p: float) -> float:
        if not values:
            return 0.0
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


class LoadTest:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.target = Target(args.url)
        self.pool: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(args.connections):
            self.pool.put_nowait(Connection(self.target))
        self.stats = Stats()
        self.token = ""

    async def call(self, method: str, path: str, body: object | None = None,
                   token: str | None = None) -> tuple[int, object]:
        conn = await self.pool.get()
        try:
            status, raw = await conn.request(self.target.encode(
                method, path, token=token if token is not None else self.token, body=body))
        finally:
            self.pool.put_nowait(conn)
        try:
            return status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return status, raw[:200]

    async def setup(self) -> list[Viewer]:
        await self.sign_in()
        a = self.args
        status, body = await self.call("GET", f"{API}/titles/{a.title}")
        if status != 200:
            raise LoadTestError(f"title {a.title}: {status} {body}")
        return await self.own_profiles()

    async def sign_in(self) -> None:
        a = self.args
        if a.token:
            self.token = a.token
            return
        if a.email:
            password = a.password or (getpass.getpass(f"Password for {a.email}: ")
                                      if sys.stdin.isatty() else None)
            if not password:
                raise LoadTestError("--password (or LOADTEST_PASSWORD) is required with --email")
            email = a.email
        else:
            email, password = f"loadtest-{secrets.token_hex(6)}@example.com", secrets.token_hex(16)
            status, body = await self.call("POST", f"{API}/auth/register",
                                           {"email": email, "password": password}, token="")
            if status != 201:
                raise LoadTestError(f"signing up {email}: {status} {body}")
            self.say(f"signed up {email} (password {password})")
        status, body = await self.call("POST", f"{API}/auth/login",
                                       {"email": email, "password": password}, token="")
        if status != 200 or not isinstance(body, dict):
            raise LoadTestError(f"login failed: {status} {body}")
        self.token = body["access_token"]

    async def own_profiles(self) -> list[Viewer]:
        """The account's loadtest-N child profiles, creating the missing ones; no other profile
        is touched, so a real child's day is never spent."""
        wanted = self.args.profiles
        status, body = await self.call("GET", f"{API}/profiles")
        if status != 200 or not isinstance(body, list):
            raise LoadTestError(f"listing profiles: {status} {body}")
        ours = {int(m[1]): p["id"] for p in body
                if p["is_kids"] and (m := PROFILE_NAME.fullmatch(p["name"]))}
        missing = [n for n in range(wanted) if n not in ours]
        if missing:
            self.say(f"creating {len(missing)} child profiles (loadtest-N) …")
            created = await asyncio.gather(*[self.call(
                "POST", f"{API}/profiles",
                {"name": f"loadtest-{n}", "is_kids": True, "timezone": "UTC"}) for n in missing])
            for n, (status, body) in zip(missing, created, strict=True):
                if status != 201 or not isinstance(body, dict):
                    raise LoadTestError(f"creating a profile: {status} {body}")
                ours[n] = body["id"]
        return [Viewer(ours[n], f"loadtest-{n}") for n in range(wanted)]

    async def cleanup(self, viewers: list[Viewer]) -> None:
        deleted = await asyncio.gather(*[self.call("DELETE", f"{API}/profiles/{v.profile_id}")
                                         for v in viewers])
        failed = [status for status, _ in deleted if status != 204]
        self.say(f"cleanup: deleted {len(viewers) - len(failed)} loadtest profiles"
                 + (f", {len(failed)} failed ({sorted(set(failed))})" if failed else ""))

    def say(self, line: str) -> None:
        if not self.args.json:
            print(line, flush=True)

    def encode_beat(self, viewer: Viewer) -> bytes:
        if viewer.session_id is None:
            return self.target.encode("POST", f"{API}/viewing-time/heartbeat", token=self.token,
                                      body={"profile_id": viewer.profile_id,
                                            "title_id": self.args.title,
                                            "device_id": viewer.device_id, "device_type": "tv"})
        if viewer.next_beat is None:
            viewer.next_beat = self.target.encode(
                "POST", f"{API}/viewing-time/heartbeat", token=self.token,
                body={"profile_id": viewer.profile_id, "title_id": self.args.title,
                      "session_id": viewer.session_id, "device_id": viewer.device_id,
                      "device_type": "tv"})
        return viewer.next_beat

    async def beat(self, viewer: Viewer) -> None:
        raw = self.encode_beat(viewer)
        conn = await self.pool.get()
        started = time.perf_counter()
        try:
            status, body = await conn.request(raw)
        except HttpError as exc:
            self.stats.failures[str(exc).split(":")[0]] += 1
            return
        finally:
            self.pool.put_nowait(conn)
        s = self.stats
        s.latencies.append(time.perf_counter() - started)
        s.statuses[status] += 1
        if status == 200:
            answer = orjson.loads(body)
            s.enforcement[answer["enforcement"]] += 1
            if viewer.session_id != answer["session_id"]:
                viewer.session_id, viewer.next_beat = answer["session_id"], None
        elif status in (404, 409):  # the session ended or was swept: open a new one
            viewer.session_id, viewer.next_beat = None, None

    async def scheduled(self, viewer: Viewer, first: float, period: float, end: float) -> None:
        due = first
        while due < end:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.stats.lag.append(-delay)
            await self.beat(viewer)
            due += period

    async def closed(self, viewers: list[Viewer], end: float) -> None:
        while time.perf_counter() < end:
            for viewer in viewers:
                if time.perf_counter() >= end:
                    return
                await self.beat(viewer)

    async def run(self) -> None:
        a = self.args
        viewers = await self.setup()
        try:
            await self.drive(viewers)
        finally:
            if a.cleanup:
                await self.cleanup(viewers)

    async def drive(self, viewers: list[Viewer]) -> None:
        a = self.args
        start = time.perf_counter()
        end = start + a.duration
        if a.max:
            # A viewer has one beat in flight at a time (a player waits for its answer), so more
            # connections than viewers would only sit idle.
            workers = min(a.connections, len(viewers))
            mode = f"closed loop, {workers} connections"
            tasks = [self.closed(viewers[k::workers], end) for k in range(workers)]
        else:
            period = len(viewers) / a.rate if a.rate else a.interval
            mode = (f"a heartbeat every {period:g} s each ({len(viewers) / period:,.1f}/s), "
                    f"{a.connections} connections")
            tasks = [self.scheduled(v, start + i * period / len(viewers), period, end)
                     for i, v in enumerate(viewers)]
        self.say(f"loadtest: {len(viewers):,} viewers, {mode}, {a.duration:g} s -> {a.url}")
        await asyncio.gather(*tasks)
        seconds = time.perf_counter() - start
        if a.json:
            print(orjson.dumps(self.summary(seconds)).decode())
        else:
            self.report(seconds)

    def summary(self, seconds: float) -> dict[str, object]:
        s = self.stats
        answered = sum(s.statuses.values())
        return {"seconds": round(seconds, 3), "answered": answered,
                "rps": round(answered / seconds, 1), "ok": s.statuses.get(200, 0),
                **{f"p{p}_ms": round(s.percentile(s.latencies, p / 100) * 1000, 2)
                   for p in (50, 95, 99)},
                "max_ms": round(max(s.latencies, default=0) * 1000, 2),
                "errors": answered - s.statuses.get(200, 0) + sum(s.failures.values()),
                "lag_p99_ms": round(s.percentile(s.lag, 0.99) * 1000, 2),
                "enforcement": dict(s.enforcement)}

    def report(self, seconds: float) -> None:
        s = self.stats
        answered = sum(s.statuses.values())
        ok = s.statuses.get(200, 0)
        ms = [s.percentile(s.latencies, p) * 1000 for p in (0.5, 0.95, 0.99)]
        print(f"answered {answered:,} in {seconds:.1f} s: {answered / seconds:,.1f} req/s "
              f"({ok:,} ok)")
        print(f"latency ms: p50 {ms[0]:.1f}  p95 {ms[1]:.1f}  p99 {ms[2]:.1f}  max "
              f"{max(s.latencies, default=0) * 1000:.1f}")
        print("enforcement: " + (", ".join(f"{k} {v:,}" for k, v in s.enforcement.most_common())
                                 or "none"))
        errors = {f"HTTP {k}": v for k, v in s.statuses.items() if k != 200}
        errors.update(s.failures)
        print(f"errors: {sum(errors.values()):,}" + (" (" + ", ".join(
            f"{k} x{v:,}" for k, v in sorted(errors.items())) + ")" if errors else ""))
        if s.lag:
            late = sum(1 for x in s.lag if x > 0.1)
            print(f"schedule lag: p99 {s.percentile(s.lag, 0.99) * 1000:.1f} ms, {late:,} beats "
                  "more than 100 ms late" + (" (client or server saturated)" if late else ""))
        if self.args.max and ok:
            print(f"at a 30 s heartbeat interval this rate serves about "
                  f"{ok / seconds * 30:,.0f} watching children")


def run(args: argparse.Namespace) -> None:
    try:
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:
            pass
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(LoadTest(args).run())
    except ValueError as exc:
        raise LoadTestError(str(exc)) from None
    except HttpError as exc:
        raise LoadTestError(f"cannot reach {args.url}: {exc}") from None
