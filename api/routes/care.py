"""/v1/care/queue: every case that owes care a reply, a decision or a supervisor's review, from
Temporal visibility."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api import visibility
from api.auth import CallerDep, ReadAsDep, own_list
from api.deps import TemporalClientDep
from api.openapi import read_as
from api.problems import Problem
from core import search_attributes as sa
from core.settings import KeyRole
from domain.dispute import DisputeStatus
from domain.ticket import Priority, TicketStatus, TicketTopic

router = APIRouter(prefix="/v1/care", tags=["care"])


class QueueKind(StrEnum):
    """The kinds of case in the care queue."""

    DISPUTE = "dispute"
    TICKET = "ticket"


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


class CareQueue(BaseModel):
    """Priority reports first, then breached cases, then by the earliest due time (none last)."""

    items: list[QueueItem]


def _order(item: QueueItem) -> tuple[bool, bool, datetime]:
    due = min(
        (at for at in (item.care_reply_due_at, item.care_decision_due_at) if at is not None),
        default=datetime.max.replace(tzinfo=UTC),
    )
    return (item.priority != Priority.HIGH, not item.sla_breached, due)


@router.get("/queue", openapi_extra=read_as())
async def care_queue(
    client: TemporalClientDep,
    caller: CallerDep,
    reader: ReadAsDep,
    kind: QueueKind | None = None,
    topic: TicketTopic | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> CareQueue:
    """Disputes in mediation or under a supervisor's review and reports owed a reply; a topic
    filter selects reports only."""
    if caller.role is KeyRole.PLATFORM:
        raise Problem(403, "Forbidden", "the care queue is for care, supervisor and admin keys")
    own_list(reader, "the care queue", {})  # the whole queue or nothing: no party reads it
    items: list[QueueItem] = []
    owed = (DisputeStatus.IN_MEDIATION, DisputeStatus.DECISION_APPEALED)
    for status in owed if kind in (None, QueueKind.DISPUTE) and topic is None else ():
        mediated = visibility.query("dispute", {sa.DISPUTE_STATUS: status.value})
        for execution in await visibility.executions(client, mediated, limit):
            attrs = execution.typed_search_attributes
            items.append(
                QueueItem(
                    kind=QueueKind.DISPUTE,
                    id=execution.id,
                    care_reply_due_at=attrs.get(sa.CARE_REPLY_DUE_AT),
                    care_decision_due_at=attrs.get(sa.CARE_DECISION_DUE_AT),
                    sla_breached=bool(attrs.get(sa.SLA_BREACHED)),
                    priority=Priority.NORMAL.value,
                    status=attrs.get(sa.DISPUTE_STATUS),
                    order_id=attrs.get(sa.ORDER_ID),
                    buyer_id=attrs.get(sa.BUYER_ID),
                    seller_id=attrs.get(sa.SELLER_ID),
                )
            )
    if kind in (None, QueueKind.TICKET):
        filters: dict[Any, str | None] = {
            sa.TICKET_STATUS: TicketStatus.AWAITING_CARE.value,
            sa.TICKET_TOPIC: topic.value if topic else None,
        }
        for execution in await visibility.executions(client, visibility.query("ticket", filters), limit):
            attrs = execution.typed_search_attributes
            items.append(
                QueueItem(
                    kind=QueueKind.TICKET,
                    id=execution.id,
                    care_reply_due_at=attrs.get(sa.CARE_REPLY_DUE_AT),
                    sla_breached=bool(attrs.get(sa.SLA_BREACHED)),
                    priority=attrs.get(sa.CASE_PRIORITY) or Priority.NORMAL.value,
                    status=attrs.get(sa.TICKET_STATUS),
                    topic=attrs.get(sa.TICKET_TOPIC),
                    order_id=attrs.get(sa.ORDER_ID),
                    user_id=attrs.get(sa.USER_ID),
                )
            )
    return CareQueue(items=sorted(items, key=_order))
