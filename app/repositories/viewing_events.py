"""The webhook events the hot path writes, as CTEs of the heartbeat statements themselves.

Why inside the statement: the heartbeat is one round trip, and an event must be stored in the
same statement as the change that caused it. The common beat (nothing crossed) pays for a few
arithmetic columns and two INSERTs that receive no row; the profile is read, and the outbox
written, only for a beat whose threshold mark is new (see docs/viewing-events.md).

Marks are the once-only guarantee: `threshold_marks`' key (profile, viewing day, threshold)
lets exactly one beat insert a mark, whichever device or replica it came through; the event is
written only with a mark that beat inserted itself (`ON CONFLICT DO NOTHING RETURNING`).
"""

from __future__ import annotations

from app.domain.balance import WARNING_MINUTES, Enforcement
from app.domain.control import Reason
from app.repositories.webhook_outbox import enqueue

# Each threshold and the remaining seconds at or below which a beat reaches it.
THRESHOLDS = ", ".join(
    f"('{name}', {seconds})" for name, seconds in (
        (Enforcement.warning_15, WARNING_MINUTES[0] * 60),
        (Enforcement.warning_5, WARNING_MINUTES[1] * 60), (Enforcement.blocked, 0)))

LIMIT, HOURS = Reason.daily_limit_reached.value, Reason.outside_allowed_hours.value


def beat_state(source: str, exempt: str) -> str:
    """CTE `beat`: the beat's remaining time and enforcement as its answer computes them
    (app/domain/heartbeat.py `beat_answer`), from `source`, a FROM clause whose alias `b` holds
    the day's balance after the beat. `:halt_reason` is why the beat is halted (a lock, outside
    the allowed hours), NULL when it is not; outside the hours no time is left in them."""
    return f"""beat AS (
    SELECT r.*,
           CASE WHEN r.blocked OR r.left_s <= 0 THEN '{Enforcement.blocked}'
                WHEN r.left_s <= {WARNING_MINUTES[1] * 60} THEN '{Enforcement.warning_5}'
                WHEN r.left_s <= {WARNING_MINUTES[0] * 60} THEN '{Enforcement.warning_15}'
           END AS state,
           -- the minutes shown (never below 0; NULL: nothing limits the time)
           round(CASE WHEN r.remaining < 0 THEN 0 ELSE r.remaining END / 60, 2) AS shown
    FROM (
        SELECT l.*,
               :halt_reason::text IS NOT NULL OR (NOT l.exempt AND l.limit_left <= 0) AS blocked,
               CASE WHEN l.exempt THEN l.window_left
                    ELSE least(l.limit_left, l.window_left) END AS left_s,
               least(l.limit_left, l.window_left) AS remaining
        FROM (
            SELECT {exempt} AS exempt,
                   CASE WHEN NOT b.is_unlimited_override
                        THEN :limit_seconds + b.granted_seconds - b.used_seconds END AS limit_left,
                   CASE WHEN :halt_reason = '{HOURS}' THEN 0
                        ELSE extract(epoch FROM :window_end::timestamptz - :now::timestamptz)
                   END AS window_left
            FROM {source}
            WHERE :is_kids
        ) l
    ) r
)"""


def threshold_ctes(*, source: str, exempt: str, profile: str) -> str:
    """CTEs `beat`, `marked` and `crossed` (the `viewing.*` event rows for `enqueue`).

    `marked` marks every threshold the beat reached; `crossed` is the event of the beat's own
    state (the lowest it reached) when its mark is new. `profile` is a FROM item with alias `p`
    (account_id, name), joined only to a new mark's row: no-crossing beats never read it."""
    return f"""{beat_state(source, exempt)}, marked AS (
    INSERT INTO threshold_marks (profile_id, viewing_day, threshold, marked_at)
    SELECT :profile_id, :day, t.threshold, :now
    FROM beat JOIN (VALUES {THRESHOLDS}) AS t (threshold, seconds)
      ON beat.left_s <= t.seconds OR (t.threshold = '{Enforcement.blocked}' AND beat.blocked)
    WHERE beat.state IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING threshold
), crossed AS (
    SELECT p.account_id, 'viewing.' || beat.state AS event_type,
           jsonb_build_object(
               'account_id', p.account_id, 'profile_id', :profile_id::uuid,
               'profile_name', p.name, 'viewing_day', :day::date,
               'remaining_minutes', beat.shown,
               'reason', CASE
                   WHEN beat.state = '{Enforcement.blocked}' AND :halt_reason IS NOT NULL
                     THEN :halt_reason
                   WHEN NOT beat.exempt AND beat.limit_left IS NOT NULL
                        AND (beat.window_left IS NULL OR beat.limit_left <= beat.window_left)
                     THEN '{LIMIT}'
                   ELSE '{HOURS}'
               END) AS data,
           :now::timestamptz AS at
    FROM marked JOIN beat ON beat.state = marked.threshold
    CROSS JOIN LATERAL ({profile}) AS p
)"""


def write_events(*sources: str) -> str:
    """The outbox INSERT (a CTE) of the event rows of `sources` (CTE names)."""
    return enqueue("(" + " UNION ALL ".join(f"SELECT * FROM {s}" for s in sources) + ")")
