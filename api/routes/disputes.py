"""/v1/disputes: open, read, list and act on disputes (Pusat Resolusi)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.client import WorkflowExecution

from api import visibility
from api.auth import ReadAsDep, own_list
from api.cases import DISPUTES, CasesDep, ReadCasesDep
from api.deps import OutboxDep, TemporalClientDep
from api.routes.actions import add_action_routes
from core import search_attributes as sa
from domain.dispute import DisputeClaim, DisputeStatus
from domain.types import IDENTIFIER_PATTERN, Actor, Role
from domain.views import DisputeView
from store.outbox import Effect

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


class EffectList(BaseModel):
    """The outside effects of one dispute, oldest first."""

    items: list[Effect]


def _summary(execution: WorkflowExecution) -> DisputeSummary:
    attrs = execution.typed_search_attributes
    return DisputeSummary(
        id=execution.id,
        order_id=attrs.get(sa.ORDER_ID),
        buyer_id=attrs.get(sa.BUYER_ID),
        seller_id=attrs.get(sa.SELLER_ID),
        status=attrs.get(sa.DISPUTE_STATUS),
        care_reply_due_at=attrs.get(sa.CARE_REPLY_DUE_AT),
        sla_breached=attrs.get(sa.SLA_BREACHED),
        opened_at=execution.start_time,
    )


async def open_dispute(claim: DisputeClaim, cases: CasesDep) -> JSONResponse:
    """The buyer opens a dispute on one order; a repeat for the same order returns the existing one
    (200), except a retry with the Idempotency-Key that opened it, which gets the first 201."""
    cases.caller.authorize(Actor(role=Role.BUYER, id=claim.buyer_id))
    return await cases.keyed(lambda: cases.open_dispute(claim))


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
    found = await visibility.executions(client, visibility.query("dispute", filters), limit)
    items = [_summary(execution) for execution in found]
    return DisputeList(items=items)


async def get_dispute(dispute_id: str, cases: ReadCasesDep, reader: ReadAsDep) -> DisputeView:
    """The whole dispute: status, offers, allowed actions per role, deadlines, timeline."""
    return await cases.read(DISPUTES, dispute_id, reader)


async def list_effects(
    dispute_id: str, cases: ReadCasesDep, outbox: OutboxDep, reader: ReadAsDep
) -> EffectList:
    """The outside effects (refunds, releases, notifications, care desk) this dispute caused."""
    await cases.read(DISPUTES, dispute_id, reader)  # 404 / 403 before any effect
    return EffectList(items=await outbox.for_case(dispute_id))


def router() -> APIRouter:
    """/v1/disputes: open, list, read, the effects, and one POST per registered action."""
    routes = APIRouter(prefix="/v1/disputes", tags=["disputes"])
    routes.add_api_route(
        "",
        open_dispute,
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        response_model=DisputeView,
        responses={200: {"description": "a dispute for this order already exists and is returned"}},
    )
    routes.add_api_route("", list_disputes, methods=["GET"])
    routes.add_api_route("/{dispute_id}", get_dispute, methods=["GET"])
    routes.add_api_route("/{dispute_id}/effects", list_effects, methods=["GET"])
    add_action_routes(routes, DISPUTES, DisputeView)
    return routes
