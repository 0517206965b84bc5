"""/v1/disputes: open, read, list and act on disputes (Pusat Resolusi)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from temporalio.common import SearchAttributeKey

from api import visibility
from api.auth import ReadAsDep, own_list
from api.cases import ReadCasesDep
from api.deps import OutboxDep, TemporalClientDep
from api.kinds import DISPUTES
from api.openapi import read_as
from api.public import EffectList, EffectPublic
from api.routes.actions import add_case_routes
from api.routes.deliveries import record_delivery
from core import search_attributes as sa
from domain.dispute import DisputeStatus
from domain.types import IDENTIFIER_PATTERN, Role

IdFilter = Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)]


class DisputeSummary(BaseModel):
    """One row of a dispute list, read from Temporal visibility (search attributes)."""

    id: str
    order_id: str | None
    buyer_id: str | None
    seller_id: str | None
    status: str | None
    care_reply_due_at: datetime | None
    sla_breached: bool | None
    opened_at: datetime


class DisputeList(BaseModel):
    """A page of disputes, newest first."""

    items: list[DisputeSummary]


#: The list's columns and the search attributes they are read from.
COLUMNS: dict[str, SearchAttributeKey[Any]] = {
    "order_id": sa.ORDER_ID,
    "buyer_id": sa.BUYER_ID,
    "seller_id": sa.SELLER_ID,
    "status": sa.DISPUTE_STATUS,
    "care_reply_due_at": sa.CARE_REPLY_DUE_AT,
    "sla_breached": sa.SLA_BREACHED,
}


async def list_disputes(
    client: TemporalClientDep,
    reader: ReadAsDep,
    seller_id: IdFilter = None,
    buyer_id: IdFilter = None,
    order_id: IdFilter = None,
    status: DisputeStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DisputeList:
    """Disputes filtered by seller (Pesanan Dikomplain), buyer, order or status, newest first.

    Read as a party (``actor_role`` buyer or seller), only that party's disputes are listed."""
    parties = own_list(reader, "disputes", {Role.BUYER: buyer_id, Role.SELLER: seller_id})
    filters = {
        sa.SELLER_ID: parties[Role.SELLER],
        sa.BUYER_ID: parties[Role.BUYER],
        sa.ORDER_ID: order_id,
        sa.DISPUTE_STATUS: status.value if status else None,
    }
    found = await visibility.executions(client, visibility.query(DISPUTES.name, filters), limit)
    return DisputeList(items=[visibility.row(DisputeSummary, execution, COLUMNS) for execution in found])


async def list_effects(
    dispute_id: str, cases: ReadCasesDep, outbox: OutboxDep, reader: ReadAsDep
) -> EffectList:
    """The outside effects (refunds, releases, notifications, care desk) this dispute caused."""
    await cases.check_party(DISPUTES, dispute_id, reader)  # 404 / 403 from the read model, no worker
    effects = await outbox.for_case(dispute_id)
    return EffectList(items=[EffectPublic.model_validate(effect) for effect in effects])


def router() -> APIRouter:
    """/v1/disputes: open, list, read, the effects, and one POST per registered action."""
    routes = APIRouter(prefix=DISPUTES.path, tags=["disputes"])
    routes.add_api_route("", list_disputes, methods=["GET"], openapi_extra=read_as(Role.BUYER, Role.SELLER))
    routes.add_api_route("/{dispute_id}/effects", list_effects, methods=["GET"])
    routes.add_api_route(
        "/{dispute_id}/shipments/{tracking_number}/delivered",
        record_delivery,
        methods=["POST"],
        response_model=DISPUTES.public,
    )
    add_case_routes(routes, DISPUTES)
    return routes
