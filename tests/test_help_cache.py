"""The Help Center's search cache: a frequent query costs no database work, and no cached result
outlives a change of an article (written by this process at once, by another within the recheck)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from domain.help import ArticleStatus, HelpTopic, Locale, words
from store.db import database
from store.help import ArticleFields, CachePolicy, HelpStore, search_cache

NOW = datetime(2026, 12, 5, tzinfo=UTC)
#: Never rechecked, never too old: only this process's writes can drop a result.
FOREVER = CachePolicy(recheck=timedelta(days=1), max_age=timedelta(days=1))


def fields(title: str, status: ArticleStatus = ArticleStatus.PUBLISHED) -> ArticleFields:
    return ArticleFields(
        title=title,
        body="Isi artikel tentang pengembalian dana.",
        topic=HelpTopic.REFUNDS,
        slug=title.lower().replace(" ", "-"),
        status=status,
    )


async def found_ids(store: HelpStore, query: str) -> list[str]:
    typed = list(dict(words(query, Locale.ID)).items())
    return [hit.id for hit in (await store.find(typed, locale=Locale.ID)).hits]


@pytest.fixture
async def other_process(settings: Settings, engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """A second engine on the same database, with a cache of its own: another API process."""
    async with database(settings) as other:
        yield other


async def test_a_frequent_query_is_answered_once_from_the_database(engine: AsyncEngine) -> None:
    store = HelpStore(engine, FOREVER)
    cache = search_cache(engine)
    first = await asyncio.gather(*(found_ids(store, "pengembalian dana") for _ in range(20)))
    assert cache.misses == 1 and cache.hits == 0  # twenty at once share one computation
    assert first[0] and all(ids == first[0] for ids in first)
    assert await found_ids(store, "pengembalian dana") == first[0]
    assert cache.misses == 1 and cache.hits == 1


async def test_this_process_writes_drop_the_cached_results_at_once(engine: AsyncEngine) -> None:
    store = HelpStore(engine, FOREVER)
    assert await found_ids(store, "zamrudkilau") == []
    draft = await store.create(fields("Kartu zamrudkilau", ArticleStatus.DRAFT), "care", NOW)
    assert await found_ids(store, "zamrudkilau") == []  # a draft is not found
    await store.update(draft.id, {"status": ArticleStatus.PUBLISHED}, "care", NOW, None)
    assert await found_ids(store, "zamrudkilau") == [draft.id]
    await store.update(draft.id, {"title": "Kartu permatahijau"}, "care", NOW, None)
    assert await found_ids(store, "zamrudkilau") == []
    assert await found_ids(store, "permatahijau") == [draft.id]
    await store.update(draft.id, {"status": ArticleStatus.ARCHIVED}, "care", NOW, None)
    assert await found_ids(store, "permatahijau") == []


async def test_another_process_write_is_seen_within_the_recheck(
    engine: AsyncEngine, other_process: AsyncEngine
) -> None:
    # Not rechecked: the result cached before the other process wrote is still served ...
    stale = HelpStore(engine, FOREVER)
    assert await found_ids(stale, "safirbiru") == []
    written = await HelpStore(other_process).create(fields("Kartu safirbiru"), "care", NOW)
    assert await found_ids(stale, "safirbiru") == []
    # ... until the count of article versions is read again (every recheck: here at once).
    fresh = HelpStore(engine, CachePolicy(recheck=timedelta(0), max_age=timedelta(days=1)))
    assert await found_ids(fresh, "safirbiru") == [written.id]


async def test_no_cached_result_is_older_than_the_max_age(engine: AsyncEngine) -> None:
    store = HelpStore(engine, CachePolicy(recheck=timedelta(days=1), max_age=timedelta(0)))
    await found_ids(store, "pengembalian dana")
    await found_ids(store, "pengembalian dana")
    assert search_cache(engine).misses == 2 and search_cache(engine).hits == 0


async def test_the_cache_keeps_at_most_its_size(engine: AsyncEngine) -> None:
    store = HelpStore(engine, CachePolicy(size=2, recheck=timedelta(days=1), max_age=timedelta(days=1)))
    for query in ("pengembalian dana", "pengiriman", "pembayaran", "pengembalian dana"):
        await found_ids(store, query)
    assert search_cache(engine).misses == 4  # the first query was pushed out by the next two
