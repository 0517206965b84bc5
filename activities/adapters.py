"""The outside world as Protocols, and the embedded default that records into the outbox."""

from __future__ import annotations

from typing import Protocol

from activities.models import Effect, EffectKind
from activities.outbox import Outbox


class Payments(Protocol):
    """Moves held order funds; must apply each idempotency key at most once."""

    async def refund_buyer(self, case_id: str, buyer_id: str, amount: int, key: str) -> Effect: ...

    async def release_to_seller(self, case_id: str, seller_id: str, amount: int, key: str) -> Effect: ...


class Notifier(Protocol):
    """Delivers a message to a buyer, seller or user."""

    async def notify(self, case_id: str, party: str, party_id: str, text: str, key: str) -> Effect: ...


class CareDesk(Protocol):
    """The care team's tools: mediation cases, assignment, reply-target warnings and breaches."""

    async def open_mediation(self, case_id: str, summary: str, key: str) -> str: ...

    async def assign(self, case_id: str, case_ref: str, key: str) -> str: ...

    async def reply_target(self, case_id: str, kind: EffectKind, summary: str, key: str) -> Effect: ...


class OutboxAdapters:
    """Embedded default for every adapter: each effect is a durable outbox row, once per key."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def refund_buyer(self, case_id: str, buyer_id: str, amount: int, key: str) -> Effect:
        """Record a refund of ``amount`` to the buyer."""
        return await self.outbox.record(
            Effect(
                case_id=case_id,
                kind=EffectKind.REFUND_TO_BUYER,
                party="buyer",
                party_id=buyer_id,
                amount=amount,
                text=f"refund {amount} to buyer {buyer_id}",
                idempotency_key=key,
            )
        )

    async def release_to_seller(self, case_id: str, seller_id: str, amount: int, key: str) -> Effect:
        """Record a release of ``amount`` to the seller."""
        return await self.outbox.record(
            Effect(
                case_id=case_id,
                kind=EffectKind.RELEASE_TO_SELLER,
                party="seller",
                party_id=seller_id,
                amount=amount,
                text=f"release {amount} to seller {seller_id}",
                idempotency_key=key,
            )
        )

    async def notify(self, case_id: str, party: str, party_id: str, text: str, key: str) -> Effect:
        """Record a notification to one party."""
        return await self.outbox.record(
            Effect(
                case_id=case_id,
                kind=EffectKind.NOTIFICATION,
                party=party,
                party_id=party_id,
                text=text,
                idempotency_key=key,
            )
        )

    async def open_mediation(self, case_id: str, summary: str, key: str) -> str:
        """Record a mediation case; its reference is the case id (one mediation per case)."""
        effect = await self.outbox.record(
            Effect(case_id=case_id, kind=EffectKind.MEDIATION_OPENED, text=summary, idempotency_key=key)
        )
        return f"med-{effect.case_id}"

    async def assign(self, case_id: str, case_ref: str, key: str) -> str:
        """Record the assignment to the care mediation queue."""
        queue = "care-mediation"
        await self.outbox.record(
            Effect(
                case_id=case_id,
                kind=EffectKind.CARE_ASSIGNED,
                party="care",
                party_id=queue,
                text=f"{case_ref} assigned to {queue}",
                idempotency_key=key,
            )
        )
        return queue

    async def reply_target(self, case_id: str, kind: EffectKind, summary: str, key: str) -> Effect:
        """Record a reply-target warning or breach escalation for the care supervisor."""
        return await self.outbox.record(
            Effect(
                case_id=case_id,
                kind=kind,
                party="care",
                party_id="care-supervisor",
                text=summary,
                idempotency_key=key,
            )
        )
