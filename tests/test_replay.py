"""Recorded histories of representative cases replay against the current workflow code.

A change to workflow code that would break cases already running (a reordered step, a new
activity or timer where a recorded case had none) fails here: such changes need
``workflow.patched`` or a new worker deployment version (docs/deployment.md). The histories
come from ``make record-histories`` (scripts/record_histories.py)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from scripts import replay_check
from tests.support import claim, new_order
from wiring.temporal import WORKFLOWS

VERSIONS = sorted(path for path in (Path(__file__).parent / "histories").iterdir() if path.is_dir())
HISTORIES = sorted(path for version in VERSIONS for path in version.glob("*.json"))
SCENARIOS = {
    "dispute-accept",
    "dispute-mediation-decision",
    "dispute-exchange",
    "dispute-cancel",
    "dispute-inactivity-breach",
    "dispute-continue-as-new",
    "dispute-parked-repaired",
    "dispute-events-linked",
    "ticket-reopen-close",
    "ticket-breach",
}
#: Scenarios of features that came later, recorded from the version that has them on.
SCENARIOS_SINCE = {
    "v4": {
        "dispute-return-refund",  # issue 20: return and refund, delivery events
        "dispute-delivery-moves-receipt",
        "dispute-return-lost",
        "dispute-info-request",  # issue 18: requests for information, business hours, ownership
        "dispute-ownership-breach",
        "ticket-hold",
    },
}


def expected(version: Path) -> set[str]:
    """The scenarios ``version`` must hold: every representative case, and those of the features
    it had (a later version keeps recording them)."""
    number = int(version.name.removeprefix("v"))
    since = {
        name
        for first, names in SCENARIOS_SINCE.items()
        if number >= int(first.removeprefix("v"))
        for name in names
    }
    return SCENARIOS | since


def load(path: Path) -> WorkflowHistory:
    recorded = json.loads(path.read_text())
    return WorkflowHistory.from_json(recorded["workflow_id"], recorded["history"])


@pytest.mark.parametrize("version", VERSIONS, ids=lambda path: path.name)
def test_every_representative_case_is_recorded(version: Path) -> None:
    recorded = {path.name.split(".")[0] for path in version.glob("*.json")}
    assert recorded >= expected(version), expected(version) - recorded
    assert len(list(version.glob("dispute-continue-as-new.*.json"))) >= 2


def test_histories_of_code_before_and_after_the_archive_patch_are_kept() -> None:
    """The archive step came with ``workflow.patched("archive-closed-cases")``: cases recorded before
    it replay without the step (v1), newer ones with it."""
    archived = {
        version.name: any('"archive_case"' in path.read_text() for path in version.glob("*.json"))
        for version in VERSIONS
    }
    assert False in archived.values() and True in archived.values(), archived


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: f"{path.parent.name}/{path.stem}")
async def test_recorded_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"


async def test_the_pre_deploy_check_replays_the_open_cases_of_a_namespace(
    api: httpx.AsyncClient, dev_server_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make replay-check`` (scripts/replay_check.py) replays every open case it finds."""
    order = new_order()
    opened = await api.post("/v1/disputes", json=claim(order))
    dispute_id = opened.json()["id"]
    await api.post(
        f"/v1/disputes/{dispute_id}/messages", json={"actor": {"role": "buyer", "id": "b-1"}, "text": "hi"}
    )
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server_env.client.service_client.config.target_host)
    query = f"ExecutionStatus = 'Running' AND OrderId = '{order}'"
    assert await replay_check.check(query) == (1, 0)
