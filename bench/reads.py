"""Reads from the read model with 100,000 cases in ``case_views``, on SQLite and on PostgreSQL
(``make bench`` part ``reads``; the issue's targets: ``GET`` of one case p50 ≤ 5 ms, a 100-item
list page p95 ≤ 25 ms).

The rows are written straight into the table (built from one real opened dispute, each with its
own id, order, parties and times: ``tests/views.py``). Measured one request at a time (what one
costs with no queue) and 8 at once:

- ``store_get``: ``CaseViews.get`` of a random case (the store-level read of one case; the API's
  ``GET /v1/disputes/{id}`` is the read-model branch's path and adds its HTTP and view).
- ``list_first_page``: ``GET /v1/disputes?limit=100`` through the API's routes (in process over
  ASGI: auth, validation, the query, the JSON), newest first.
- ``list_deep_page``: the same with the cursor of a random position (keyset: as cheap as the first).
- ``list_by_seller``: ``?seller_id=`` (about 1,100 cases each), a page of 100.
- ``list_sync``: ``?updated_after=`` a random time, a page of 100 in ``updated_at`` order."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.main import create_app
from api.paging import encode_cursor
from bench.databases import on_both
from bench.report import note
from core.settings import ApiKey, KeyRole, Settings
from store.db import create_engine
from store.view_pages import CaseViews, Order

KEY = "bench-platform-key"


async def seed(engine: AsyncEngine, size: int) -> list[dict[str, Any]]:
    """``size`` disputes in ``case_views``, a second apart; their rows (without the state)."""
    from tests import views  # the tests' row builder: rows from a real opened dispute

    rows = views.many_disputes(size)
    for first in range(0, size, 10_000):
        await views.insert(engine, rows[first : first + 10_000])
    if engine.dialect.name == "postgresql":  # what autovacuum does soon after such a load
        async with engine.begin() as connection:
            await connection.execute(sa.text("ANALYZE case_views"))
    return [{k: row[k] for k in ("case_id", "opened_at", "seller_id")} for row in rows]


async def _timed(operation: Callable[[int], Awaitable[Any]], total: int, concurrency: int) -> dict[str, Any]:
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
        "p50_ms": round(latencies[int(0.5 * (len(latencies) - 1))] * 1000, 3),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 3),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 3),
    }


async def measure(engine: AsyncEngine, rows: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """The figures on one seeded database."""
    settings = Settings(
        api_keys={KEY: ApiKey(name="bench", role=KeyRole.PLATFORM)},
        rate_limit_per_second=1e9,
        rate_limit_burst=1_000_000,
    )
    app = create_app(settings, engine=engine)
    app.state.engine = engine  # no lifespan over ASGI: the list routes need no Temporal client
    app.state.temporal = None
    store = CaseViews(engine)
    rng = random.Random(16)
    sellers = sorted({row["seller_id"] for row in rows})

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bench",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as http:

        async def page(params: dict[str, Any]) -> None:
            got = await http.get("/v1/disputes", params={"limit": 100} | params)
            assert got.status_code == 200, got.text
            assert got.json()["items"], got.text  # 100 with the 100,000 cases; fewer in the harness test

        async def store_get(i: int) -> None:
            assert await store.get(rng.choice(rows)["case_id"]) is not None

        async def first_page(i: int) -> None:
            await page({})

        async def deep_page(i: int) -> None:
            row = rows[rng.randrange(200, len(rows))]
            await page({"cursor": encode_cursor([Order.OPENED.value, row["opened_at"], row["case_id"]])})

        async def by_seller(i: int) -> None:
            await page({"seller_id": rng.choice(sellers)})

        async def sync(i: int) -> None:
            at = rows[rng.randrange(0, len(rows) - 200)]["opened_at"] + timedelta(microseconds=1)
            await page({"updated_after": at.isoformat()})

        operations = {
            "store_get": store_get,
            "list_first_page": first_page,
            "list_deep_page": deep_page,
            "list_by_seller": by_seller,
            "list_sync": sync,
        }
        for operation in operations.values():
            await _timed(operation, 20, 1)  # warm the caches (and the database's), not counted
        figures: dict[str, Any] = {"load_average_before": [round(x, 2) for x in os.getloadavg()]}
        for name, operation in operations.items():
            figures[name] = await _timed(operation, total, 1)
            figures[f"{name}_8"] = await _timed(operation, total, 8)
        figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        return figures


async def run(work: Path, size: int = 100_000, total: int = 400) -> dict[str, Any]:
    """The ``reads`` part of ``make bench``: the figures on SQLite (a file in ``work``) and, when a
    PostgreSQL can be started here (tests/postgres.py), on PostgreSQL."""
    from store.migrate import migrate

    async def on(url: str) -> dict[str, Any]:
        await asyncio.to_thread(migrate, url)
        engine = create_engine(url, pool_size=16)
        try:
            began = time.perf_counter()
            rows = await seed(engine, size)
            seeded = round(time.perf_counter() - began, 1)
            return await measure(engine, rows, total) | {"cases": size, "seed_seconds": seeded}
        finally:
            await engine.dispose()

    results = await on_both(work, "reads", on)
    for engine_name, figures in results.items():
        for kind in ("store_get", "list_first_page", "list_deep_page", "list_by_seller", "list_sync"):
            for name in (kind, f"{kind}_8"):
                if name in figures:
                    f = figures[name]
                    note(
                        f"  {engine_name} {name}: {f['rate']}/s, p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms"
                        f" ({f['concurrency']} at once)"
                    )
    return results
