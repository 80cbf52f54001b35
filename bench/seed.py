"""Benchmark data written straight into the benchmark database (no HTTP, no bcrypt).

Viewers: accounts with child profiles (limits set, so the limit check runs), each profile with
one open session, and a bearer token per account minted with the service's JWT_SECRET. History:
a million ended sessions for the weekly-report and history scenarios, made by the server itself
(`generate_series`), so seeding them takes seconds, not minutes.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import jwt
from app.domain.schedules import WEEKDAYS

# Any valid bcrypt string: the benchmark never logs in with a password.
UNUSABLE_PASSWORD = "$2b$04$" + "x" * 53
LIMIT_MINUTES = 480  # the highest limit: a long benchmark never runs a profile out of time
DEVICE_TYPES = ("tv", "mobile", "tablet", "web")
# `--schedules`: a limit per weekday and school-night hours, 07:00 to a 20:30 bedtime (weekends
# to 22:00). The bench runs at any hour of the UTC day, so each profile lives in the whole-hour
# zone where it is now about noon: every beat is inside a window that ends hours later, and the
# statement's pay is capped at that bedtime.
SCHEDULE_LIMITS = {day: LIMIT_MINUTES - 15 * (i % 2) for i, day in enumerate(WEEKDAYS)}
SCHEDULE_HOURS = {day: [{"start": "07:00", "end": "20:30" if i < 5 else "22:00"}]
                  for i, day in enumerate(WEEKDAYS)}


def noon_zone(now: datetime) -> str:
    """The Etc/GMT zone whose local time is now between 11:00 and 12:59 (POSIX signs: GMT-2 is
    two hours ahead of UTC)."""
    ahead = 12 - now.hour  # from -11 to +12: every one of them exists
    return "UTC" if ahead == 0 else f"Etc/GMT{-ahead:+d}"


@dataclass(frozen=True)
class Viewer:
    token: str
    account_id: uuid.UUID
    profile_id: uuid.UUID
    title_id: uuid.UUID
    session_id: uuid.UUID


def mint_token(account_id: uuid.UUID, *, secret: str, lifetime_seconds: int = 86_400) -> str:
    return jwt.encode({"sub": str(account_id), "exp": int(time.time()) + lifetime_seconds},
                      secret, algorithm="HS256")


async def seed_titles(conn: asyncpg.Connection, count: int = 50) -> list[uuid.UUID]:
    rows = [(uuid.uuid4(), f"Bench title {i}", i % 5 == 0) for i in range(count)]
    await conn.copy_records_to_table("titles", records=rows,
                                     columns=["id", "title", "is_educational"])
    return [r[0] for r in rows if not r[2]]  # viewers watch non-educational titles


async def seed_accounts(conn: asyncpg.Connection, count: int, *, prefix: str,
                        admin: bool = False) -> list[uuid.UUID]:
    now = datetime.now(UTC)
    rows = [(uuid.uuid4(), f"{prefix}-{i}@bench.example", UNUSABLE_PASSWORD, admin, now)
            for i in range(count)]
    await conn.copy_records_to_table(
        "accounts", records=rows, columns=["id", "email", "password_hash", "is_admin", "created_at"])
    return [r[0] for r in rows]


async def seed_children(conn: asyncpg.Connection, accounts: list[uuid.UUID],
                        per_account: int, name: str = "Kid {}", *,
                        schedules: bool = False) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(account, profile) pairs; each child gets a viewing-time config with limits, and with
    `schedules` a weekly schedule too."""
    now = datetime.now(UTC)
    pairs = [(a, uuid.uuid4()) for a in accounts for _ in range(per_account)]
    await conn.copy_records_to_table(
        "profiles", records=[(p, a, name.format(i), True, now) for i, (a, p) in enumerate(pairs)],
        columns=["id", "account_id", "name", "is_kids", "created_at"])
    await conn.copy_records_to_table(
        "viewing_time_configs",
        records=[(p, LIMIT_MINUTES, LIMIT_MINUTES, 6, True, "UTC", now) for _, p in pairs],
        columns=["profile_id", "weekday_limit_minutes", "weekend_limit_minutes", "reset_hour",
                 "educational_exempt", "timezone", "updated_at"])
    if schedules:
        await conn.execute(
            """UPDATE viewing_time_configs SET day_limits = $2::jsonb, allowed_hours = $3::jsonb,
                      timezone = $4, schedule_updated_at = now()
               WHERE profile_id = ANY($1::uuid[])""",
            [p for _, p in pairs], json.dumps(SCHEDULE_LIMITS), json.dumps(SCHEDULE_HOURS),
            noon_zone(now))
    return pairs


def mint_device_token(account_id: uuid.UUID, profile_id: uuid.UUID, device_id: uuid.UUID, *,
                      secret: str) -> str:
    """The claims app/services/tokens.py issues for a paired device (no expiry)."""
    return jwt.encode({"sub": str(account_id), "typ": "device", "dev": str(device_id),
                       "prf": str(profile_id)}, secret, algorithm="HS256")


async def seed_devices(conn: asyncpg.Connection, pairs: list[tuple[uuid.UUID, uuid.UUID]], *,
                       secret: str) -> dict[uuid.UUID, str]:
    """One paired player per child profile: its device token, by profile."""
    now = datetime.now(UTC)
    devices = [(uuid.uuid4(), p, a) for a, p in pairs]
    await conn.copy_records_to_table(
        "devices", records=[(d, p, a, f"Bench TV {i}", "tv", now)
                            for i, (d, p, a) in enumerate(devices)],
        columns=["id", "profile_id", "account_id", "name", "device_type", "created_at"])
    return {p: mint_device_token(a, p, d, secret=secret) for d, p, a in devices}


async def seed_viewers(conn: asyncpg.Connection, *, profiles: int, per_account: int,
                       secret: str, device_tokens: bool = False,
                       schedules: bool = False) -> list[Viewer]:
    """`profiles` child profiles, each already inside an open session of a non-educational title;
    each beats with its account's token, or (`device_tokens`) with its own paired player's;
    with `schedules` each is on a weekly schedule with a bedtime hours away."""
    titles = await seed_titles(conn)
    accounts = await seed_accounts(conn, -(-profiles // per_account), prefix="viewer")
    pairs = (await seed_children(conn, accounts, per_account, schedules=schedules))[:profiles]
    if device_tokens:
        by_profile = await seed_devices(conn, pairs, secret=secret)
        tokens = [by_profile[p] for _, p in pairs]
    else:
        by_account = {a: mint_token(a, secret=secret) for a in accounts}
        tokens = [by_account[a] for a, _ in pairs]
    viewers = [Viewer(tokens[i], a, p, titles[i % len(titles)], uuid.uuid4())
               for i, (a, p) in enumerate(pairs)]
    now = datetime.now(UTC)
    await conn.copy_records_to_table(
        "viewing_sessions",
        records=[(v.session_id, v.profile_id, v.title_id, f"bench-{i}", DEVICE_TYPES[i % 4], False,
                  now - timedelta(minutes=10), now, now + timedelta(seconds=30))
                 for i, v in enumerate(viewers)],
        columns=["id", "profile_id", "title_id", "device_id", "device_type", "is_educational",
                 "started_at", "last_heartbeat_at", "counted_until"])
    return viewers


async def refresh_sessions(conn: asyncpg.Connection, viewers: list[Viewer]) -> None:
    """Every round starts alike: each seeded session open, just beaten, one interval paid."""
    await conn.execute(
        """UPDATE viewing_sessions SET ended_at = NULL, paused_at = NULL, last_heartbeat_at = now(),
                  counted_until = now() + interval '30 seconds'
           WHERE id = ANY($1::uuid[])""", [v.session_id for v in viewers])


def write_wrk_data(viewers: list[Viewer], path: Path) -> Path:
    """One line per viewer for the wrk scripts: token profile title session."""
    path.write_text("".join(f"{v.token} {v.profile_id} {v.title_id} {v.session_id}\n"
                            for v in viewers))
    return path


async def seed_family(conn: asyncpg.Connection, *, children: int, secret: str,
                      prefix: str = "family", name: str = "Kid {}") -> tuple[str, list[uuid.UUID]]:
    """One account with `children` child profiles: (token, profile ids)."""
    (account,) = await seed_accounts(conn, 1, prefix=prefix)
    kids = [p for _, p in await seed_children(conn, [account], children, name)]
    return mint_token(account, secret=secret), kids


async def seed_admin(conn: asyncpg.Connection, *, secret: str) -> str:
    (admin,) = await seed_accounts(conn, 1, prefix="admin", admin=True)
    return mint_token(admin, secret=secret)


@dataclass(frozen=True)
class Family:
    token: str
    children: list[uuid.UUID]


async def seed_history(conn: asyncpg.Connection, *, secret: str, children: int = 10,
                       sessions_per_day: int = 20, days: int = 90,
                       other_sessions: int = 1_000_000,
                       other_profiles: list[uuid.UUID]) -> Family:
    """One family of `children` with `sessions_per_day` ended sessions on each of the last
    `days` days, among `other_sessions` ended sessions of other profiles."""
    token, kids = await seed_family(conn, children=children, secret=secret, prefix="reports")
    titles = await conn.fetch("SELECT id FROM titles ORDER BY id")
    title_ids = [r["id"] for r in titles]
    # The family's sessions: 20 a day from yesterday back, 30 minutes each, spread over the day.
    await conn.execute(
        """
        INSERT INTO viewing_sessions (id, profile_id, title_id, device_id, device_type,
            is_educational, started_at, last_heartbeat_at, counted_until, ended_at,
            total_seconds, last_charge_date)
        SELECT gen_random_uuid(), kid, ($2::uuid[])[1 + (n % array_length($2::uuid[], 1))],
               'tv-1', 'tv', false, t, t + interval '30 min', t + interval '30 min',
               t + interval '30 min', 1800, t::date
        FROM unnest($1::uuid[]) AS kid,
             generate_series(0, $3::int * $4::int - 1) AS n,
             LATERAL (SELECT date_trunc('day', now()) - (1 + n / $4::int) * interval '1 day'
                             + interval '6 hours' + (n % $4::int) * interval '40 min' AS t) AS at
        """, kids, title_ids, days, sessions_per_day)
    # Everybody else's sessions: a million rows spread over the other profiles and 120 days.
    await conn.execute(
        """
        INSERT INTO viewing_sessions (id, profile_id, title_id, device_id, device_type,
            is_educational, started_at, last_heartbeat_at, counted_until, ended_at,
            total_seconds, last_charge_date)
        SELECT gen_random_uuid(), ($1::uuid[])[1 + (n % array_length($1::uuid[], 1))],
               ($2::uuid[])[1 + (n % array_length($2::uuid[], 1))], 'tv-1', 'tv', false,
               t, t + interval '20 min', t + interval '20 min', t + interval '20 min', 1200,
               t::date
        FROM generate_series(1, $3::int) AS n,
             LATERAL (SELECT now() - interval '1 day' - (n % 172800) * interval '1 minute'
                             AS t) AS at
        """, other_profiles, title_ids, other_sessions)
    await conn.execute("ANALYZE viewing_sessions")
    return Family(token, kids)
