"""Initial schema: accounts, profiles, titles, configs, balances, sessions, grants.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SECONDS = sa.Numeric(12, 3)
TZ = sa.DateTime(timezone=True)


def _limit_rule(col: str) -> str:
    return f"{col} IS NULL OR ({col} BETWEEN 15 AND 480 AND {col} % 15 = 0)"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("pin_hash", sa.Text(), nullable=True),
        sa.Column("failed_pin_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("pin_locked_until", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_accounts_email_lower_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_accounts_email")),
    )
    op.create_table(
        "titles",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("is_educational", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_titles")),
    )
    op.create_table(
        "profiles",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("account_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("is_kids", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE",
                                name=op.f("fk_profiles_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profiles")),
    )
    op.create_index("ix_profiles_account_id", "profiles", ["account_id"])
    op.create_table(
        "viewing_time_configs",
        sa.Column("profile_id", UUID(as_uuid=True), nullable=False),
        sa.Column("weekday_limit_minutes", sa.Integer(), nullable=True),
        sa.Column("weekend_limit_minutes", sa.Integer(), nullable=True),
        sa.Column("reset_hour", sa.Integer(), nullable=False),
        sa.Column("educational_exempt", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("previous_reset_hour", sa.Integer(), nullable=True),
        sa.Column("previous_timezone", sa.String(64), nullable=True),
        sa.Column("effective_from", TZ, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.CheckConstraint(_limit_rule("weekday_limit_minutes"),
                           name=op.f("ck_viewing_time_configs_weekday_limit")),
        sa.CheckConstraint(_limit_rule("weekend_limit_minutes"),
                           name=op.f("ck_viewing_time_configs_weekend_limit")),
        sa.CheckConstraint("reset_hour BETWEEN 0 AND 23",
                           name=op.f("ck_viewing_time_configs_reset_hour")),
        sa.CheckConstraint("previous_reset_hour IS NULL OR previous_reset_hour BETWEEN 0 AND 23",
                           name=op.f("ck_viewing_time_configs_previous_reset_hour")),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="CASCADE",
                                name=op.f("fk_viewing_time_configs_profile_id_profiles")),
        sa.PrimaryKeyConstraint("profile_id", name=op.f("pk_viewing_time_configs")),
    )
    op.create_table(
        "daily_balances",
        sa.Column("profile_id", UUID(as_uuid=True), nullable=False),
        sa.Column("reset_date", sa.Date(), nullable=False),
        sa.Column("used_seconds", SECONDS, server_default=sa.text("0"), nullable=False),
        sa.Column("educational_seconds", SECONDS, server_default=sa.text("0"), nullable=False),
        sa.Column("granted_seconds", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_unlimited_override", sa.Boolean(), server_default=sa.text("false"),
                  nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="CASCADE",
                                name=op.f("fk_daily_balances_profile_id_profiles")),
        sa.PrimaryKeyConstraint("profile_id", "reset_date", name=op.f("pk_daily_balances")),
    )
    op.create_table(
        "viewing_sessions",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("profile_id", UUID(as_uuid=True), nullable=False),
        sa.Column("title_id", UUID(as_uuid=True), nullable=False),
        sa.Column("device_id", sa.String(100), nullable=False),
        sa.Column("device_type", sa.String(10), nullable=False),
        sa.Column("is_educational", sa.Boolean(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("last_heartbeat_at", TZ, nullable=False),
        sa.Column("counted_until", TZ, nullable=True),
        sa.Column("paused_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("total_seconds", SECONDS, server_default=sa.text("0"), nullable=False),
        sa.Column("last_charge_date", sa.Date(), nullable=True),
        sa.Column("last_charge_educational", sa.Boolean(), server_default=sa.text("false"),
                  nullable=False),
        sa.CheckConstraint("device_type IN ('tv', 'mobile', 'tablet', 'web')",
                           name=op.f("ck_viewing_sessions_device_type")),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="CASCADE",
                                name=op.f("fk_viewing_sessions_profile_id_profiles")),
        sa.ForeignKeyConstraint(["title_id"], ["titles.id"],
                                name=op.f("fk_viewing_sessions_title_id_titles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_viewing_sessions")),
    )
    op.create_index("uq_viewing_sessions_open_per_profile", "viewing_sessions", ["profile_id"],
                    unique=True, postgresql_where=sa.text("ended_at IS NULL"))
    op.create_index("ix_viewing_sessions_stale_open", "viewing_sessions", ["last_heartbeat_at"],
                    postgresql_where=sa.text("ended_at IS NULL"))
    op.create_index("ix_viewing_sessions_title_id", "viewing_sessions", ["title_id"])
    op.create_table(
        "time_grants",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("profile_id", UUID(as_uuid=True), nullable=False),
        sa.Column("granted_by", UUID(as_uuid=True), nullable=False),
        sa.Column("granted_minutes", sa.Integer(), nullable=True),
        sa.Column("is_remote", sa.Boolean(), nullable=False),
        sa.Column("reset_date", sa.Date(), nullable=False),
        sa.Column("granted_at", TZ, nullable=False),
        sa.CheckConstraint("granted_minutes IS NULL OR granted_minutes IN (15, 30, 60)",
                           name=op.f("ck_time_grants_granted_minutes")),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="CASCADE",
                                name=op.f("fk_time_grants_profile_id_profiles")),
        sa.ForeignKeyConstraint(["granted_by"], ["accounts.id"], ondelete="CASCADE",
                                name=op.f("fk_time_grants_granted_by_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_grants")),
    )
    op.create_index("ix_time_grants_profile_id_granted_at", "time_grants",
                    ["profile_id", sa.text("granted_at DESC")])


def downgrade() -> None:
    op.drop_table("time_grants")
    op.drop_table("viewing_sessions")
    op.drop_table("daily_balances")
    op.drop_table("viewing_time_configs")
    op.drop_table("profiles")
    op.drop_table("titles")
    op.drop_table("accounts")
