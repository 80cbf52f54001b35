"""The webhook events the hot path writes, as CTEs of the heartbeat statements themselves.

Why inside the statement: the heartbeat is one round trip, and an event must be stored in the
same statement as the change that caused it. The common beat (nothing reached) pays for a few
arithmetic columns; only a beat that reached a threshold calls record_viewing_event() (migration
0010), which marks it and writes the outbox row when the mark is new (docs/viewing-events.md).

Marks are the once-only guarantee: `threshold_marks`' key (profile, viewing day, threshold)
lets exactly one beat insert a mark, whichever device or replica it came through; the event is
written only with a mark that beat inserted itself (`ON CONFLICT DO NOTHING RETURNING`, in the
function).
"""

from __future__ import annotations

from app.domain.balance import WARNING_MINUTES, Enforcement
from app.domain.control import Reason
from app.repositories.webhook_outbox import enqueue

# Each threshold and the remaining seconds at or below which a beat reaches it (the grant's
# re-arming reads them; record_viewing_event() of migration 0010 holds the same values, so a
# change to WARNING_MINUTES needs a migration that replaces the function).
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


def threshold_ctes(*, source: str, exempt: str) -> str:
    """CTEs `beat` and `viewing_events`: for a beat that reached a threshold,
    record_viewing_event() (migration 0010) marks every threshold reached and writes the event
    of the beat's own state (the lowest it reached) when that mark is new. The statement must
    read `viewing_events` (`VIEWING_EVENTS_READ`), or PostgreSQL never runs it: a beat that
    reached nothing never calls the function, so it opens neither the marks nor the outbox."""
    return f"""{beat_state(source, exempt)}, viewing_events AS (
    SELECT record_viewing_event(
               :profile_id, :day, beat.state, beat.left_s, beat.blocked, beat.shown,
               CASE
                   WHEN beat.state = '{Enforcement.blocked}' AND :halt_reason IS NOT NULL
                     THEN :halt_reason
                   WHEN NOT beat.exempt AND beat.limit_left IS NOT NULL
                        AND (beat.window_left IS NULL OR beat.limit_left <= beat.window_left)
                     THEN '{LIMIT}'
                   ELSE '{HOURS}'
               END,
               :now) AS written
    FROM beat
    WHERE beat.state IS NOT NULL
)"""


# A column of the statement's final SELECT that makes PostgreSQL run `viewing_events`.
VIEWING_EVENTS_READ = "(SELECT sum(written) FROM viewing_events) AS events_written"


def write_events(*sources: str) -> str:
    """The outbox INSERT (a CTE) of the event rows of `sources` (CTE names)."""
    return enqueue("(" + " UNION ALL ".join(f"SELECT * FROM {s}" for s in sources) + ")")
