"""/v1/tickets: help-center reports to care (Pusat Bantuan)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api import visibility
from api.auth import ReadAsDep
from api.cases import TICKETS, CasesDep
from api.deps import TemporalClientDep
from core import search_attributes as sa
from domain.ids import dispute_workflow_id, ticket_workflow_id
from domain.ticket import (
    OpenTicketInput,
    Solve,
    Ticket,
    TicketReply,
    TicketReport,
    TicketStatus,
    TicketTopic,
    UserMessage,
)
from domain.types import IDENTIFIER_PATTERN, Actor, Role
from workflows.ticket import CareTicketWorkflow

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])


class TicketSummary(BaseModel):
    """One row of a report list, read from Temporal visibility."""

    id: str
    user_id: str | None
    topic: str | None
    status: str | None
    priority: str | None
    order_id: str | None
    care_reply_due_at: datetime | None
    sla_breached: bool | None
    opened_at: datetime


class TicketList(BaseModel):
    """A page of reports, newest first."""

    items: list[TicketSummary]


def _summary(execution: WorkflowExecution) -> TicketSummary:
    attrs = execution.typed_search_attributes
    return TicketSummary(
        id=execution.id,
        user_id=attrs.get(sa.USER_ID),
        topic=attrs.get(sa.TICKET_TOPIC),
        status=attrs.get(sa.TICKET_STATUS),
        priority=attrs.get(sa.CASE_PRIORITY),
        order_id=attrs.get(sa.ORDER_ID),
        care_reply_due_at=attrs.get(sa.CARE_REPLY_DUE_AT),
        sla_breached=attrs.get(sa.SLA_BREACHED),
        opened_at=execution.start_time,
    )


async def open_dispute_for(client: Client, order_id: str | None) -> str | None:
    """The id of the order's dispute if one is open, so the report can link to it."""
    if order_id is None:
        return None
    dispute_id = dispute_workflow_id(order_id)
    try:
        described = await client.get_workflow_handle(dispute_id).describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    return dispute_id if described.status == WorkflowExecutionStatus.RUNNING else None


@router.post("", status_code=status.HTTP_201_CREATED)
async def file_report(report: TicketReport, cases: CasesDep) -> Ticket:
    """A user files a report to care; care owes a reply within the reply target.

    With an Idempotency-Key the report's id derives from it, so a retry files nothing new."""
    cases.caller.authorize(Actor(role=Role.USER, id=report.user_id))
    await cases.claim_key()
    ticket_id = ticket_workflow_id((cases.key_digest or uuid.uuid4().hex)[:16])
    request = OpenTicketInput(
        **report.model_dump(),
        dispute_id=await open_dispute_for(cases.client, report.order_id),
        policy=cases.settings.ticket_policy(),
    )
    try:
        await cases.client.start_workflow(
            CareTicketWorkflow.run,
            request,
            id=ticket_id,
            task_queue=cases.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=report.summary(),
            static_details=request.details_markdown(),
        )
    except WorkflowAlreadyStartedError:
        pass  # the retry of a keyed request: answer with the report it filed
    return await cases.read(TICKETS, ticket_id)


@router.get("")
async def list_reports(
    client: TemporalClientDep,
    reader: ReadAsDep,
    user_id: Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)] = None,
    status: TicketStatus | None = None,
    topic: TicketTopic | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TicketList:
    """Reports filtered by user, status or topic, newest first."""
    if reader is not None and reader.role is not Role.CARE:  # a user sees their own reports only
        user_id = reader.id
    filters = {
        sa.USER_ID: user_id,
        sa.TICKET_STATUS: status.value if status else None,
        sa.TICKET_TOPIC: topic.value if topic else None,
    }
    found = await visibility.executions(client, visibility.query("ticket", filters), limit)
    return TicketList(items=[_summary(execution) for execution in found])


@router.get("/{ticket_id}")
async def get_report(ticket_id: str, cases: CasesDep, reader: ReadAsDep) -> Ticket:
    """The whole report: status, messages, reply target, linked dispute, timeline."""
    return await cases.read(TICKETS, ticket_id, reader)


@router.post("/{ticket_id}/messages")
async def user_message(ticket_id: str, command: UserMessage, cases: CasesDep) -> Ticket:
    """The reporting user writes (as {"role": "user", "id": user_id}); reopens a solved report."""
    return await cases.act(TICKETS, ticket_id, CareTicketWorkflow.message, command)


@router.post("/{ticket_id}/care/replies")
async def care_reply(ticket_id: str, command: TicketReply, cases: CasesDep) -> Ticket:
    """Care replies; the reply lands in the user's inbox."""
    return await cases.act(TICKETS, ticket_id, CareTicketWorkflow.reply, command)


@router.post("/{ticket_id}/solve")
async def solve(ticket_id: str, command: Solve, cases: CasesDep) -> Ticket:
    """Care marks the report solved; it closes after the quiet period unless the user writes."""
    return await cases.act(TICKETS, ticket_id, CareTicketWorkflow.solve, command)
