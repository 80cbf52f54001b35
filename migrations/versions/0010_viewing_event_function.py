"""record_viewing_event(): the threshold marks and the viewing.* event of one heartbeat.

The heartbeat statement used to hold these INSERTs as CTEs of its own. A data-modifying CTE
runs on every execution, even when it receives no row, so every beat opened and locked the
marks and outbox tables and their indexes: about a quarter more PostgreSQL time per beat for
work that happens a few times a child's day. Called from a plain CTE of the statement, the
function runs only for a beat that reached a threshold, still inside the heartbeat's one
statement (one round trip, one transaction).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Marks every threshold the beat reached (the key makes each once per profile and viewing day,
# across devices and replicas); writes the event of the beat's own state, to every
# subscription of the account that takes it, only when this call inserted that state's mark.
# Returns the number of outbox rows written.
FUNCTION = """
CREATE OR REPLACE FUNCTION record_viewing_event(
    p_profile uuid, p_day date, p_state text, p_left numeric, p_blocked boolean,
    p_remaining_minutes numeric, p_reason text, p_at timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    marked text[];
    written integer := 0;
BEGIN
    WITH new AS (
        INSERT INTO threshold_marks (profile_id, viewing_day, threshold, marked_at)
        SELECT p_profile, p_day, t.threshold, p_at
        FROM (VALUES ('warning_15', 900), ('warning_5', 300), ('blocked', 0))
             AS t (threshold, seconds)
        WHERE p_left <= t.seconds OR (t.threshold = 'blocked' AND p_blocked)
        ON CONFLICT DO NOTHING
        RETURNING threshold)
    SELECT array_agg(threshold) INTO marked FROM new;
    IF marked IS NULL OR NOT p_state = ANY(marked) THEN
        RETURN 0;  -- this state fired before today, through another beat
    END IF;
    INSERT INTO webhook_outbox
        (event_id, subscription_id, event_type, data, created_at, next_attempt_at)
    SELECT gen_random_uuid(), w.id, 'viewing.' || p_state,
           jsonb_build_object('account_id', p.account_id, 'profile_id', p_profile,
                              'profile_name', p.name, 'viewing_day', p_day,
                              'remaining_minutes', p_remaining_minutes, 'reason', p_reason),
           p_at, p_at
    FROM profiles p
    JOIN webhook_subscriptions w
      ON w.account_id = p.account_id AND ('viewing.' || p_state) = ANY(w.events)
    WHERE p.id = p_profile;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$
"""


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS record_viewing_event(uuid, date, text, numeric, boolean, "
               "numeric, text, timestamptz)")
