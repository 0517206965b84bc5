"""The outside world as Protocols, and the embedded default that records into the outbox."""

from __future__ import annotations

from typing import Protocol

from activities.models import (
    AssignInput,
    Assignment,
    MediationCase,
    MediationInput,
    NotifyInput,
    PayoutInput,
    ReplyTargetInput,
)
from domain.effects import EffectName
from store.outbox import Effect, Outbox


class Payments(Protocol):
    """Moves held order funds; must apply each idempotency key at most once."""

    async def refund_buyer(self, request: PayoutInput) -> Effect: ...

    async def release_to_seller(self, request: PayoutInput) -> Effect: ...


class Notifier(Protocol):
    """Delivers a message to a buyer, seller or user (care replies land in the user's inbox)."""

    async def notify(self, request: NotifyInput) -> Effect: ...


class CareDesk(Protocol):
    """The care team's tools: mediation cases, assignment, reply-target warnings and breaches."""

    async def open_mediation(self, request: MediationInput) -> MediationCase: ...

    async def assign(self, request: AssignInput) -> Assignment: ...

    async def reply_target(self, kind: EffectName, request: ReplyTargetInput) -> Effect: ...


class OutboxAdapters:
    """Embedded default for every adapter: each effect is a durable outbox row, once per key."""

    care_queue = "care-mediation"
    supervisor = "care-supervisor"

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def refund_buyer(self, request: PayoutInput) -> Effect:
        """Record a refund of the amount to the buyer."""
        return await self._payout(EffectName.REFUND_TO_BUYER, "buyer", "refund", request)

    async def release_to_seller(self, request: PayoutInput) -> Effect:
        """Record a release of the amount to the seller."""
        return await self._payout(EffectName.RELEASE_TO_SELLER, "seller", "release", request)

    async def notify(self, request: NotifyInput) -> Effect:
        """Record a notification to one party."""
        return await self.outbox.record(
            Effect(
                case_id=request.case_id,
                kind=EffectName.NOTIFICATION,
                party=request.party,
                party_id=request.party_id,
                text=request.text,
                category=request.category,
                articles=request.articles or None,
                template=request.template,
                params=request.params if request.template else None,
                locale=request.locale,
                idempotency_key=request.idempotency_key,
            )
        )

    async def open_mediation(self, request: MediationInput) -> MediationCase:
        """Record a mediation case; there is one per dispute, so its reference derives from it."""
        summary = (
            f"dispute {request.case_id} on order {request.order_id}: buyer {request.buyer_id},"
            f" seller {request.seller_id}, escalated by the {request.escalated_by}"
        )
        await self.outbox.record(
            Effect(
                case_id=request.case_id,
                kind=EffectName.MEDIATION_OPENED,
                text=summary,
                idempotency_key=request.idempotency_key,
            )
        )
        return MediationCase(case_ref=f"med-{request.case_id}")

    async def assign(self, request: AssignInput, assignee: str | None = None) -> Assignment:
        """Record the assignment, to the care mediation queue unless the care desk named another."""
        assignee = assignee or self.care_queue
        await self.outbox.record(
            Effect(
                case_id=request.case_id,
                kind=EffectName.CARE_ASSIGNED,
                party="care",
                party_id=assignee,
                text=f"{request.case_ref} assigned to {assignee}",
                idempotency_key=request.idempotency_key,
            )
        )
        return Assignment(assignee=assignee)

    async def reply_target(self, kind: EffectName, request: ReplyTargetInput) -> Effect:
        """Record a reply-target warning or breach escalation for the care supervisor."""
        return await self.outbox.record(
            Effect(
                case_id=request.case_id,
                kind=kind,
                party="care",
                party_id=self.supervisor,
                text=request.summary,
                idempotency_key=request.idempotency_key,
            )
        )

    async def _payout(self, kind: EffectName, party: str, verb: str, request: PayoutInput) -> Effect:
        return await self.outbox.record(
            Effect(
                case_id=request.case_id,
                kind=kind,
                party=party,
                party_id=request.party_id,
                amount=request.amount,
                text=f"{verb} {request.amount} to {party} {request.party_id}",
                idempotency_key=request.idempotency_key,
            )
        )
