"""A case's history as Temporal keeps it: every run of a workflow id, its events and bytes."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client

from bench import service

_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "canceled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued as new",
}


async def read(client: Client, workflow_id: str) -> dict[str, Any]:
    """Events, serialized bytes (as the server counts them) and messages of every run of
    ``workflow_id``, oldest run first, following continue-as-new back from the latest run."""
    runs: list[dict[str, Any]] = []
    run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        events = list(history.events)
        last = events[-1].event_type if events else None
        started = events[0].workflow_execution_started_event_attributes if events else None
        ended = _CLOSED.get(last, "running") if last is not None else "running"
        reason = ""
        if last == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            reason = events[-1].workflow_execution_terminated_event_attributes.reason
        suggested_after = None  # messages in this run when the server first suggested continue-as-new
        messages = 0
        for event in events:
            messages += service.is_message(event)
            started_task = event.workflow_task_started_event_attributes
            if suggested_after is None and started_task.suggest_continue_as_new:
                suggested_after = messages
        runs.append(
            {
                "run_id": run_id,
                "continue_as_new_suggested_after": suggested_after,
                "events": len(events),
                "bytes": History(events=events).ByteSize(),
                "messages": messages,
                "ended": ended,
                "reason": reason,
            }
        )
        run_id = started.continued_execution_run_id if started else ""
    runs.reverse()
    continued_after: list[int] = []
    messages = 0
    for run in runs[:-1]:
        messages += run["messages"]
        continued_after.append(messages)
    suggested = next(
        (
            sum(r["messages"] for r in runs[:i]) + run["continue_as_new_suggested_after"]
            for i, run in enumerate(runs)
            if run["continue_as_new_suggested_after"] is not None
        ),
        None,
    )
    return {
        "runs": runs,
        "continue_as_new_first_suggested_after_messages": suggested,
        "events": sum(run["events"] for run in runs),
        "bytes": sum(run["bytes"] for run in runs),
        "latest_run_bytes": runs[-1]["bytes"] if runs else 0,
        "continued_as_new_after_messages": continued_after,
        "ended": runs[-1]["ended"] if runs else "missing",
        "reason": runs[-1]["reason"] if runs else "",
    }
