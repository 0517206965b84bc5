"""The activities every case uses; each is a thin call into an adapter with the case's key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.adapters import CareDesk, Notifier, Payments
from activities.models import (
    AssignInput,
    Assignment,
    MediationCase,
    MediationInput,
    NotifyInput,
    PayoutInput,
    PublishInput,
    PublishResult,
    RefusedNotice,
    ReplyTargetInput,
)
from domain.case import TimelineEntry
from domain.effects import EffectName
from domain.kinds import KINDS
from domain.outbound import CaseEvent, NoticeSent
from store.cases import ArchiveInput
from store.outbox import Effect
from store.views import CaseView, view_from

#: The error type adapters raise when the receiving system refuses an effect for good.
EFFECT_REJECTED = "EffectRejected"


class CaseRecords(Protocol):
    """What the service keeps of a case outside Temporal: its timeline and its read-model row as
    the workflow hands them over (one transaction), and the case itself once it closes
    (store/cases.py)."""

    async def store_change(
        self, case_id: str, entries: Sequence[TimelineEntry], view: CaseView | None = None
    ) -> None: ...

    async def archive(self, closed: ArchiveInput) -> None: ...


class EventPublisher(Protocol):
    """Hands a case event to its webhook subscribers; returns how many deliveries it started."""

    async def publish(self, event: CaseEvent) -> int: ...


class CaseActivities:
    """Activities for disputes and help-center reports, built on the adapters they are given."""

    def __init__(
        self,
        payments: Payments,
        notifier: Notifier,
        care_desk: CareDesk,
        records: CaseRecords,
        publisher: EventPublisher,
    ) -> None:
        self.payments = payments
        self.notifier = notifier
        self.care_desk = care_desk
        self.records = records
        self.publisher = publisher

    @activity.defn
    async def publish_change(self, change: PublishInput) -> PublishResult:
        """Hand out one change of a case: keep its timeline entries and its read-model row (one
        transaction: a read that shows the row's version finds its entries), notify the parties,
        hand its webhook events over. Every item is idempotent, so a retry repeats none of them.

        The case's action waits for this step, so a receiver that is down must not hold it: what
        cannot be sent now comes back in the result (``undelivered``, ``unhanded``) and the case
        retries it in a step of its own (``deliver_only``), which raises until it goes."""
        view = None
        if change.kind is not None and change.state is not None:
            view = view_from(change.kind, change.state, datetime.now(UTC))
        await self.records.store_change(change.case_id, change.timeline, view)
        result = PublishResult()
        # The change's events carry its notices to receivers; the case sends them once, here,
        # rather than twice in its history (held-back events keep them for their retry).
        events = [_with_notices(event, change.notices) for event in change.events]
        for index, notice in enumerate(change.notices):
            try:
                await self.notifier.notify(notice)
            except ApplicationError as error:
                if error.type == EFFECT_REJECTED:
                    # Refused for good (e.g. the platform answered 400): the case records it; a
                    # lost notification must not hold back the rest of the change.
                    result.refused.append(
                        RefusedNotice(idempotency_key=notice.idempotency_key, reason=error.message)
                    )
                    continue
                if change.deliver_only:
                    raise
                return _held_back(result, change.notices[index:], events, error)
            except Exception as error:
                if change.deliver_only:
                    raise
                return _held_back(result, change.notices[index:], events, error)
        for index, event in enumerate(events):
            try:
                result.deliveries += await self.publisher.publish(event)
            except Exception as error:
                if change.deliver_only:
                    raise
                return _held_back(result, [], events[index:], error)
        return result

    @activity.defn
    async def archive_case(self, closed: ArchiveInput) -> bool:
        """Keep a closed case for good: reads of it never replay, and it outlives the namespace's
        retention (and the one-dispute-per-order rule with it). Safe to repeat."""
        await self.records.archive(closed)
        return True

    @activity.defn
    async def refund_buyer(self, request: PayoutInput) -> Effect:
        """Refund the buyer from the held order funds."""
        return await self.payments.refund_buyer(request)

    @activity.defn
    async def release_to_seller(self, request: PayoutInput) -> Effect:
        """Release held order funds to the seller."""
        return await self.payments.release_to_seller(request)

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
        return await self.care_desk.reply_target(EffectName.CARE_REPLY_WARNING, request)

    @activity.defn
    async def escalate_care_breach(self, request: ReplyTargetInput) -> Effect:
        """Escalate a missed reply target to the on-call care supervisor."""
        return await self.care_desk.reply_target(EffectName.CARE_REPLY_BREACHED, request)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity a registered effect names, for the worker (a new kind of effect is its
        registry entry and its adapter method behind one of these)."""
        names = dict.fromkeys(spec.activity for kind in KINDS for spec in kind.effects)
        return [getattr(self, name) for name in names]


def _held_back(
    result: PublishResult, notices: Sequence[NotifyInput], events: Sequence[CaseEvent], error: BaseException
) -> PublishResult:
    """The step's stored part is done; what could not be sent goes back to the case to retry."""
    activity.logger.warning(
        "publish step holds back %d notices, %d events: %s", len(notices), len(events), error
    )
    result.undelivered = list(notices)
    result.unhanded = list(events)
    return result


def _with_notices(event: CaseEvent, notices: Sequence[NotifyInput]) -> CaseEvent:
    """``event`` carrying the notices its change sent (as it was, when it carries them already)."""
    if event.notices or not notices:
        return event
    fields = set(NoticeSent.model_fields) - {"key"}
    told = [NoticeSent(key=sent.idempotency_key, **sent.model_dump(include=fields)) for sent in notices]
    return event.model_copy(update={"notices": told})
