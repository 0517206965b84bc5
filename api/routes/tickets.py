"""/v1/tickets: help-center reports to care (Pusat Bantuan)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.client import WorkflowExecution

from api import visibility
from api.auth import ReadAsDep, own_list
from api.cases import TICKETS, CasesDep, ReadCasesDep
from api.deps import NowDep, TemporalClientDep
from api.routes import help
from api.routes.actions import add_action_routes
from core import search_attributes as sa
from domain.ticket import TicketReport, TicketStatus, TicketTopic
from domain.types import IDENTIFIER_PATTERN, Actor, Role
from domain.views import TicketView


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


async def file_report(report: TicketReport, cases: CasesDep, now: NowDep) -> JSONResponse:
    """A user files a report to care; care owes a reply within the reply target.

    With an Idempotency-Key the report's id derives from it, so a retry files nothing new.
    ``viewed_articles`` names the Help Center articles the user read first (care sees them)."""
    cases.caller.authorize(Actor(role=Role.USER, id=report.user_id))
    await help.check_viewed(cases.engine, report.viewed_articles)
    ticket_key = (cases.key_digest or uuid.uuid4().hex)[:16]
    response = await cases.keyed(lambda: cases.file_report(report, ticket_key))
    if response.status_code < status.HTTP_300_MULTIPLE_CHOICES:
        filed = json.loads(bytes(response.body))["id"]
        await help.record_report(cases.engine, filed, report.user_id, report.viewed_articles, now)
    return response


async def list_reports(
    client: TemporalClientDep,
    reader: ReadAsDep,
    user_id: Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)] = None,
    status: TicketStatus | None = None,
    topic: TicketTopic | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TicketList:
    """Reports filtered by user, status or topic, newest first.

    Read as a party (``actor_role`` user), only that user's reports are listed."""
    parties = own_list(reader, "reports", {Role.USER: user_id})
    filters = {
        sa.USER_ID: parties[Role.USER],
        sa.TICKET_STATUS: status.value if status else None,
        sa.TICKET_TOPIC: topic.value if topic else None,
    }
    found = await visibility.executions(client, visibility.query("ticket", filters), limit)
    return TicketList(items=[_summary(execution) for execution in found])


async def get_report(ticket_id: str, cases: ReadCasesDep, reader: ReadAsDep) -> TicketView:
    """The whole report: status, messages, reply target, linked dispute, timeline."""
    return await cases.read(TICKETS, ticket_id, reader)


def router() -> APIRouter:
    """/v1/tickets: file, list, read, and one POST per registered action."""
    routes = APIRouter(prefix="/v1/tickets", tags=["tickets"])
    routes.add_api_route(
        "", file_report, methods=["POST"], status_code=status.HTTP_201_CREATED, response_model=TicketView
    )
    routes.add_api_route("", list_reports, methods=["GET"])
    routes.add_api_route("/{ticket_id}", get_report, methods=["GET"])
    add_action_routes(routes, TICKETS, TicketView)
    return routes
