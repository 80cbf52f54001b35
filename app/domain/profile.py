"""What the service knows about a profile without asking the database on every heartbeat."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.domain.viewing_day import LimitConfig


@dataclass(frozen=True, slots=True)
class ProfileFacts:
    """Owner (immutable: ownership checks need no query), kind and limits of a profile."""

    profile_id: uuid.UUID
    account_id: uuid.UUID
    name: str
    is_kids: bool
    limits: LimitConfig | None  # None for adult profiles: never limited
