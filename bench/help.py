"""The Help Center's search and suggestions under load: 10,000 published articles, 32 searches
at once, on SQLite and on PostgreSQL (``make bench`` part ``help``; the issue's targets: search
p95 ≤ 20 ms, suggest p95 ≤ 40 ms).

The articles are the starter set's, rewritten: each of the 10,000 takes a starter article's
title and body and mixes in sentences of others, so the vocabulary and the roots are the
Help Center's own and common words (``dana``, ``pesanan``) match thousands of articles, as in a
real help center. The queries are the relevance set's. Measured in process on the search path
the route runs (analysis, typo fixing, the database's ranked match, snippets), without HTTP."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.report import note
from domain.help import ArticleStatus, Locale, snippet, words
from store.db import create_engine
from store.help import ArticleFields, HelpStore, load_articles, starter_id
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


async def _search(store: HelpStore, text: str, locale: Locale, limit: int) -> int:
    typed = list(dict(words(text, locale)).items())[:32]
    roots = await store.known_terms(typed)
    hits = await store.search(roots, locale=locale, limit=limit)
    for hit in hits:
        snippet(hit.article.body_text, roots, locale)
    return len(hits)


async def _timed(operation: Callable[[int], Awaitable[int]], total: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def lane() -> None:
        for i in counter:
            began = time.perf_counter()
            await operation(i)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "n": total,
        "concurrency": concurrency,
        "rate": round(total / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 2),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 2),
    }


async def measure(engine: AsyncEngine, total: int = 2000, concurrency: int = 32) -> dict[str, Any]:
    """Search and suggest figures on one seeded database."""
    store = HelpStore(engine)
    assert (await store.get(starter_id("refund-after-complaint.id"))) is not None

    async def search(i: int) -> int:
        text, locale = QUERIES[i % len(QUERIES)]
        return await _search(store, text, locale, 10)

    async def suggest(i: int) -> int:
        return await _search(store, REPORT, Locale.ID, 20)

    await _timed(search, min(100, total), concurrency)  # warm caches, not counted
    return {
        "search": await _timed(search, total, concurrency),
        "suggest": await _timed(suggest, total // 2, concurrency),
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

    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    results = {"sqlite": await on(f"sqlite+aiosqlite:///{work / 'help.sqlite3'}")}
    from tests.postgres import PostgresServer, Unavailable  # the test suite's throwaway cluster

    try:
        server = await asyncio.to_thread(PostgresServer().start)
    except Unavailable as reason:
        results["postgresql"] = {"error": f"no PostgreSQL here: {reason}"}
    else:
        try:
            url = await asyncio.to_thread(server.create_database, "help_bench")
            results["postgresql"] = await on(url)
        finally:
            await asyncio.to_thread(server.stop)
    for engine_name, figures in results.items():
        for kind in ("search", "suggest"):
            if kind in figures:
                f = figures[kind]
                note(
                    f"  {engine_name} {kind}: {f['rate']}/s, p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms"
                    f" ({f['concurrency']} at once)"
                )
    return results
