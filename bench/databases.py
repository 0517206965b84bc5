"""Running a bench part on both service databases: a SQLite file, and a throwaway PostgreSQL
cluster when one can be started here (tests/postgres.py: Debian's postgresql)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


async def on_both(work: Path, name: str, on: Callable[[str], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """``on(url)``'s figures per database (``sqlite``, ``postgresql``), each database named
    ``name``; PostgreSQL's entry says why when none can be started."""
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    results = {"sqlite": await on(f"sqlite+aiosqlite:///{work / f'{name}.sqlite3'}")}
    from tests.postgres import PostgresServer, Unavailable  # the test suite's throwaway cluster

    try:
        server = await asyncio.to_thread(PostgresServer().start)
    except Unavailable as reason:
        results["postgresql"] = {"error": f"no PostgreSQL here: {reason}"}
    else:
        try:
            url = await asyncio.to_thread(server.create_database, f"{name}_bench")
            results["postgresql"] = await on(url)
        finally:
            await asyncio.to_thread(server.stop)
    return results
