"""Catalog titles."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.catalog import Title
from app.models import Title as TitleRow

# unnest() of three arrays: one statement and three parameters however large the batch
# (a VALUES list of 10,000 rows would need 30,000 bind parameters).
UPSERT_TITLES = text("""
    INSERT INTO titles (id, title, is_educational)
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:titles AS varchar[]), CAST(:edu AS boolean[]))
    ON CONFLICT (id) DO UPDATE SET title = excluded.title, is_educational = excluded.is_educational
""")


# The catalog in (title, id) order: browsing walks ix_titles_title_id from the cursor on; a
# search narrows through the full-text index ix_titles_search first. The four shapes are
# separate statements so each gets the plan its own conditions deserve.
_SEARCH = "to_tsvector('simple'::regconfig, title) @@ to_tsquery('simple'::regconfig, :query)"
_AFTER = "(title, id) > (:after_title, :after_id)"


def _page_sql(*, search: bool, after: bool) -> str:
    where = [c for c, used in ((_SEARCH, search), (_AFTER, after)) if used]
    return (f"SELECT id, title, is_educational FROM titles "
            f"{'WHERE ' + ' AND '.join(where) if where else ''} "
            f"ORDER BY title, id LIMIT :limit")


PAGES = {(search, after): text(_page_sql(search=search, after=after))
         for search in (False, True) for after in (False, True)}


class TitleRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *,
                 reads: async_sessionmaker[AsyncSession] | None = None) -> None:
        self._sessions = session_factory
        self._reads = reads or session_factory  # may lag a second: listings only

    async def upsert_many(self, rows: list[tuple[uuid.UUID, str, bool]]) -> int:
        unique = list({row[0]: row for row in rows}.values())  # the last one wins, like PUT
        if not unique:
            return 0
        ids, titles, edu = (list(column) for column in zip(*unique, strict=True))
        async with self._sessions.begin() as session:
            await session.execute(UPSERT_TITLES, {"ids": ids, "titles": titles, "edu": edu})
        return len(unique)

    async def page(self, *, words: list[str], after: tuple[str, uuid.UUID] | None,
                   limit: int) -> list[Title]:
        """Up to `limit` titles after `after` in (title, id) order, each containing every one
        of `words` as a word prefix."""
        params: dict[str, object] = {"limit": limit}
        if words:
            params["query"] = " & ".join(f"{w}:*" for w in words)
        if after is not None:
            params["after_title"], params["after_id"] = after
        async with self._reads() as session:
            rows = await session.execute(PAGES[bool(words), after is not None], params)
        return [Title(r.id, r.title, r.is_educational) for r in rows]

    async def get(self, title_id: uuid.UUID) -> Title | None:
        async with self._reads() as session:
            row = await session.get(TitleRow, title_id)
        return None if row is None else Title(row.id, row.title, row.is_educational)
