"""Profiles of an account and catalog titles."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Profile:
    id: uuid.UUID
    name: str
    is_kids: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Title:
    id: uuid.UUID
    title: str
    is_educational: bool
