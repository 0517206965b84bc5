"""The Help Center's bench part runs (tiny sizes): it checks the harness, not the performance."""

from __future__ import annotations

import os
from pathlib import Path

from bench import help as help_bench


async def test_the_help_bench_part_measures_both_databases(tmp_path: Path) -> None:
    results = await help_bench.run(tmp_path, size=120, total=40)
    engines = ["sqlite", "postgresql"]
    if "error" in results["postgresql"] and not os.environ.get("CI"):
        engines = ["sqlite"]  # no PostgreSQL on this machine (CI has one)
    for engine in engines:
        figures = results[engine]
        assert figures["articles"] == 120, figures
        for kind in (
            "search",
            "search_cold",
            "search_cold_alone",
            "suggest",
            "suggest_alone",
            "suggest_repeated",
        ):
            assert 0 < figures[kind]["p50_ms"] <= figures[kind]["p99_ms"], figures
            assert figures[kind]["rate"] > 0, figures
        # the repeated queries come from the cache, the varied ones each do the database's work
        assert figures["cache"]["hits"] >= 40, figures
        assert figures["cache"]["misses"] >= 40 + 20, figures
