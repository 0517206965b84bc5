"""/v1/disputes: open, read, list and act on disputes (Pusat Resolusi)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel
from temporalio.client import WorkflowExecution
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.models import Effect
from api import cases, visibility
from api.deps import OutboxDep, SettingsDep, TemporalClientDep
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
from domain.dispute import Dispute, DisputeClaim, DisputeStatus, OpenDisputeInput
from domain.ids import dispute_workflow_id
from domain.types import IDENTIFIER_PATTERN
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
async def open_dispute(
    claim: DisputeClaim, client: TemporalClientDep, settings: SettingsDep, response: Response
) -> Dispute:
    """The buyer opens a dispute on one order; a repeat for the same order returns the existing one."""
    workflow_id = dispute_workflow_id(claim.order_id)
    request = OpenDisputeInput(**claim.model_dump(), policy=settings.dispute_policy())
    try:
        await client.start_workflow(
            DisputeWorkflow.run,
            request,
            id=workflow_id,
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=claim.summary(),
            static_details=request.details(),
        )
    except WorkflowAlreadyStartedError:
        existing = await cases.read(client, cases.DISPUTES, workflow_id)
        if (existing.buyer_id, existing.seller_id) != (claim.buyer_id, claim.seller_id):
            raise Problem(
                409,
                "Dispute exists",
                f"order {claim.order_id} already has dispute {workflow_id} between other parties",
            ) from None
        response.status_code = status.HTTP_200_OK
        return existing
    return await cases.read(client, cases.DISPUTES, workflow_id)


@router.get("")
async def list_disputes(
    client: TemporalClientDep,
    seller_id: IdFilter = None,
    buyer_id: IdFilter = None,
    order_id: IdFilter = None,
    status: DisputeStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DisputeList:
    """Disputes filtered by seller (Pesanan Dikomplain), buyer, order or status, newest first."""
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
async def get_dispute(dispute_id: str, client: TemporalClientDep) -> Dispute:
    """The whole dispute: status, offers, allowed actions per role, deadlines, timeline."""
    return await cases.read(client, cases.DISPUTES, dispute_id)


@router.get("/{dispute_id}/effects")
async def list_effects(dispute_id: str, client: TemporalClientDep, outbox: OutboxDep) -> EffectList:
    """The outside effects (refunds, releases, notifications, care desk) this dispute caused."""
    await cases.read(client, cases.DISPUTES, dispute_id)  # 404 for an unknown dispute
    return EffectList(items=await outbox.for_case(dispute_id))


@router.post("/{dispute_id}/messages")
async def send_message(dispute_id: str, command: SendMessage, client: TemporalClientDep) -> Dispute:
    """Buyer or seller adds a message with evidence references."""
    return await cases.act(client, cases.DISPUTES, dispute_id, DisputeWorkflow.message, command)


@router.post("/{dispute_id}/offers")
async def make_offer(dispute_id: str, command: MakeOffer, client: TemporalClientDep) -> Dispute:
    """Seller offers another solution; buyer revises the requested solution."""
    return await cases.act(client, cases.DISPUTES, dispute_id, DisputeWorkflow.offer, command)


@router.post("/{dispute_id}/accept")
async def accept(dispute_id: str, command: Accept, client: TemporalClientDep) -> Dispute:
    """Accept the other party's solution (Terima Solusi)."""
    return await cases.act(client, cases.DISPUTES, dispute_id, DisputeWorkflow.accept, command)


@router.post("/{dispute_id}/reject")
async def reject(dispute_id: str, command: Reject, client: TemporalClientDep) -> Dispute:
    """Buyer declines the seller's offer or appeal."""
    return await cases.act(client, cases.DISPUTES, dispute_id, DisputeWorkflow.reject, command)


@router.post("/{dispute_id}/appeal")
async def appeal(dispute_id: str, command: Appeal, client: TemporalClientDep) -> Dispute:
    """Seller contests the claim (Ajukan Banding)."""
    return await cases.act(client, cases.DISPUTES, dispute_id, DisputeWorkflow.appeal, command)


@router.post("/{dispute_id}/help")
async def request_help(dispute_id: str, command: RequestHelp, client: TemporalClientDep) -> Dispute:
    """A party asks care to mediate (Minta Bantuan)."""
    return await cases.act(client, cases.DISPUTES, dispute_id, DisputeWorkflow.help, command)


@router.post("/{dispute_id}/cancel")
async def cancel(dispute_id: str, command: Cancel, client: TemporalClientDep) -> Dispute:
    """Buyer cancels before any agreement or mediation."""
    return await cases.act(client, cases.DISPUTES, dispute_id, DisputeWorkflow.cancel, command)


@router.post("/{dispute_id}/care/replies")
async def care_reply(dispute_id: str, command: CareReply, client: TemporalClientDep) -> Dispute:
    """Care messages the parties during mediation."""
    return await cases.act(client, cases.DISPUTES, dispute_id, DisputeWorkflow.reply, command)


@router.post("/{dispute_id}/care/decision")
async def care_decision(dispute_id: str, command: Decide, client: TemporalClientDep) -> Dispute:
    """Care decides the solution that will be carried out."""
    return await cases.act(client, cases.DISPUTES, dispute_id, DisputeWorkflow.decide, command)


@router.post("/{dispute_id}/shipments")
async def ship(dispute_id: str, command: Ship, client: TemporalClientDep) -> Dispute:
    """A party reports a shipment with its tracking number (resi)."""
    return await cases.act(client, cases.DISPUTES, dispute_id, DisputeWorkflow.ship, command)


@router.post("/{dispute_id}/confirm-receipt")
async def confirm_receipt(dispute_id: str, command: ConfirmReceipt, client: TemporalClientDep) -> Dispute:
    """Buyer confirms the replacement or remaining items arrived."""
    return await cases.act(client, cases.DISPUTES, dispute_id, DisputeWorkflow.confirm_receipt, command)
