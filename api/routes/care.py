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
from api.kinds import SERVED
from api.openapi import read_as
from api.problems import Problem
from core import search_attributes as sa
from core.settings import KeyRole
from domain.ticket import Priority, TicketTopic

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
    for served in SERVED.values():
        owes = served.care_owes
        if (kind is not None and kind.value != served.name) or (topic is not None and not owes.has_topic):
            continue
        for owed in owes.statuses:
            filters: dict[Any, str | None] = {owes.status: owed}
            if owes.has_topic:
                filters[sa.TICKET_TOPIC] = topic.value if topic else None
            for execution in await visibility.executions(
                client, visibility.query(served.name, filters), limit
            ):
                attrs = execution.typed_search_attributes
                columns = {name: attrs.get(key) for name, key in owes.columns.items()}
                items.append(
                    QueueItem(
                        kind=QueueKind(served.name),
                        id=execution.id,
                        care_reply_due_at=attrs.get(sa.CARE_REPLY_DUE_AT),
                        sla_breached=bool(attrs.get(sa.SLA_BREACHED)),
                        priority=attrs.get(sa.CASE_PRIORITY) or Priority.NORMAL.value,
                        status=attrs.get(owes.status),
                        **columns,
                    )
                )
    return CareQueue(items=sorted(items, key=_order))
