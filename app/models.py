"""SQLModel tables: the whole product's schema (created only by Alembic migrations)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field, SQLModel, col

# Named constraints so migrations can drop and alter them by name.
SQLModel.metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Seconds are NUMERIC(12,3): sub-second heartbeats sum exactly (no float drift, no truncation).
SECONDS = Numeric(12, 3)


def _tz() -> DateTime:
    return DateTime(timezone=True)


def _fk(target: str) -> ForeignKey:
    return ForeignKey(target, ondelete="CASCADE")


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower_case"),)

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    email: str = Field(sa_column=Column(String(320), nullable=False, unique=True))
    password_hash: str = Field(sa_column=Column(Text, nullable=False))
    is_admin: bool = Field(sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    pin_hash: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    failed_pin_attempts: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )
    pin_locked_until: datetime | None = Field(default=None, sa_column=Column(_tz(), nullable=True))
    created_at: datetime = Field(sa_column=Column(_tz(), nullable=False))


class Profile(SQLModel, table=True):
    __tablename__ = "profiles"
    __table_args__ = (Index("ix_profiles_account_id", "account_id"),)

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    account_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("accounts.id"), nullable=False)
    )
    name: str = Field(sa_column=Column(String(100), nullable=False))
    is_kids: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(sa_column=Column(_tz(), nullable=False))


class Device(SQLModel, table=True):
    """A player paired with one profile. Its token is a signed claim naming this row, valid
    while the row exists (no secret is stored: deleting the row revokes the token)."""

    __tablename__ = "devices"
    __table_args__ = (
        Index("ix_devices_profile_id", "profile_id"),
        CheckConstraint("device_type IN ('tv', 'mobile', 'tablet', 'web')", name="device_type"),
    )

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    profile_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("profiles.id"), nullable=False))
    account_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("accounts.id"), nullable=False))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    device_type: str = Field(sa_column=Column(String(10), nullable=False))
    created_at: datetime = Field(sa_column=Column(_tz(), nullable=False))
    last_seen_at: datetime | None = Field(default=None, sa_column=Column(_tz(), nullable=True))


class Title(SQLModel, table=True):
    """Browsed in (title, id) order; searched by word prefix through a full-text index
    ('simple': no stemming or stop words, titles are names)."""

    __tablename__ = "titles"
    __table_args__ = (
        Index("ix_titles_title_id", "title", "id"),
        Index("ix_titles_search", text("to_tsvector('simple'::regconfig, title)"),
              postgresql_using="gin"),
    )

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    is_educational: bool = Field(sa_column=Column(Boolean, nullable=False))


LIMIT_RULE = "{col} IS NULL OR ({col} BETWEEN 15 AND 480 AND {col} % 15 = 0)"


class ViewingTimeConfig(SQLModel, table=True):
    """One per child profile. A reset-hour/time-zone change keeps the previous values
    until `effective_from` (the next reset under them), so the current day never moves."""

    __tablename__ = "viewing_time_configs"
    __table_args__ = (
        CheckConstraint(LIMIT_RULE.format(col="weekday_limit_minutes"), name="weekday_limit"),
        CheckConstraint(LIMIT_RULE.format(col="weekend_limit_minutes"), name="weekend_limit"),
        CheckConstraint("reset_hour BETWEEN 0 AND 23", name="reset_hour"),
        CheckConstraint(
            "previous_reset_hour IS NULL OR previous_reset_hour BETWEEN 0 AND 23",
            name="previous_reset_hour",
        ),
    )

    profile_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("profiles.id"), primary_key=True)
    )
    weekday_limit_minutes: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True))
    weekend_limit_minutes: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True))
    reset_hour: int = Field(sa_column=Column(Integer, nullable=False))
    educational_exempt: bool = Field(sa_column=Column(Boolean, nullable=False))
    timezone: str = Field(sa_column=Column(String(64), nullable=False))
    previous_reset_hour: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    previous_timezone: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    effective_from: datetime | None = Field(default=None, sa_column=Column(_tz(), nullable=True))
    updated_at: datetime = Field(sa_column=Column(_tz(), nullable=False))
    # A parent's lock: set while locked; locked_until NULL means until unlocked.
    locked_at: datetime | None = Field(default=None, sa_column=Column(_tz(), nullable=True))
    locked_until: datetime | None = Field(default=None, sa_column=Column(_tz(), nullable=True))
    # A schedule, as the parent gave it: {"mon": 60, "sat": null} and {"mon": [{"start":
    # "07:00", "end": "19:30"}]}; NULL: no per-day limits, allowed all day.
    day_limits: dict[str, Any] | None = Field(default=None,
                                              sa_column=Column(JSONB, nullable=True))
    allowed_hours: dict[str, Any] | None = Field(default=None,
                                                 sa_column=Column(JSONB, nullable=True))
    schedule_updated_at: datetime | None = Field(default=None,
                                                 sa_column=Column(_tz(), nullable=True))


class DailyBalance(SQLModel, table=True):
    __tablename__ = "daily_balances"

    profile_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("profiles.id"), primary_key=True)
    )
    reset_date: date = Field(sa_column=Column(Date, primary_key=True))
    used_seconds: Decimal = Field(
        default=Decimal(0), sa_column=Column(SECONDS, nullable=False, server_default=text("0"))
    )
    educational_seconds: Decimal = Field(
        default=Decimal(0), sa_column=Column(SECONDS, nullable=False, server_default=text("0"))
    )
    granted_seconds: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )
    is_unlimited_override: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    updated_at: datetime = Field(sa_column=Column(_tz(), nullable=False))


CHILD_STREAM = "00000000-0000-0000-0000-000000000000"


class ViewingSession(SQLModel, table=True):
    """One title on one device. `counted_until` is the end of the paid window (NULL: none).

    Every heartbeat rewrites last_heartbeat_at, counted_until and total_seconds: none of them is
    indexed and the table keeps free space on its pages (fillfactor 80, migration 0003), so
    those updates are HOT and touch no index.
    """

    __tablename__ = "viewing_sessions"
    __table_args__ = (
        CheckConstraint("device_type IN ('tv', 'mobile', 'tablet', 'web')", name="device_type"),
        CheckConstraint("end_reason IS NULL OR end_reason = 'stopped_by_parent'",
                        name="end_reason"),
        # One stream per child profile, guaranteed by the database even under racing first
        # beats: a child's open sessions share one stream_key, an adult's each have their own.
        Index(
            "uq_viewing_sessions_one_stream",
            "profile_id",
            "stream_key",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_viewing_sessions_title_id", "title_id"),
    )

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    profile_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("profiles.id"), nullable=False)
    )
    title_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("titles.id"), nullable=False)
    )
    device_id: str = Field(sa_column=Column(String(100), nullable=False))
    device_type: str = Field(sa_column=Column(String(10), nullable=False))
    is_educational: bool = Field(sa_column=Column(Boolean, nullable=False))
    started_at: datetime = Field(sa_column=Column(_tz(), nullable=False))
    last_heartbeat_at: datetime = Field(sa_column=Column(_tz(), nullable=False))
    counted_until: datetime | None = Field(default=None, sa_column=Column(_tz(), nullable=True))
    paused_at: datetime | None = Field(default=None, sa_column=Column(_tz(), nullable=True))
    # CHILD_STREAM for a child's session (one stream per profile); an adult's session's own id
    # (adults watch on as many devices as they like).
    stream_key: uuid.UUID = Field(sa_column=Column(
        UUID(as_uuid=True), nullable=False, server_default=text(f"'{CHILD_STREAM}'::uuid")))
    ended_at: datetime | None = Field(default=None, sa_column=Column(_tz(), nullable=True))
    end_reason: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    total_seconds: Decimal = Field(
        default=Decimal(0), sa_column=Column(SECONDS, nullable=False, server_default=text("0"))
    )
    # Where the last charge went, so a refund returns to the same day and bucket.
    last_charge_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    last_charge_educational: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )


class TimeGrant(SQLModel, table=True):
    """Audit row for every grant of extra time."""

    __tablename__ = "time_grants"
    __table_args__ = (
        Index("ix_time_grants_profile_id_granted_at", "profile_id", text("granted_at DESC")),
        CheckConstraint(
            "granted_minutes IS NULL OR granted_minutes IN (15, 30, 60)", name="granted_minutes"
        ),
    )

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    profile_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("profiles.id"), nullable=False)
    )
    granted_by: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("accounts.id"), nullable=False)
    )
    granted_minutes: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    is_remote: bool = Field(sa_column=Column(Boolean, nullable=False))
    reset_date: date = Field(sa_column=Column(Date, nullable=False))
    granted_at: datetime = Field(sa_column=Column(_tz(), nullable=False))
    # the time request an approval answered (None: granted directly)
    request_id: uuid.UUID | None = Field(default=None, sa_column=Column(
        UUID(as_uuid=True), ForeignKey("time_requests.id", ondelete="SET NULL"), nullable=True))


class LimitChange(SQLModel, table=True):
    """The week of limits a change of a child's limits replaced (Monday first, NULL:
    unlimited), so each past day keeps the limit that was in force at its end."""

    __tablename__ = "limit_changes"
    __table_args__ = (
        Index("ix_limit_changes_profile_id_changed_at", "profile_id", "changed_at"),
        CheckConstraint("cardinality(week_before) = 7", name="seven_days"),
    )

    id: int | None = Field(default=None, sa_column=Column(
        BigInteger, Identity(always=True), primary_key=True))
    profile_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("profiles.id"), nullable=False)
    )
    changed_at: datetime = Field(sa_column=Column(_tz(), nullable=False))
    week_before: list[int | None] = Field(sa_column=Column(ARRAY(Integer), nullable=False))


# Created CONCURRENTLY by its own migration (it is the history range index on a big table).
SESSIONS_STARTED_INDEX = Index(
    "ix_viewing_sessions_profile_id_started_at",
    col(ViewingSession.profile_id),
    col(ViewingSession.started_at).desc(),
)


class TimeRequest(SQLModel, table=True):
    """A child's request for more time. `seq` orders requests made at the same instant; the
    partial unique index keeps one pending request per profile even under racing creates."""

    __tablename__ = "time_requests"
    __table_args__ = (
        Index("uq_time_requests_one_pending", "profile_id", unique=True,
              postgresql_where=text("status = 'pending'")),
        Index("ix_time_requests_profile_id_viewing_day", "profile_id", "viewing_day"),
        Index("ix_time_requests_pending_expires_at", "expires_at",
              postgresql_where=text("status = 'pending'")),
        CheckConstraint("minutes IN (15, 30, 60)", name="minutes"),
        CheckConstraint("granted_minutes IS NULL OR granted_minutes IN (15, 30, 60)",
                        name="granted_minutes"),
        CheckConstraint("status IN ('pending', 'approved', 'denied', 'expired')", name="status"),
    )

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    seq: int | None = Field(default=None, sa_column=Column(
        BigInteger, Identity(always=True), nullable=False))
    profile_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("profiles.id"), nullable=False))
    minutes: int = Field(sa_column=Column(Integer, nullable=False))
    message: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    status: str = Field(sa_column=Column(String(10), nullable=False))
    viewing_day: date = Field(sa_column=Column(Date, nullable=False))
    created_at: datetime = Field(sa_column=Column(_tz(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(_tz(), nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(_tz(), nullable=True))
    granted_minutes: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    grant_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), nullable=True))


class WebhookSubscription(SQLModel, table=True):
    """Where an account's events go. The secret signs deliveries, so it is kept (not hashed)."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_account_id", "account_id"),)

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    account_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("accounts.id"), nullable=False))
    url: str = Field(sa_column=Column(String(2048), nullable=False))
    events: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    secret: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(_tz(), nullable=False))
    last_delivery_at: datetime | None = Field(default=None,
                                              sa_column=Column(_tz(), nullable=True))
    last_status: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    failing_since: datetime | None = Field(default=None, sa_column=Column(_tz(), nullable=True))


class WebhookOutbox(SQLModel, table=True):
    """One event still to deliver to one subscription, written in the transaction (for a
    heartbeat: the statement) that caused it. A worker claims a due row by moving
    `next_attempt_at` ahead (a lease), so a replica that dies mid-delivery leaves it due again."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_next_attempt_at", "next_attempt_at"),)

    id: int | None = Field(default=None, sa_column=Column(
        BigInteger, Identity(always=True), primary_key=True))
    event_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    subscription_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), _fk("webhook_subscriptions.id"), nullable=False))
    event_type: str = Field(sa_column=Column(String(40), nullable=False))
    data: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(sa_column=Column(_tz(), nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(_tz(), nullable=False))
    attempts: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0")))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ThresholdMark(SQLModel, table=True):
    """A `viewing.*` threshold already crossed on a viewing day: the key makes it fire once
    across devices and replicas; a grant that lifts the remaining time above it deletes it."""

    __tablename__ = "threshold_marks"
    __table_args__ = (
        CheckConstraint("threshold IN ('warning_15', 'warning_5', 'blocked')", name="threshold"),
    )

    profile_id: uuid.UUID = Field(sa_column=Column(
        UUID(as_uuid=True), _fk("profiles.id"), primary_key=True))
    viewing_day: date = Field(sa_column=Column(Date, primary_key=True))
    threshold: str = Field(sa_column=Column(String(10), primary_key=True))
    marked_at: datetime = Field(sa_column=Column(_tz(), nullable=False))


class SignInFailure(SQLModel, table=True):
    """One failed (or still pending) sign-in attempt counted against one key, "account:<email>"
    or "address:<ip>": the sign-in throttle's counts, shared by every replica. Written only by
    the functions of migration 0011, which take the key's advisory lock first."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_at", "key", "at"),)

    id: int | None = Field(default=None, sa_column=Column(
        BigInteger, Identity(always=True), primary_key=True))
    key: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(sa_column=Column(_tz(), nullable=False))
