"""Make heartbeat updates of viewing_sessions HOT: drop the index on last_heartbeat_at, leave
free space on each page.

Every continuing heartbeat rewrites last_heartbeat_at; while an index covered it, no update
could be heap-only, so each beat wrote all of the table's indexes. The stale-session sweep now
reads open sessions through the partial one-open-session-per-profile index instead.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_viewing_sessions_stale_open")
    # Applies to pages written from now on (a VACUUM FULL would rewrite the old ones).
    op.execute("ALTER TABLE viewing_sessions SET (fillfactor = 80)")


def downgrade() -> None:
    op.execute("ALTER TABLE viewing_sessions RESET (fillfactor)")
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_viewing_sessions_stale_open "
            "ON viewing_sessions (last_heartbeat_at) WHERE ended_at IS NULL"
        )
