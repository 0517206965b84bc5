"""The activities every case uses; each is a thin call into an adapter with the case's key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    """Activities for disputes and help-center reports, built on the adapters they are given."""

    def __init__(self, payments: Payments, notifier: Notifier, care_desk: CareDesk) -> None:
        self.payments = payments
        self.notifier = notifier
        self.care_desk = care_desk

    @activity.defn
    async def refund_buyer(self, request: PayoutInput) -> Effect:
        """Refund the buyer from the held order funds."""
        return await self.payments.refund_buyer(request)

    @activity.defn
    async def release_to_seller(self, request: PayoutInput) -> Effect:
        """Release held order funds to the seller."""
        return await self.payments.release_to_seller(request)

    @activity.defn
    async def notify_party(self, request: NotifyInput) -> Effect:
        """Notify a buyer, seller or user."""
        return await self.notifier.notify(request)

    @activity.defn
    async def open_mediation_case(self, request: MediationInput) -> MediationCase:
        """Open the care desk's mediation case for an escalated dispute."""
        return await self.care_desk.open_mediation(request)

    @activity.defn
    async def assign_to_care(self, request: AssignInput) -> Assignment:
        """Assign a mediation case to the care team's queue."""
        return await self.care_desk.assign(request)

    @activity.defn
    async def warn_care_reply(self, request: ReplyTargetInput) -> Effect:
        """Warn care that a reply target is near."""
        return await self.care_desk.reply_target(EffectKind.CARE_REPLY_WARNING, request)

    @activity.defn
    async def escalate_care_breach(self, request: ReplyTargetInput) -> Effect:
        """Escalate a missed reply target to the on-call care supervisor."""
        return await self.care_desk.reply_target(EffectKind.CARE_REPLY_BREACHED, request)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for the worker."""
        return [
            self.refund_buyer,
            self.release_to_seller,
            self.notify_party,
            self.open_mediation_case,
            self.assign_to_care,
            self.warn_care_reply,
            self.escalate_care_breach,
        ]
