"""Schedules: a limit per weekday and allowed hours on the config, and the limits a change
replaced (so past days keep their own limits in history and the weekly report).

The config columns are nullable without defaults (no table rewrite). `limit_changes` holds, for
each change of a child's limits, the week of limits in force just before it (Monday first, NULL
for unlimited): the limit of a past day is the one the first change after that day's end
replaced, or the current config's when nothing changed since.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("viewing_time_configs",
                  sa.Column("day_limits", postgresql.JSONB(), nullable=True))
    op.add_column("viewing_time_configs",
                  sa.Column("allowed_hours", postgresql.JSONB(), nullable=True))
    op.add_column("viewing_time_configs",
                  sa.Column("schedule_updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "limit_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("profile_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("week_before", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.CheckConstraint("cardinality(week_before) = 7",
                           name=op.f("ck_limit_changes_seven_days")),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="CASCADE",
                                name=op.f("fk_limit_changes_profile_id_profiles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_changes")),
    )
    op.create_index("ix_limit_changes_profile_id_changed_at", "limit_changes",
                    ["profile_id", "changed_at"])


def downgrade() -> None:
    op.drop_index("ix_limit_changes_profile_id_changed_at", table_name="limit_changes")
    op.drop_table("limit_changes")
    op.drop_column("viewing_time_configs", "schedule_updated_at")
    op.drop_column("viewing_time_configs", "allowed_hours")
    op.drop_column("viewing_time_configs", "day_limits")
