"""History range index on viewing_sessions (profile_id, started_at DESC), built CONCURRENTLY.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEX = "ix_viewing_sessions_profile_id_started_at"


def upgrade() -> None:
    # CONCURRENTLY cannot run inside a transaction; it keeps writers (heartbeats) unblocked.
    with op.get_context().autocommit_block():
        op.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} "
            "ON viewing_sessions (profile_id, started_at DESC)"
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
