"""/v1/tickets: help-center reports to care (Pusat Bantuan)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel
from temporalio.client import WorkflowExecution
from temporalio.exceptions import WorkflowAlreadyStartedError

from api import visibility
from api.auth import ReadAsDep
from api.cases import TICKETS, CasesDep, ReadCasesDep
from api.deps import TemporalClientDep
from core import search_attributes as sa
from domain.ids import ticket_workflow_id
from domain.ticket import (
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


@router.post("", status_code=status.HTTP_201_CREATED)
async def file_report(report: TicketReport, cases: CasesDep) -> Ticket:
    """A user files a report to care; care owes a reply within the reply target.

    With an Idempotency-Key the report's id derives from it, so a retry files nothing new."""
    cases.caller.authorize(Actor(role=Role.USER, id=report.user_id))
    await cases.claim_key()
    ticket_key = (cases.key_digest or uuid.uuid4().hex)[:16]
    try:
        await cases.start_ticket(report, ticket_key)
    except WorkflowAlreadyStartedError:
        pass  # the retry of a keyed request: answer with the report it filed
    ticket_id = ticket_workflow_id(ticket_key)
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
async def get_report(ticket_id: str, cases: ReadCasesDep, reader: ReadAsDep) -> Ticket:
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
