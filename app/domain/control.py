"""A parent's live control: locking a profile, and why watching is blocked (the reason).

Several blocks may hold at once (the day's time used up, a lock, outside the allowed hours); the
one reported is the one that ends last, since nothing else changing, that is when watching may
resume. An open-ended lock ends last of all, and then the resume instant is not known.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

STOPPED_BY_PARENT = "stopped_by_parent"  # why a session ended, when a parent stopped it


class Reason(StrEnum):
    daily_limit_reached = "daily_limit_reached"
    outside_allowed_hours = "outside_allowed_hours"
    locked_by_parent = "locked_by_parent"


@dataclass(frozen=True, slots=True)
class Lock:
    until: datetime | None  # None: until the parent unlocks

    def holds_at(self, instant: datetime) -> bool:
        """A lock whose `until` has passed is gone."""
        return self.until is None or instant < self.until


@dataclass(frozen=True, slots=True)
class Block:
    reason: Reason
    until: datetime | None  # when it ends; None: not known (an open-ended lock)


def decisive(blocks: Iterable[Block]) -> Block | None:
    """The block that ends last (an open-ended one last of all); None when nothing blocks."""
    last: Block | None = None
    for block in blocks:
        if last is None or last.until is not None and (block.until is None
                                                       or block.until > last.until):
            last = block
    return last


def blocks_at(instant: datetime, *, exhausted: bool, next_reset_at: datetime | None,
              lock: Lock | None, outside: bool = False,
              outside_until: datetime | None = None) -> list[Block]:
    """`outside`: outside the allowed hours, until the next window starts (`outside_until`;
    None: none within a week)."""
    blocks = [Block(Reason.daily_limit_reached, next_reset_at)] if exhausted else []
    if outside:
        blocks.append(Block(Reason.outside_allowed_hours, outside_until))
    if lock is not None and lock.holds_at(instant):
        blocks.append(Block(Reason.locked_by_parent, lock.until))
    return blocks


@dataclass(frozen=True, slots=True)
class LockState:
    """What a parent sees after locking or unlocking."""

    profile_id: uuid.UUID
    locked: bool
    until: datetime | None


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A session as a parent sees it (watching now, or recently)."""

    session_id: uuid.UUID
    title_id: uuid.UUID
    title_name: str
    device_id: str
    device_type: str
    device_name: str | None  # the paired device's name, when a paired device is watching
    started_at: datetime
    last_heartbeat_at: datetime
    ended_at: datetime | None
    is_paused: bool
    watched_minutes: float
