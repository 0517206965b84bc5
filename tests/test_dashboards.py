"""The Grafana dashboards are code: the committed JSON in deploy/grafana/dashboards is what
scripts/dashboards.py builds, and each dashboard shows what on-call looks for. (That every query
names a metric the service really exports is checked against a running stack in
tests/test_alerts_e2e.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scripts import dashboards
from tests.test_alerts_e2e import expression_metrics

ROOT = Path(__file__).resolve().parent.parent
#: What each dashboard must show, as the metrics its queries read.
SHOWS = {
    "case-flow.json": {"case_events", "api_requests_total", "disputes_resolved", "cases_open"},
    "care.json": {
        "care_queue_length",
        "care_queue_longest_wait_seconds",
        "care_time_to_answer_bucket",
        "case_events",
    },
    "effects.json": {"effect_attempts_over_threshold", "effects_parked_now", "webhook_dead_letters"},
    "temporal-sdk.json": {
        "temporal_workflow_task_schedule_to_start_latency_bucket",
        "temporal_worker_task_slots_available",
        "temporal_sticky_cache_size",
        "temporal_sticky_cache_hit",
    },
}


def test_the_committed_json_is_what_the_code_builds() -> None:
    built = dashboards.build_all()
    committed = sorted(path.name for path in dashboards.OUTPUT.glob("*.json"))
    assert committed == sorted(built), "run make dashboards"
    for name, board in built.items():
        assert (dashboards.OUTPUT / name).read_text() == dashboards.render(board), (
            f"{name}: run make dashboards"
        )
    checked = subprocess.run(
        [sys.executable, "-m", "scripts.dashboards", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_each_dashboard_shows_what_on_call_looks_for() -> None:
    uids = set()
    for name, board in dashboards.build_all().items():
        model = json.loads(dashboards.render(board))
        uids.add(model["uid"])
        panels = model["panels"]
        assert len({panel["id"] for panel in panels}) == len(panels), f"{name}: panel ids repeat"
        read = set()
        for panel in panels:
            refs = [target["refId"] for target in panel.get("targets", [])]
            assert len(set(refs)) == len(refs) and all(refs), f"{name} / {panel['title']}: refIds"
            for target in panel.get("targets", []):
                read |= expression_metrics(target["expr"])
        assert SHOWS[name] <= read, f"{name} lacks {SHOWS[name] - read}"
    assert len(uids) == len(SHOWS)


def test_a_stale_dashboard_is_reported(tmp_path: Path) -> None:
    assert dashboards.main([], output=tmp_path) == 0
    assert dashboards.main(["--check"], output=tmp_path) == 0
    board = tmp_path / "care.json"
    board.write_text(board.read_text().replace("Care queue", "Care line"))
    assert dashboards.main(["--check"], output=tmp_path) == 1
