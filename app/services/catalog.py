"""Profiles and titles of the catalog, always scoped to the caller's account."""

from __future__ import annotations

import uuid

from app.domain.catalog import Profile, Title, TitlePage, encode_cursor, search_words
from app.domain.clock import Clock
from app.domain.errors import AccountGone, ProfileNotFound, TitleNotFound
from app.repositories.profiles import ProfileRepository
from app.repositories.titles import TitleRepository
from app.services.config_cache import ConfigProvider

DEFAULT_CONFIG = {
    "weekday_limit_minutes": 120,
    "weekend_limit_minutes": 180,
    "reset_hour": 6,
    "educational_exempt": True,
}


class ProfileService:
    def __init__(self, *, profiles: ProfileRepository, configs: ConfigProvider,
                 clock: Clock) -> None:
        self._profiles = profiles
        self._configs = configs
        self._clock = clock

    async def list(self, account_id: uuid.UUID) -> list[Profile]:
        profiles = await self._profiles.list_for(account_id)
        # No profiles: a new account, or a deleted one whose token is still signed and unexpired
        # (refused; the extra query is paid only by empty lists).
        if not profiles and not await self._profiles.account_exists(account_id):
            raise AccountGone()
        return profiles

    async def create(self, account_id: uuid.UUID, *, name: str, is_kids: bool,
                     timezone: str) -> Profile:
        """A child profile starts with the default limits, its days in `timezone`."""
        config = {**DEFAULT_CONFIG, "timezone": timezone} if is_kids else None
        return await self._profiles.add(account_id=account_id, name=name, is_kids=is_kids,
                                        now=self._clock.now(), default_config=config)

    async def delete(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> None:
        if not await self._profiles.delete(account_id=account_id, profile_id=profile_id):
            raise ProfileNotFound()
        await self._configs.changed(profile_id)


class TitleService:
    def __init__(self, *, titles: TitleRepository) -> None:
        self._titles = titles

    async def upsert(self, titles: list[Title]) -> int:
        """Insert or replace `titles`; the number of distinct ids written."""
        return await self._titles.upsert_many([(t.id, t.title, t.is_educational) for t in titles])

    async def get(self, title_id: uuid.UUID) -> Title:
        title = await self._titles.get(title_id)
        if title is None:
            raise TitleNotFound()
        return title

    async def browse(self, *, query: str, after: tuple[str, uuid.UUID] | None,
                     limit: int) -> TitlePage:
        """A page of the catalog in title order, narrowed by `query`'s words; one more row is
        read than shown, so the last page says it is the last."""
        found = await self._titles.page(words=search_words(query), after=after, limit=limit + 1)
        shown = found[:limit]
        return TitlePage(shown, encode_cursor(shown[-1]) if len(found) > limit else None)
