"""Indexes for browsing and searching the catalog (GET /api/v1/titles).

`(title, id)` serves the keyset pages in title order; the GIN full-text index serves word-prefix
search. Both are built CONCURRENTLY: a big catalog keeps taking upserts while they build.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_titles_title_id "
                   "ON titles (title, id)")
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_titles_search ON titles "
                   "USING gin (to_tsvector('simple'::regconfig, title))")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_titles_search")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_titles_title_id")
