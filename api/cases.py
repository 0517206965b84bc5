"""Calls into dispute workflows, with "not found" and "already closed" told apart."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem
from domain.commands import Command
from domain.dispute import Dispute
from workflows.dispute import DisputeWorkflow


def _handle(client: Client, dispute_id: str) -> WorkflowHandle[Any, Any]:
    if not dispute_id.startswith("dispute-"):
        raise Problem(404, "Not found", f"no dispute {dispute_id}")
    return client.get_workflow_handle(dispute_id)


def _not_found(error: RPCError, dispute_id: str) -> Problem:
    if error.status is RPCStatusCode.NOT_FOUND:
        return Problem(404, "Not found", f"no dispute {dispute_id}")
    raise error


async def read(client: Client, dispute_id: str) -> Dispute:
    """The dispute's current state (open or closed)."""
    try:
        state: Dispute = await _handle(client, dispute_id).query(DisputeWorkflow.state)
    except RPCError as error:
        raise _not_found(error, dispute_id) from None
    return state


async def act(client: Client, dispute_id: str, update: Any, command: Command) -> Dispute:
    """Run one action as a workflow update and return the dispute as it stands after it."""
    try:
        result: Dispute = await _handle(client, dispute_id).execute_update(update, command)
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
        closed = await read(client, dispute_id)  # 404 here when it never existed
        raise Problem(
            409,
            "Invalid transition",
            f"dispute {dispute_id} is {closed.status.value}: no further action is allowed",
            current_status=closed.status.value,
            allowed_actions=closed.allowed_actions,
        ) from None
    return result
