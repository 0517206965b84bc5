"""The activities every case uses; each is a thin call into an adapter with the case's key."""

from __future__ import annotations

from temporalio import activity

from activities.adapters import CareDesk, Notifier, Payments
from activities.models import (
    AssignInput,
    Assignment,
    Effect,
    EffectKind,
    MediationCase,
    MediationInput,
    NotifyInput,
    PayoutInput,
    ReplyTargetInput,
)


class CaseActivities:
    """Activities for disputes (and care tickets), built on the adapters they are given."""

    def __init__(self, payments: Payments, notifier: Notifier, care_desk: CareDesk) -> None:
        self.payments = payments
        self.notifier = notifier
        self.care_desk = care_desk

    @activity.defn
    async def refund_buyer(self, request: PayoutInput) -> Effect:
        """Refund the buyer from the held order funds."""
        return await self.payments.refund_buyer(
            request.case_id, request.party_id, request.amount, request.idempotency_key
        )

    @activity.defn
    async def release_to_seller(self, request: PayoutInput) -> Effect:
        """Release held order funds to the seller."""
        return await self.payments.release_to_seller(
            request.case_id, request.party_id, request.amount, request.idempotency_key
        )

    @activity.defn
    async def notify_party(self, request: NotifyInput) -> Effect:
        """Notify a buyer, seller or user."""
        return await self.notifier.notify(
            request.case_id, request.party, request.party_id, request.text, request.idempotency_key
        )

    @activity.defn
    async def open_mediation_case(self, request: MediationInput) -> MediationCase:
        """Open the care desk's mediation case for an escalated dispute."""
        summary = (
            f"dispute {request.case_id} on order {request.order_id}: buyer {request.buyer_id},"
            f" seller {request.seller_id}, escalated by the {request.escalated_by}"
        )
        case_ref = await self.care_desk.open_mediation(request.case_id, summary, request.idempotency_key)
        return MediationCase(case_ref=case_ref)

    @activity.defn
    async def assign_to_care(self, request: AssignInput) -> Assignment:
        """Assign a mediation case to the care team's queue."""
        assignee = await self.care_desk.assign(request.case_id, request.case_ref, request.idempotency_key)
        return Assignment(assignee=assignee)

    @activity.defn
    async def warn_care_reply(self, request: ReplyTargetInput) -> Effect:
        """Warn care that a reply target is near."""
        return await self.care_desk.reply_target(
            request.case_id, EffectKind.CARE_REPLY_WARNING, request.summary, request.idempotency_key
        )

    @activity.defn
    async def escalate_care_breach(self, request: ReplyTargetInput) -> Effect:
        """Escalate a missed reply target to the on-call care supervisor."""
        return await self.care_desk.reply_target(
            request.case_id, EffectKind.CARE_REPLY_BREACHED, request.summary, request.idempotency_key
        )
