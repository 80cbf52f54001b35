"""One stream per child profile only: adults may watch on several devices at once.

The unique index that kept one open session per profile now covers (profile_id, stream_key):
a child's sessions share one stream key and still collide, an adult's carry their own ids. Both indexes are
built and dropped CONCURRENTLY so heartbeats are not locked out while it runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CHILD_STREAM = "00000000-0000-0000-0000-000000000000"


def upgrade() -> None:
    op.add_column("viewing_sessions", sa.Column(
        "stream_key", UUID(as_uuid=True), nullable=False,
        server_default=sa.text(f"'{CHILD_STREAM}'::uuid")))
    op.execute("UPDATE viewing_sessions s SET stream_key = s.id FROM profiles p "
               "WHERE p.id = s.profile_id AND NOT p.is_kids")
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_viewing_sessions_one_stream "
            "ON viewing_sessions (profile_id, stream_key) WHERE ended_at IS NULL")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS uq_viewing_sessions_open_per_profile")


def downgrade() -> None:
    # The old index allows one open session per profile: end all but each adult's newest.
    op.execute("""
        UPDATE viewing_sessions s SET ended_at = s.last_heartbeat_at
        WHERE s.ended_at IS NULL AND s.stream_key = s.id AND EXISTS (
            SELECT 1 FROM viewing_sessions n
            WHERE n.profile_id = s.profile_id AND n.ended_at IS NULL
              AND (n.started_at, n.id) > (s.started_at, s.id))
    """)
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_viewing_sessions_open_per_profile "
            "ON viewing_sessions (profile_id) WHERE ended_at IS NULL")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS uq_viewing_sessions_one_stream")
    op.drop_column("viewing_sessions", "stream_key")
