"""/v1/tickets: help-center reports to care (Pusat Bantuan)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import ReadAsDep, own_list
from api.cases import Cases
from api.kinds import TICKETS
from api.openapi import read_as
from api.paging import CaseViewsDep, CursorParam, Limit, OpenedBound, UpdatedAfter, case_after, case_cursor
from api.routes import help
from api.routes.actions import add_case_routes
from domain.ticket import TicketStatus, TicketTopic
from domain.types import IDENTIFIER_PATTERN, Role
from store.view_pages import CaseFilter, CaseRow


class TicketSummary(BaseModel):
    """One row of a report list, read from the read model (``case_views``)."""

    id: str
    user_id: str | None
    topic: str | None
    status: str | None
    priority: str | None
    order_id: str | None
    care_reply_due_at: datetime | None
    sla_breached: bool | None
    opened_at: datetime
    version: int = Field(description="grows with each change of the case")
    updated_at: datetime = Field(
        description="when the case last changed (the order of an updated_after sync)"
    )

    @classmethod
    def of(cls, row: CaseRow) -> TicketSummary:
        """The list row of one read-model row."""
        return cls.model_validate(row.model_dump() | {"id": row.case_id})


class TicketList(BaseModel):
    """A page of reports: newest first, or oldest change first with ``updated_after``."""

    items: list[TicketSummary]
    next_cursor: str | None = Field(description="pass it as cursor for the next page; null on the last")


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
    views: CaseViewsDep,
    reader: ReadAsDep,
    user_id: Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)] = None,
    status: TicketStatus | None = None,
    topic: TicketTopic | None = None,
    opened_after: OpenedBound = None,
    opened_before: OpenedBound = None,
    updated_after: UpdatedAfter = None,
    cursor: CursorParam = None,
    limit: Limit = 100,
) -> TicketList:
    """Reports filtered by user, status, topic or time, in cursor pages: newest first (each report
    once per pass), or with ``updated_after`` the ones changed since then, oldest change first.

    Read as a party (``actor_role`` user), only that user's reports are listed."""
    parties = own_list(reader, "reports", {Role.USER: user_id})
    where = CaseFilter(
        kind=TICKETS.name,
        user_id=parties[Role.USER],
        statuses=(status.value,) if status else (),
        topic=topic.value if topic else None,
        opened_after=opened_after,
        opened_before=opened_before,
        updated_after=updated_after,
    )
    rows, more = await views.page(where, limit, case_after(cursor, where.order))
    return TicketList(
        items=[TicketSummary.of(row) for row in rows], next_cursor=case_cursor(rows, more, where.order)
    )


def router() -> APIRouter:
    """/v1/tickets: file, list, read, and one POST per registered action."""
    routes = APIRouter(prefix=TICKETS.path, tags=["tickets"])
    routes.add_api_route("", list_reports, methods=["GET"], openapi_extra=read_as(Role.USER))
    add_case_routes(routes, TICKETS, ViewedArticles())
    return routes
