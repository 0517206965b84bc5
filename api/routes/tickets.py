"""/v1/tickets: help-center reports to care (Pusat Bantuan)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from temporalio.common import SearchAttributeKey

from api import visibility
from api.auth import ReadAsDep, own_list
from api.cases import Cases
from api.deps import TemporalClientDep
from api.kinds import TICKETS
from api.openapi import read_as
from api.routes import help
from api.routes.actions import add_case_routes
from core import search_attributes as sa
from domain.ticket import TicketStatus, TicketTopic
from domain.types import IDENTIFIER_PATTERN, Role


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


#: The list's columns and the search attributes they are read from.
COLUMNS: dict[str, SearchAttributeKey[Any]] = {
    "user_id": sa.USER_ID,
    "topic": sa.TICKET_TOPIC,
    "status": sa.TICKET_STATUS,
    "priority": sa.CASE_PRIORITY,
    "order_id": sa.ORDER_ID,
    "care_reply_due_at": sa.CARE_REPLY_DUE_AT,
    "sla_breached": sa.SLA_BREACHED,
}


class ViewedArticles:
    """A report names the Help Center articles its user read first (``viewed_articles``): each must
    exist, and the report is counted against them for deflection (docs/help-center.md)."""

    async def check(self, cases: Cases, claim: Any) -> None:
        """Refuse an unknown article id with a 422 naming ``viewed_articles``."""
        await help.check_viewed(cases.engine, claim.viewed_articles)

    async def opened(self, cases: Cases, claim: Any, case_id: str, now: datetime) -> None:
        """Record the filed report for the Help Center's deflection counts."""
        await help.record_report(cases.engine, case_id, claim.user_id, claim.viewed_articles, now)


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
    found = await visibility.executions(client, visibility.query(TICKETS.name, filters), limit)
    return TicketList(items=[visibility.row(TicketSummary, execution, COLUMNS) for execution in found])


def router() -> APIRouter:
    """/v1/tickets: file, list, read, and one POST per registered action."""
    routes = APIRouter(prefix=TICKETS.path, tags=["tickets"])
    routes.add_api_route("", list_reports, methods=["GET"], openapi_extra=read_as(Role.USER))
    add_case_routes(routes, TICKETS, ViewedArticles())
    return routes
