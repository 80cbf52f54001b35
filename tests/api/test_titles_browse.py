"""GET /api/v1/titles: the catalog a page at a time, in title order, searched by word prefix."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from app.repositories.titles import PAGES
from tests.support.api import API

pytestmark = pytest.mark.anyio

CATALOG = ["Dinosaur Expedition", "Dinosaurs!", "Ocean Deep", "Élan: a ballet", "The Expedition",
           "Zebra Crossing"]


async def upsert(container, names: list[str]) -> dict[str, str]:
    rows = [(uuid.uuid4(), name, i % 2 == 0) for i, name in enumerate(names)]
    await (await container.titles()).upsert_many(rows)
    return {name: str(i) for i, name, _ in rows}


async def browse(client, headers, **params) -> tuple[list[str], str | None]:
    r = await client.get(f"{API}/titles", headers=headers, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "next_cursor"}
    return [t["title"] for t in body["items"]], body["next_cursor"]


async def test_pages_walk_the_catalog_in_title_order(client, parent, container):
    ids = await upsert(container, CATALOG)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        titles, cursor = await browse(client, parent.headers, **params)
        seen += titles
        pages += 1
        if cursor is None:
            break
    assert (seen, pages) == (sorted(CATALOG), 3)
    r = await client.get(f"{API}/titles", headers=parent.headers, params={"limit": 1})
    [first] = r.json()["items"]
    assert first == {"id": ids[sorted(CATALOG)[0]], "title": sorted(CATALOG)[0],
                     "is_educational": CATALOG.index(sorted(CATALOG)[0]) % 2 == 0}


async def test_titles_with_the_same_name_are_ordered_by_id_and_none_is_skipped(
        client, parent, container):
    twins = [(uuid.uuid4(), "Twin", False) for _ in range(5)]
    await (await container.titles()).upsert_many(twins)
    seen, cursor = [], None
    for _ in range(5):
        r = await client.get(f"{API}/titles", headers=parent.headers,
                             params={"limit": 2} | ({"cursor": cursor} if cursor else {}))
        seen += [t["id"] for t in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(str(t[0]) for t in twins)


@pytest.mark.parametrize("query, found", [
    ("dino", ["Dinosaur Expedition", "Dinosaurs!"]),
    ("DINO exp", ["Dinosaur Expedition"]),
    ("expedition", ["Dinosaur Expedition", "The Expedition"]),
    ("élan", ["Élan: a ballet"]),
    ("saur", []),  # a prefix of a word, not any substring
    ("ocean, deep!", ["Ocean Deep"]),
    ("!!!", sorted(CATALOG)),  # no words: the whole catalog
    ("", sorted(CATALOG)),
])
async def test_a_query_finds_titles_holding_each_word_as_a_prefix(client, parent, container,
                                                                  query, found):
    await upsert(container, CATALOG)
    assert await browse(client, parent.headers, query=query, limit=100) == (found, None)


async def test_a_search_pages_like_browsing(client, parent, container):
    await upsert(container, [f"Space Show {n:02d}" for n in range(7)] + ["Ocean Deep"])
    first, cursor = await browse(client, parent.headers, query="space", limit=4)
    rest, last = await browse(client, parent.headers, query="space", limit=4, cursor=cursor)
    assert first + rest == [f"Space Show {n:02d}" for n in range(7)]
    assert last is None


async def test_players_browse_with_their_device_token_and_strangers_cannot(client, parent,
                                                                          container):
    await upsert(container, CATALOG)
    device = await parent.pair(await parent.child())
    titles, _ = await browse(client, {"Authorization": f"Bearer {device['device_token']}"})
    assert titles == sorted(CATALOG)
    r = await client.get(f"{API}/titles")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")


@pytest.mark.parametrize("params, field", [
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": "WzEsMl0"}, "cursor"),  # base64 of [1,2]: JSON, but not a position
    ({"query": "x" * 201}, "query"),
])
async def test_bad_parameters_are_422_naming_the_parameter(client, parent, params, field):
    r = await client.get(f"{API}/titles", headers=parent.headers, params=params)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(field)


async def test_search_and_pages_can_use_their_indexes(container):
    """With sequential scans priced out, the plans use the indexes: the statements' expressions
    match the indexes' (a mismatch would leave a seq scan whatever the catalog's size)."""
    plans = {}
    async with (await container.session_factory())() as session:
        await session.execute(text("SET enable_seqscan = off"))
        for shape, params in (((True, False), {"query": "dino:*", "limit": 5}),
                              ((False, True), {"after_title": "M", "after_id": uuid.uuid4(),
                                               "limit": 5})):
            rows = await session.execute(text("EXPLAIN " + PAGES[shape].text), params)
            plans[shape] = "\n".join(r[0] for r in rows)
    assert "ix_titles_search" in plans[True, False]
    assert "ix_titles_title_id" in plans[False, True]
