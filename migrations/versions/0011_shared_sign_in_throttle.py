"""sign_in_failures: the sign-in throttle's counts, shared by every replica.

One row per counted failure and key ("account:<email>" or "address:<ip>"); a pending attempt
is a row from the moment it starts. Two functions do all the writing so that each check is one
statement (one round trip, its own transaction) and every change to a key's rows happens under
that key's advisory lock:

- sign_in_attempt(keys, at, window_seconds, max_failures) locks the keys (in lock-id order, so
  two checks sharing keys cannot deadlock), drops the keys' rows older than the window, and
  either refuses (returns the max-th newest failure's instant of the key that waits longest)
  or inserts one row per key (returns their ids). Each statement in a plpgsql function takes a
  fresh snapshot, so the count runs after the lock is held and sees every failure committed by
  whoever held it before: checks on any number of replicas serialise per key.
- sign_in_take_back(keys, ids, clear_key) deletes an attempt's rows, and all rows of
  `clear_key` (the account's, after a right password), under the same locks.

The time is a parameter (the service's clock), never now(). The table starts empty: old
failures counted in process memory are not carried over.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The first key of the two-key advisory lock form ("sign" in ASCII): its own lock space, apart
# from the single-bigint locks the retention purge takes.
LOCK_SPACE = 0x7369676E

LOCK = f"""
CREATE FUNCTION sign_in_lock(p_keys text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lock_id integer;
BEGIN
    FOR lock_id IN SELECT DISTINCT hashtext(k) FROM unnest(p_keys) AS k ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock({LOCK_SPACE}, lock_id);
    END LOOP;
END
$$
"""

ATTEMPT = """
CREATE FUNCTION sign_in_attempt(
    p_keys text[], p_at timestamptz, p_window_seconds double precision, p_max integer,
    OUT blocked_since timestamptz, OUT ids bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    since timestamptz := p_at - make_interval(secs => p_window_seconds);
    k text;
    nth timestamptz;
BEGIN
    PERFORM sign_in_lock(p_keys);
    FOREACH k IN ARRAY p_keys LOOP
        -- SKIP LOCKED: rows the periodic sweep is deleting are gone already for this count.
        DELETE FROM sign_in_failures WHERE id IN (
            SELECT f.id FROM sign_in_failures f
            WHERE f.key = k AND f.at <= since FOR UPDATE SKIP LOCKED);
        SELECT f.at INTO nth FROM sign_in_failures f
        WHERE f.key = k AND f.at > since
        ORDER BY f.at DESC OFFSET p_max - 1 LIMIT 1;
        IF nth IS NOT NULL AND (blocked_since IS NULL OR nth > blocked_since) THEN
            blocked_since := nth;
        END IF;
    END LOOP;
    IF blocked_since IS NOT NULL THEN
        RETURN;  -- refused: nothing is counted
    END IF;
    WITH new AS (
        INSERT INTO sign_in_failures (key, at) SELECT k2, p_at FROM unnest(p_keys) AS k2
        RETURNING id)
    SELECT array_agg(new.id) INTO ids FROM new;
END
$$
"""

TAKE_BACK = """
CREATE FUNCTION sign_in_take_back(p_keys text[], p_ids bigint[], p_clear_key text)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    deleted integer;
BEGIN
    PERFORM sign_in_lock(p_keys);
    DELETE FROM sign_in_failures WHERE id = ANY(p_ids) OR key = p_clear_key;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    op.create_index("ix_sign_in_failures_key_at", "sign_in_failures", ["key", "at"])
    op.execute(LOCK)
    op.execute(ATTEMPT)
    op.execute(TAKE_BACK)


def downgrade() -> None:
    op.execute("DROP FUNCTION sign_in_take_back(text[], bigint[], text)")
    op.execute("DROP FUNCTION sign_in_attempt(text[], timestamptz, double precision, integer)")
    op.execute("DROP FUNCTION sign_in_lock(text[])")
    op.drop_table("sign_in_failures")
