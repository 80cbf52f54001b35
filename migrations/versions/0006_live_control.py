"""Live control for parents: a profile's lock, and why a session ended (stopped by a parent).

Both are new nullable columns without defaults: added without rewriting either table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("viewing_time_configs",
                  sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("viewing_time_configs",
                  sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("viewing_sessions", sa.Column("end_reason", sa.String(20), nullable=True))
    op.create_check_constraint(op.f("ck_viewing_sessions_end_reason"), "viewing_sessions",
                               "end_reason IS NULL OR end_reason = 'stopped_by_parent'")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_viewing_sessions_end_reason"), "viewing_sessions", type_="check")
    op.drop_column("viewing_sessions", "end_reason")
    op.drop_column("viewing_time_configs", "locked_until")
    op.drop_column("viewing_time_configs", "locked_at")
