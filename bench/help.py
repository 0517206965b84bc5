"""The Help Center's search and suggestions under load: 10,000 published articles, 32 searches
at once, on SQLite and on PostgreSQL (``make bench`` part ``help``; the issue's targets: search
p95 ≤ 20 ms, suggest p95 ≤ 40 ms).

The articles are the starter set's, rewritten: each of the 10,000 takes a starter article's
title and body and mixes in sentences of others, so the vocabulary and the roots are the
Help Center's own and common words (``dana``, ``pesanan``) match thousands of articles, as in a
real help center. Measured in process on the path the routes run (analysis, then
``HelpStore.find``: the search cache, typo fixing, the database's ranked match, snippets),
without HTTP, in four ways:

- ``search``: the frequent queries (a dozen, typed again and again, as the most frequent queries
  of a help center are): after the first, answered from the process's search cache.
- ``search_cold``: every query different (two or three words of the articles' titles), so each
  one misses the cache and does the database's work.
- ``suggest``: every report different (sentences of the articles), each a miss.
- ``suggest_repeated``: one report, again and again (cached).

Each runs with 32 at once; the cold ones also one at a time (``*_alone``: what one costs with no
queue). The load average is recorded before and after: the machine is shared."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.databases import on_both
from bench.report import note
from domain.help import ArticleStatus, Locale, words
from store.db import create_engine
from store.help import ArticleFields, HelpStore, load_articles, search_cache, starter_id
from store.help_starter import articles as starter_articles

#: Queries: what users type, Indonesian and English, a few typos.
QUERIES = [
    ("pengembalian dana", Locale.ID),
    ("pengiriman terlambat", Locale.ID),
    ("sudah dibayar status belum berubah", Locale.ID),
    ("cara mengajukan komplain", Locale.ID),
    ("ajukan banding", Locale.ID),
    ("penarikan saldo belum masuk rekening", Locale.ID),
    ("akun diretas", Locale.ID),
    ("pengembalain dana", Locale.ID),
    ("voucher tidak bisa dipakai", Locale.ID),
    ("refund after complaint", Locale.EN),
    ("parcel never arrived", Locale.EN),
    ("withdraw balance to bank", Locale.EN),
]
REPORT = (
    "Saya sudah membayar pesanan tetapi status pembayaran masih menunggu, lalu saldo saya terpotong"
    " dua kali. Tolong dana dikembalikan ke rekening saya secepatnya."
)


def corpus(size: int, seed: int = 7) -> list[tuple[str, ArticleFields]]:
    """``size`` published articles made from the starter set (ids ``art-bench-<n>``)."""
    rng = random.Random(seed)
    starters = [fields for _, fields in starter_articles()]
    sentences = {
        locale: [s.strip() for f in starters if f.locale is locale for s in f.body.split(".") if s.strip()]
        for locale in Locale
    }
    made = []
    for n in range(size):
        base = starters[n % len(starters)]
        extra = ". ".join(rng.sample(sentences[base.locale], 4))
        fields = base.model_copy(
            update={
                "title": f"{base.title} ({n})",
                "body": f"{base.body}\n\n{extra}.",
                "slug": f"{base.slug}-{n}",
                "status": ArticleStatus.PUBLISHED,
                "translation_group": None,
            }
        )
        made.append((f"art-bench-{n}", fields))
    return made


async def seed(engine: AsyncEngine, size: int) -> None:
    """Load the corpus (once per database)."""
    rows = corpus(size)
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: load_articles(sync, rows, datetime.now(UTC)))


def varied_queries(count: int, seed: int = 11) -> list[tuple[str, Locale]]:
    """``count`` different queries: two or three words of the starter titles, each set once."""
    rng = random.Random(seed)
    vocabulary = {
        locale: sorted(
            {w for _, f in starter_articles() if f.locale is locale for w, _ in words(f.title, locale)}
        )
        for locale in Locale
    }
    made: dict[str, Locale] = {}
    while len(made) < count:
        locale = Locale.ID if rng.random() < 0.75 else Locale.EN
        made.setdefault(" ".join(rng.sample(vocabulary[locale], rng.choice((2, 3)))), locale)
    return list(made.items())


def varied_reports(count: int, seed: int = 13) -> list[str]:
    """``count`` different reports: three sentences of the Indonesian starter bodies each."""
    rng = random.Random(seed)
    sentences = [
        s.strip()
        for _, f in starter_articles()
        if f.locale is Locale.ID
        for s in f.body.split(".")
        if s.strip()
    ]
    made: set[str] = set()
    while len(made) < count:
        made.add(". ".join(rng.sample(sentences, 3)) + ".")
    return sorted(made)


async def _search(store: HelpStore, text: str, locale: Locale, limit: int) -> int:
    typed = list(dict(words(text, locale)).items())[:32]
    found = await store.find(typed, locale=locale, limit=limit)
    return len(found.hits)


async def _timed(operation: Callable[[int], Awaitable[int]], total: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def lane() -> None:
        for i in counter:
            began = time.perf_counter()
            await operation(i)
            latencies.append(time.perf_counter() - began)

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    latencies.sort()
    return {
        "n": total,
        "concurrency": concurrency,
        "rate": round(total / elapsed, 1),
        # this process's CPU (SQLite's work included; not PostgreSQL's server) per operation
        "cpu_ms": round(cpu / total * 1000, 3),
        "p50_ms": round(latencies[int(0.5 * (len(latencies) - 1))] * 1000, 3),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 3),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 3),
    }


async def measure(engine: AsyncEngine, total: int = 2000, concurrency: int = 32) -> dict[str, Any]:
    """Search and suggest figures on one seeded database."""
    store = HelpStore(engine)
    assert (await store.get(starter_id("refund-after-complaint.id"))) is not None
    queries = varied_queries(total + total // 10)
    reports = varied_reports(total // 2 + total // 20)
    cold = iter(queries)
    cold_reports = iter(reports)

    async def search(i: int) -> int:
        text, locale = QUERIES[i % len(QUERIES)]
        return await _search(store, text, locale, 10)

    async def search_cold(i: int) -> int:
        text, locale = next(cold)
        return await _search(store, text, locale, 10)

    async def suggest(i: int) -> int:
        return await _search(store, next(cold_reports), Locale.ID, 20)

    async def suggest_repeated(i: int) -> int:
        return await _search(store, REPORT, Locale.ID, 20)

    await _timed(search, min(100, total), concurrency)  # warm the caches (and the database's), not counted
    figures = {
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "search": await _timed(search, total, concurrency),
        "search_cold": await _timed(search_cold, total, concurrency),
        "search_cold_alone": await _timed(search_cold, total // 10, 1),
        "suggest": await _timed(suggest, total // 2, concurrency),
        "suggest_alone": await _timed(suggest, total // 20, 1),
        "suggest_repeated": await _timed(suggest_repeated, total // 2, concurrency),
    }
    cache = search_cache(engine)
    return figures | {
        "cache": {"hits": cache.hits, "misses": cache.misses},
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


async def run(work: Path, size: int = 10_000, total: int = 2000) -> dict[str, Any]:
    """The ``help`` part of ``make bench``: the figures on SQLite (a file in ``work``) and, when a
    PostgreSQL can be started here (tests/postgres.py: Debian's postgresql), on PostgreSQL."""
    from store.migrate import migrate

    async def on(url: str) -> dict[str, Any]:
        await asyncio.to_thread(migrate, url)
        engine = create_engine(url, pool_size=16)
        try:
            began = time.perf_counter()
            await seed(engine, size)
            figures = await measure(engine, total=total)
            return figures | {"articles": size, "seed_seconds": round(time.perf_counter() - began, 1)}
        finally:
            await engine.dispose()

    results = await on_both(work, "help", on)
    for engine_name, figures in results.items():
        for kind in (
            "search",
            "search_cold",
            "search_cold_alone",
            "suggest",
            "suggest_alone",
            "suggest_repeated",
        ):
            if kind in figures:
                f = figures[kind]
                note(
                    f"  {engine_name} {kind}: {f['rate']}/s, p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms"
                    f" ({f['concurrency']} at once; {f['cpu_ms']} ms of CPU each)"
                )
        if "load_average_before" in figures:
            note(
                f"  {engine_name} load average: {figures['load_average_before']}"
                f" → {figures['load_average_after']}"
            )
    return results
