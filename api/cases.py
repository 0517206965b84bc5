"""Calls into case workflows, with "not found" and "already closed" told apart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.problems import Problem
from domain.commands import Command
from domain.dispute import Dispute
from domain.ticket import Ticket
from workflows.dispute import DisputeWorkflow
from workflows.ticket import CareTicketWorkflow

StateT = TypeVar("StateT", Dispute, Ticket)


@dataclass(frozen=True)
class CaseType(Generic[StateT]):
    """A kind of case: its workflow id prefix, what users call it, and its state query."""

    prefix: str
    noun: str
    state: Callable[[Any], StateT]


DISPUTES = CaseType[Dispute]("dispute-", "dispute", DisputeWorkflow.state)
TICKETS = CaseType[Ticket]("care-ticket-", "report", CareTicketWorkflow.state)


def _handle(client: Client, kind: CaseType[Any], case_id: str) -> WorkflowHandle[Any, Any]:
    if not case_id.startswith(kind.prefix):
        raise Problem(404, "Not found", f"no {kind.noun} {case_id}")
    return client.get_workflow_handle(case_id)


async def read(client: Client, kind: CaseType[StateT], case_id: str) -> StateT:
    """The case's current state (open or closed)."""
    try:
        return await _handle(client, kind, case_id).query(kind.state)
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            raise Problem(404, "Not found", f"no {kind.noun} {case_id}") from None
        raise


async def act(
    client: Client,
    kind: CaseType[StateT],
    case_id: str,
    update: UpdateMethodMultiParam[[Any, Any], StateT],
    command: Command,
) -> StateT:
    """Run one action as a workflow update and return the case as it stands after it."""
    try:
        return await _handle(client, kind, case_id).execute_update(update, command)
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
        closed = await read(client, kind, case_id)  # 404 here when it never existed
        raise Problem(
            409,
            "Invalid transition",
            f"{kind.noun} {case_id} is {closed.status.value}: no further action is allowed",
            current_status=closed.status.value,
            allowed_actions=closed.allowed_actions,
        ) from None
