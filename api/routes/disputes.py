"""/v1/disputes: open, read, list and act on disputes (Pusat Resolusi)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel
from temporalio.client import WorkflowExecution
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.models import Effect
from api import visibility
from api.auth import ReadAsDep
from api.cases import DISPUTES, CasesDep, ReadCasesDep
from api.deps import OutboxDep, TemporalClientDep
from api.problems import Problem
from core import search_attributes as sa
from domain.commands import (
    Accept,
    Appeal,
    Cancel,
    CareReply,
    ConfirmReceipt,
    Decide,
    MakeOffer,
    Reject,
    RequestHelp,
    SendMessage,
    Ship,
)
from domain.dispute import Dispute, DisputeClaim, DisputeStatus
from domain.ids import dispute_workflow_id
from domain.types import IDENTIFIER_PATTERN, Actor, Role
from workflows.dispute import DisputeWorkflow

router = APIRouter(prefix="/v1/disputes", tags=["disputes"])

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


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "a dispute for this order already exists and is returned"}},
)
async def open_dispute(claim: DisputeClaim, cases: CasesDep, response: Response) -> Dispute:
    """The buyer opens a dispute on one order; a repeat for the same order returns the existing one
    (200), except a retry with the Idempotency-Key that opened it, which gets the first 201."""
    cases.caller.authorize(Actor(role=Role.BUYER, id=claim.buyer_id))
    await cases.claim_key()
    workflow_id = dispute_workflow_id(claim.order_id)
    try:
        await cases.start_dispute(claim)
    except WorkflowAlreadyStartedError:
        existing = await cases.read(DISPUTES, workflow_id)
        if (existing.buyer_id, existing.seller_id) != (claim.buyer_id, claim.seller_id):
            raise Problem(
                409,
                "Dispute exists",
                f"order {claim.order_id} already has dispute {workflow_id} between other parties",
            ) from None
        memo = await (await cases.client.get_workflow_handle(workflow_id).describe()).memo()
        if cases.key_digest is None or memo.get("opened_with") != cases.key_digest:
            response.status_code = status.HTTP_200_OK
        return existing
    return await cases.read(DISPUTES, workflow_id)


@router.get("")
async def list_disputes(
    client: TemporalClientDep,
    reader: ReadAsDep,
    seller_id: IdFilter = None,
    buyer_id: IdFilter = None,
    order_id: IdFilter = None,
    status: DisputeStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DisputeList:
    """Disputes filtered by seller (Pesanan Dikomplain), buyer, order or status, newest first."""
    if reader is not None:  # a party sees its own disputes only
        buyer_id = reader.id if reader.role is Role.BUYER else buyer_id
        seller_id = reader.id if reader.role is Role.SELLER else seller_id
    filters = {
        sa.SELLER_ID: seller_id,
        sa.BUYER_ID: buyer_id,
        sa.ORDER_ID: order_id,
        sa.DISPUTE_STATUS: status.value if status else None,
    }
    found = await visibility.executions(client, visibility.query("dispute", filters), limit)
    items = [_summary(execution) for execution in found]
    return DisputeList(items=items)


@router.get("/{dispute_id}")
async def get_dispute(dispute_id: str, cases: ReadCasesDep, reader: ReadAsDep) -> Dispute:
    """The whole dispute: status, offers, allowed actions per role, deadlines, timeline."""
    return await cases.read(DISPUTES, dispute_id, reader)


@router.get("/{dispute_id}/effects")
async def list_effects(
    dispute_id: str, cases: ReadCasesDep, outbox: OutboxDep, reader: ReadAsDep
) -> EffectList:
    """The outside effects (refunds, releases, notifications, care desk) this dispute caused."""
    await cases.read(DISPUTES, dispute_id, reader)  # 404 / 403 before any effect
    return EffectList(items=await outbox.for_case(dispute_id))


@router.post("/{dispute_id}/messages")
async def send_message(dispute_id: str, command: SendMessage, cases: CasesDep) -> Dispute:
    """Buyer or seller adds a message with evidence references."""
    return await cases.act(DISPUTES, dispute_id, DisputeWorkflow.message, command)


@router.post("/{dispute_id}/offers")
async def make_offer(dispute_id: str, command: MakeOffer, cases: CasesDep) -> Dispute:
    """Seller offers another solution; buyer revises the requested solution."""
    return await cases.act(DISPUTES, dispute_id, DisputeWorkflow.offer, command)


@router.post("/{dispute_id}/accept")
async def accept(dispute_id: str, command: Accept, cases: CasesDep) -> Dispute:
    """Accept the other party's solution (Terima Solusi)."""
    return await cases.act(DISPUTES, dispute_id, DisputeWorkflow.accept, command)


@router.post("/{dispute_id}/reject")
async def reject(dispute_id: str, command: Reject, cases: CasesDep) -> Dispute:
    """Buyer declines the seller's offer or appeal."""
    return await cases.act(DISPUTES, dispute_id, DisputeWorkflow.reject, command)


@router.post("/{dispute_id}/appeal")
async def appeal(dispute_id: str, command: Appeal, cases: CasesDep) -> Dispute:
    """Seller contests the claim (Ajukan Banding)."""
    return await cases.act(DISPUTES, dispute_id, DisputeWorkflow.appeal, command)


@router.post("/{dispute_id}/help")
async def request_help(dispute_id: str, command: RequestHelp, cases: CasesDep) -> Dispute:
    """A party asks care to mediate (Minta Bantuan)."""
    return await cases.act(DISPUTES, dispute_id, DisputeWorkflow.help, command)


@router.post("/{dispute_id}/cancel")
async def cancel(dispute_id: str, command: Cancel, cases: CasesDep) -> Dispute:
    """Buyer cancels before any agreement or mediation."""
    return await cases.act(DISPUTES, dispute_id, DisputeWorkflow.cancel, command)


@router.post("/{dispute_id}/care/replies")
async def care_reply(dispute_id: str, command: CareReply, cases: CasesDep) -> Dispute:
    """Care messages the parties during mediation."""
    return await cases.act(DISPUTES, dispute_id, DisputeWorkflow.reply, command)


@router.post("/{dispute_id}/care/decision")
async def care_decision(dispute_id: str, command: Decide, cases: CasesDep) -> Dispute:
    """Care decides the solution that will be carried out."""
    return await cases.act(DISPUTES, dispute_id, DisputeWorkflow.decide, command)


@router.post("/{dispute_id}/shipments")
async def ship(dispute_id: str, command: Ship, cases: CasesDep) -> Dispute:
    """A party reports a shipment with its tracking number (resi)."""
    return await cases.act(DISPUTES, dispute_id, DisputeWorkflow.ship, command)


@router.post("/{dispute_id}/confirm-receipt")
async def confirm_receipt(dispute_id: str, command: ConfirmReceipt, cases: CasesDep) -> Dispute:
    """Buyer confirms the replacement or remaining items arrived."""
    return await cases.act(DISPUTES, dispute_id, DisputeWorkflow.confirm_receipt, command)
