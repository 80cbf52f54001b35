"""Accounts as the services see them: credentials, the admin flag, whether a PIN is set."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Account:
    id: uuid.UUID
    email: str
    password_hash: str
    is_admin: bool
    pin_hash: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Me:
    """The signed-in account as it may be shown to its owner: no hashes."""

    id: uuid.UUID
    email: str
    is_admin: bool
    has_pin: bool


@dataclass(frozen=True, slots=True)
class AccessToken:
    access_token: str
    expires_in: int  # seconds
