"""`make replay-check`: before a deploy, replay the open cases of a namespace against this code.

Connects like the worker (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS / API key) and reads the
payload keys where the worker does (``Settings.payload_keys``: DISPUTES_PAYLOAD_KEYS, else the data
folder's payload-keys.json that ``make run`` and compose create), fetches the history of every
running dispute and report, and replays each with the workflows of this checkout. A case that
fails to replay would be wedged by the new code on its next workflow task: do not deploy; guard
the change with ``workflow.patched`` or ship it as a new worker deployment version
(docs/deployment.md). Exit status 1 on any failure."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator, Sequence

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.settings import Settings, get_settings
from wiring.temporal import WORKFLOWS, connect, data_converter

OPEN_CASES = "ExecutionStatus = 'Running' AND CaseKind IN ('dispute', 'ticket')"


async def check(
    query: str = OPEN_CASES, settings: Settings | None = None, workflows: Sequence[type] = WORKFLOWS
) -> tuple[int, int]:
    """Replay every workflow ``query`` finds against ``workflows`` (this checkout's); print what
    failed; return (replayed, failed)."""
    settings = settings or get_settings()
    client = await connect(settings=settings)
    replayer = Replayer(workflows=workflows, data_converter=data_converter(settings))
    checked = 0

    async def histories() -> AsyncIterator[WorkflowHistory]:
        nonlocal checked
        async for history in client.list_workflows(query).map_histories():
            checked += 1
            yield history

    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    failures = results.replay_failures
    for run_id, failure in failures.items():
        print(f"FAILS  run {run_id}: {failure}", file=sys.stderr)
    print(f"replayed {checked} open case(s) of namespace {client.namespace}: {len(failures)} would break")
    return checked, len(failures)


if __name__ == "__main__":
    _, failed = asyncio.run(check(sys.argv[1] if len(sys.argv) > 1 else OPEN_CASES))
    gc.collect()
    sys.exit(1 if failed else 0)
