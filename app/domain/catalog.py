"""Profiles of an account and catalog titles."""

from __future__ import annotations

import base64
import binascii
import json
import re
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


# A search matches titles containing every word of the query as the start of one of their
# words ("dino exp" finds "Dinosaur Expedition"); punctuation separates words and is ignored.
MAX_SEARCH_WORDS = 8
_WORD = re.compile(r"\w+")


def search_words(query: str) -> list[str]:
    """The query's words, lower-cased, at most MAX_SEARCH_WORDS (more would not narrow a
    300-character title much further, and each costs the index a lookup)."""
    return [w.lower() for w in _WORD.findall(query)][:MAX_SEARCH_WORDS]


def encode_cursor(last: Title) -> str:
    """An opaque position after `last` in the catalog's order (title, then id)."""
    raw = json.dumps([last.title, str(last.id)], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, uuid.UUID]:
    """The (title, id) a cursor points after; ValueError for anything this service did not
    hand out."""
    try:
        title, title_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(title, str):
            raise TypeError(title)
        return title, uuid.UUID(title_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError("not a cursor this service returned") from exc


@dataclass(frozen=True, slots=True)
class TitlePage:
    titles: list[Title]
    next_cursor: str | None  # None: this is the last page
