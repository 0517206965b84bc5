"""The read model's bench part runs (tiny sizes): it checks the harness, not the performance."""

from __future__ import annotations

import os
from pathlib import Path

from bench import reads as reads_bench


async def test_the_reads_bench_part_measures_both_databases(tmp_path: Path) -> None:
    results = await reads_bench.run(tmp_path, size=1200, total=10)
    engines = ["sqlite", "postgresql"]
    if "error" in results["postgresql"] and not os.environ.get("CI"):
        engines = ["sqlite"]  # no PostgreSQL on this machine (CI has one)
    for engine in engines:
        figures = results[engine]
        assert figures["cases"] == 1200, figures
        for kind in ("store_get", "list_first_page", "list_deep_page", "list_by_seller", "list_sync"):
            for name in (kind, f"{kind}_8"):
                assert 0 < figures[name]["p50_ms"] <= figures[name]["p99_ms"], figures
                assert figures[name]["n"] == 10, figures
