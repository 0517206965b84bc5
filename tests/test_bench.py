"""`make bench` in miniature, so the benchmark never rots: it checks that the harness starts the
stack, drives every figure and writes sane, non-empty results, not how fast anything is."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench import profile
from bench.config import smoke
from bench.run import run


def _positive(value: float) -> bool:
    return isinstance(value, int | float) and not math.isnan(value) and value > 0


async def test_a_tiny_bench_measures_every_part(tmp_path: Path) -> None:
    settings = smoke().model_copy(update={"results_dir": tmp_path / "results", "work_dir": tmp_path / "work"})
    results = await run(settings)

    for part in (results["table"], results["latency"], results["history"], *results["many_cases"]):
        assert "error" not in part, part["error"]
    written = list((tmp_path / "results").glob("*.json"))
    assert len(written) == 1
    assert json.loads(written[0].read_text())["table"]["ratios"] == results["table"]["ratios"]
    assert results["machine"]["cores"] >= 1 and results["machine"]["memory_gb"] > 0

    figures = results["table"]["figures"]
    assert len(figures) == 14
    for key, figure in figures.items():
        assert figure["errors"] == 0, (key, figure["first_errors"])
        assert figure["ok"] == settings.n and _positive(figure["rate"]), key
        assert 0 < figure["latency_ms"]["p50"] <= figure["latency_ms"]["max"], key
        assert figure["resources"]["cpu_seconds"]["dev_server"] > 0, key
    assert all(_positive(ratio) for ratio in results["table"]["ratios"].values())
    assert all(_positive(ratio) for ratio in results["table"]["cpu_ratios"].values())
    # The service's figures cost the service's processes, the raw ones the raw worker.
    assert figures["api_open"]["resources"]["cpu_seconds"]["worker"] > 0
    assert figures["raw_open"]["resources"]["cpu_seconds"]["raw_worker"] > 0

    latency = results["latency"]
    for key, figure in latency["figures"].items():
        assert figure["errors"] == 0 and figure["ok"] >= settings.latency_samples, key
        assert 0 < figure["latency_ms"]["p50"] <= figure["latency_ms"]["p99"], key
    assert _positive(latency["api_vs_raw_p50"])

    history = results["history"]
    assert history["stopped"] is None
    snapshots = history["snapshots"]
    assert [s["messages"] for s in snapshots] == [0, 2, 4]
    assert [s["runs"][-1]["messages"] for s in snapshots] == [0, 2, 4]  # counted from the history itself
    assert snapshots[0]["bytes"] < snapshots[1]["bytes"] < snapshots[2]["bytes"]
    assert snapshots[0]["events"] < snapshots[1]["events"] < snapshots[2]["events"]
    assert all(row["bytes_per_message"] > history["text_bytes"] for row in history["per_message"])

    parts = results["many_cases"]
    assert [part["cases"] for part in parts] == [10, 20]
    for part in parts:
        assert part["opened"] == part["timers_fired"] == part["cases"]
        assert 0 <= part["lateness_s"]["p50"] <= part["lateness_s"]["max"] < 60
        assert part["timeline_lateness_s"]["sample"] == settings.timeline_sample
        assert part["rss_mb"]["worker_peak"] > 0 and part["rss_mb"]["dev_server_peak"] > 0
        assert part["bytes_per_case"]["temporal_db"] > 0 and part["bytes_per_case"]["store"] > 0


def test_a_profile_is_summarized_by_area_and_function(tmp_path: Path) -> None:
    collapsed = tmp_path / "worker.pyspy.txt"
    collapsed.write_text(
        "<module> (worker.py:1);run (asyncio/runners.py:10);encode (pydantic/main.py:5) 6\n"
        "<module> (worker.py:1);run (asyncio/runners.py:10);_apply (workflows/base.py:90) 3\n"
        "<module> (worker.py:1);execute (aiosqlite/core.py:7) 1\n"
    )
    summary = profile.summarize(collapsed)
    assert summary["samples"] == 10
    assert summary["areas"][0] == ["pydantic", 60.0]
    assert ["project:workflows", 30.0] in summary["areas"]
    assert summary["self"][0] == ["encode (pydantic/main.py)", 60.0]
    assert ["run (asyncio/runners.py)", 90.0] in summary["inclusive"]
