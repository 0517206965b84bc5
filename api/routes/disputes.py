"""/v1/disputes: open, read, list and act on disputes (Pusat Resolusi)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import ReadAsDep, own_list
from api.cases import ReadCasesDep
from api.deps import OutboxDep
from api.kinds import DISPUTES
from api.openapi import read_as
from api.paging import (
    CaseViewsDep,
    CursorParam,
    Limit,
    OpenedBound,
    UpdatedAfter,
    case_after,
    case_cursor,
    decode_cursor,
    encode_cursor,
)
from api.public import EffectList, EffectPublic
from api.routes.actions import add_case_routes
from api.routes.deliveries import record_delivery
from domain.dispute import DisputeStatus
from domain.types import IDENTIFIER_PATTERN, Role
from store.view_pages import CaseFilter, CaseRow

IdFilter = Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)]


class DisputeSummary(BaseModel):
    """One row of a dispute list, read from the read model (``case_views``)."""

    id: str
    order_id: str | None
    buyer_id: str | None
    seller_id: str | None
    status: str | None
    care_reply_due_at: datetime | None
    sla_breached: bool | None
    opened_at: datetime
    version: int = Field(description="grows with each change of the case")
    updated_at: datetime = Field(
        description="when the case last changed (the order of an updated_after sync)"
    )

    @classmethod
    def of(cls, row: CaseRow) -> DisputeSummary:
        """The list row of one read-model row."""
        return cls.model_validate(row.model_dump() | {"id": row.case_id})


class DisputeList(BaseModel):
    """A page of disputes: newest first, or oldest change first with ``updated_after``."""

    items: list[DisputeSummary]
    next_cursor: str | None = Field(description="pass it as cursor for the next page; null on the last")


async def list_disputes(
    views: CaseViewsDep,
    reader: ReadAsDep,
    seller_id: IdFilter = None,
    buyer_id: IdFilter = None,
    order_id: IdFilter = None,
    status: DisputeStatus | None = None,
    opened_after: OpenedBound = None,
    opened_before: OpenedBound = None,
    updated_after: UpdatedAfter = None,
    cursor: CursorParam = None,
    limit: Limit = 100,
) -> DisputeList:
    """Disputes filtered by seller (Pesanan Dikomplain), buyer, order, status or time, in cursor
    pages: newest first (each dispute once per pass, however they change), or with
    ``updated_after`` the ones changed since then, oldest change first (a platform's sync).

    Read as a party (``actor_role`` buyer or seller), only that party's disputes are listed."""
    parties = own_list(reader, "disputes", {Role.BUYER: buyer_id, Role.SELLER: seller_id})
    where = CaseFilter(
        kind=DISPUTES.name,
        seller_id=parties[Role.SELLER],
        buyer_id=parties[Role.BUYER],
        order_id=order_id,
        statuses=(status.value,) if status else (),
        opened_after=opened_after,
        opened_before=opened_before,
        updated_after=updated_after,
    )
    rows, more = await views.page(where, limit, case_after(cursor, where.order))
    return DisputeList(
        items=[DisputeSummary.of(row) for row in rows], next_cursor=case_cursor(rows, more, where.order)
    )


async def list_effects(
    dispute_id: str,
    cases: ReadCasesDep,
    outbox: OutboxDep,
    reader: ReadAsDep,
    cursor: CursorParam = None,
    limit: Limit = 500,
) -> EffectList:
    """The outside effects (refunds, releases, notifications, care desk) this dispute caused,
    oldest first, in cursor pages."""
    await cases.check_party(DISPUTES, dispute_id, reader)  # 404 / 403 from the read model, no worker
    (after,) = decode_cursor(cursor, (int,)) or (0,)
    effects = await outbox.for_case(dispute_id, after=after, limit=limit + 1)
    shown = effects[:limit]
    more = len(effects) > limit and shown[-1].seq is not None
    return EffectList(
        items=[EffectPublic.model_validate(effect) for effect in shown],
        next_cursor=encode_cursor([shown[-1].seq]) if more and shown[-1].seq is not None else None,
    )


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
