"""Time requests, webhook subscriptions, the webhook outbox and the threshold marks.

`time_grants.request_id` names the request an approval answered. All new tables are empty at
upgrade and the new grant column is nullable without a default: no table rewrite.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "time_requests",
        sa.Column("id", UUID, nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("profile_id", UUID, nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(200), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("viewing_day", sa.Date(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("expires_at", _tz(), nullable=False),
        sa.Column("decided_at", _tz(), nullable=True),
        sa.Column("granted_minutes", sa.Integer(), nullable=True),
        sa.Column("grant_id", UUID, nullable=True),
        sa.CheckConstraint("minutes IN (15, 30, 60)", name=op.f("ck_time_requests_minutes")),
        sa.CheckConstraint("granted_minutes IS NULL OR granted_minutes IN (15, 30, 60)",
                           name=op.f("ck_time_requests_granted_minutes")),
        sa.CheckConstraint("status IN ('pending', 'approved', 'denied', 'expired')",
                           name=op.f("ck_time_requests_status")),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="CASCADE",
                                name=op.f("fk_time_requests_profile_id_profiles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_requests")),
    )
    op.create_index("uq_time_requests_one_pending", "time_requests", ["profile_id"],
                    unique=True, postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ix_time_requests_profile_id_viewing_day", "time_requests",
                    ["profile_id", "viewing_day"])
    op.create_index("ix_time_requests_pending_expires_at", "time_requests", ["expires_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.add_column("time_grants", sa.Column("request_id", UUID, nullable=True))
    op.create_foreign_key(op.f("fk_time_grants_request_id_time_requests"), "time_grants",
                          "time_requests", ["request_id"], ["id"], ondelete="SET NULL")

    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", UUID, nullable=False),
        sa.Column("account_id", UUID, nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("last_delivery_at", _tz(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("failing_since", _tz(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE",
                                name=op.f("fk_webhook_subscriptions_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_index("ix_webhook_subscriptions_account_id", "webhook_subscriptions",
                    ["account_id"])
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("event_id", UUID, nullable=False),
        sa.Column("subscription_id", UUID, nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("next_attempt_at", _tz(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["subscription_id"], ["webhook_subscriptions.id"],
                                ondelete="CASCADE",
                                name=op.f("fk_webhook_outbox_subscription_id_webhook_subscriptions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_outbox")),
    )
    op.create_index("ix_webhook_outbox_next_attempt_at", "webhook_outbox", ["next_attempt_at"])
    op.create_table(
        "threshold_marks",
        sa.Column("profile_id", UUID, nullable=False),
        sa.Column("viewing_day", sa.Date(), nullable=False),
        sa.Column("threshold", sa.String(10), nullable=False),
        sa.Column("marked_at", _tz(), nullable=False),
        sa.CheckConstraint("threshold IN ('warning_15', 'warning_5', 'blocked')",
                           name=op.f("ck_threshold_marks_threshold")),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="CASCADE",
                                name=op.f("fk_threshold_marks_profile_id_profiles")),
        sa.PrimaryKeyConstraint("profile_id", "viewing_day", "threshold",
                                name=op.f("pk_threshold_marks")),
    )


def downgrade() -> None:
    op.drop_table("threshold_marks")
    op.drop_index("ix_webhook_outbox_next_attempt_at", table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
    op.drop_index("ix_webhook_subscriptions_account_id", table_name="webhook_subscriptions")
    op.drop_table("webhook_subscriptions")
    op.drop_constraint(op.f("fk_time_grants_request_id_time_requests"), "time_grants",
                       type_="foreignkey")
    op.drop_column("time_grants", "request_id")
    op.drop_index("ix_time_requests_pending_expires_at", table_name="time_requests")
    op.drop_index("ix_time_requests_profile_id_viewing_day", table_name="time_requests")
    op.drop_index("uq_time_requests_one_pending", table_name="time_requests")
    op.drop_table("time_requests")
