"""/v1/care/queue: every case that owes care a reply, a decision or a supervisor's review, from
the read model (``case_views``)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import CallerDep, ReadAsDep, own_list
from api.kinds import SERVED
from api.openapi import read_as
from api.paging import CaseViewsDep, CursorParam, decode_cursor, encode_cursor
from api.problems import Problem
from core.settings import KeyRole
from domain.ticket import Priority, TicketTopic
from domain.types import IDENTIFIER_PATTERN
from store.view_pages import MAX_LIMIT, CaseFilter, CaseRow

router = APIRouter(prefix="/v1/care", tags=["care"])


class QueueKind(StrEnum):
    """The kinds of case in the care queue: every served kind (checked below)."""

    DISPUTE = "dispute"
    TICKET = "ticket"


if set(QueueKind) != set(SERVED):  # a kind served without its place in the queue's filter
    raise RuntimeError(f"the care queue's kinds {sorted(QueueKind)} are not the served {sorted(SERVED)}")


class QueueItem(BaseModel):
    """A case care owes a reply, a decision, or (``DECISION_APPEALED``) a supervisor's review to."""

    kind: QueueKind
    id: str
    care_reply_due_at: datetime | None = Field(description="a reply, or a supervisor's review, is due")
    care_decision_due_at: datetime | None = Field(default=None, description="care's decision is due")
    sla_breached: bool
    priority: str
    status: str | None
    topic: str | None = None
    order_id: str | None = None
    user_id: str | None = None
    buyer_id: str | None = None
    seller_id: str | None = None
    assignee: str | None = Field(default=None, description="the care agent who owns it, if any")
    care_group: str | None = Field(default=None, description="the care group it is routed to, if any")
    version: int = Field(default=0, description="grows with each change of the case")
    paused: bool = Field(
        default=False,
        description="care's target waits (a party was asked for information, or the report is on hold):"
        " its due time is empty until it resumes",
    )

    @classmethod
    def of(cls, row: CaseRow, columns: dict[str, Any]) -> QueueItem:
        """The queue's item of one read-model row, with the fields its kind shows (``columns``)."""
        return cls(
            kind=QueueKind(row.kind),
            id=row.case_id,
            care_reply_due_at=row.care_reply_due_at,
            sla_breached=row.sla_breached,
            priority=row.priority or Priority.NORMAL.value,
            status=row.status,
            assignee=row.assignee,
            care_group=row.care_group,
            version=row.version,
            paused=row.paused,
            **{name: getattr(row, name) for name in columns},
        ).model_copy(update=_PAUSED if row.paused else {})


#: A paused target has no due time until it resumes (the stored clock keeps the one it had).
_PAUSED = {"care_reply_due_at": None, "care_decision_due_at": None}


class CareQueue(BaseModel):
    """Priority reports first, then breached cases, then by the earliest due time (none last), then
    by id; in cursor pages."""

    items: list[QueueItem]
    next_cursor: str | None = Field(default=None, description="pass it as cursor for the next page")


#: Where a case without a due time sorts: last.
_NEVER = datetime.max.replace(tzinfo=UTC)


def _order(item: QueueItem) -> tuple[int, int, datetime, str]:
    due = min(
        (at for at in (item.care_reply_due_at, item.care_decision_due_at) if at is not None),
        default=_NEVER,
    )
    return (int(item.priority != Priority.HIGH), int(not item.sla_breached), due, item.id)


#: ``assignee=none``: only the cases nobody owns.
NOBODY = "none"


@router.get("/queue", openapi_extra=read_as())
async def care_queue(
    views: CaseViewsDep,
    caller: CallerDep,
    reader: ReadAsDep,
    kind: QueueKind | None = None,
    topic: TicketTopic | None = None,
    assignee: Annotated[
        str | None, Query(pattern=IDENTIFIER_PATTERN, description="an agent's id, or none: nobody's cases")
    ] = None,
    group: Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN, description="a care group")] = None,
    cursor: CursorParam = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=1000,
            description="items per page: at most 500 (up to 1000 is taken, as the first queue took it,"
            " and read as 500)",
        ),
    ] = 500,
) -> CareQueue:
    """Disputes in mediation or under a supervisor's review and reports owed a reply; a topic
    filter selects reports only; ``assignee`` (an agent, or ``none``) and ``group`` split it.

    The order is what is urgent now, so a case whose urgency changes between two pages (a target
    breached, a new message) can move past the cursor: the queue is a work list, re-read from its
    first page; a platform's sync uses the case lists' ``updated_after``."""
    if caller.role is KeyRole.PLATFORM:
        raise Problem(403, "Forbidden", "the care queue is for care, supervisor and admin keys")
    own_list(reader, "the care queue", {})  # the whole queue or nothing: no party reads it
    limit = min(limit, MAX_LIMIT)
    after = decode_cursor(cursor, (int, int, datetime, str))
    items: list[QueueItem] = []
    for served in SERVED.values():
        owes = served.care_owes
        if (kind is not None and kind.value != served.name) or (topic is not None and not owes.has_topic):
            continue
        where = CaseFilter(
            kind=served.name,
            statuses=tuple(owes.statuses),
            topic=topic.value if topic else None,
            assignee=None if assignee == NOBODY else assignee,
            unassigned=assignee == NOBODY,
            care_group=group,
        )
        items += [QueueItem.of(row, owes.columns) for row in await views.matching(where)]
    ordered = sorted((item for item in items if after is None or _order(item) > tuple(after)), key=_order)
    shown = ordered[:limit]
    more = len(ordered) > limit
    return CareQueue(items=shown, next_cursor=encode_cursor(_order(shown[-1])) if more else None)
