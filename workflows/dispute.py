"""The dispute kind's Temporal side: its workflow (one per order), its search attributes, and the
steps only a dispute has: the mediation on the care desk, and the money lane that pays out the
settlement before the dispute closes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.models import AssignInput, MediationCase, MediationInput, PayoutInput
    from core import search_attributes as sa
    from domain.commands import DELIVERED, Delivered, IngestedEvent
    from domain.dispute import PAYOUT_EFFECTS, Dispute, LinkTicket, Outcome
    from domain.effects import EffectName, Lane
    from domain.errors import DomainError
    from domain.events import DomainEvent
    from domain.kinds import DISPUTE
    from domain.types import SolutionKind
    from workflows.base import Ack, CaseWorkflow, EffectJob, KindSteps, Step
    from workflows.errors import as_application_error
    from workflows.inputs import DisputeRun as DisputeRun


class DisputeSteps(KindSteps[Dispute, Outcome]):
    """What the engine runs for a dispute beyond the shared skeleton."""

    kind = DISPUTE

    def search_attributes(self, case: Dispute) -> dict[SearchAttributeKey[Any], Any]:
        return dispute_search_attributes(case)

    def result(self, case: Dispute) -> Outcome:
        if case.outcome is None:
            raise ValueError(f"{case.id} closed without an outcome")
        return case.outcome

    def archived(self, case: Dispute) -> dict[str, str | None]:
        return {"order_id": case.order_id, "buyer_id": case.buyer_id, "seller_id": case.seller_id}

    def job(self, case: Dispute, effect: EffectName) -> EffectJob:
        if effect is not EffectName.MEDIATION_OPENED:
            return super().job(case, effect)
        key = case.effects[effect].key(case.id)
        mediation = MediationInput(
            case_id=case.id,
            order_id=case.order_id,
            buyer_id=case.buyer_id,
            seller_id=case.seller_id,
            escalated_by=str(case.escalated_by),
            idempotency_key=key,
        )
        return EffectJob(
            effect=effect, input=mediation.model_dump(mode="json"), key=key, summary="open mediation case"
        )

    def finished(
        self, engine: CaseWorkflow[Dispute, Outcome], job: EffectJob, result: Any
    ) -> list[EffectJob]:
        """A mediation opened is assigned at once; once assigned the dispute records it."""
        case = engine.case
        if job.effect is EffectName.MEDIATION_OPENED:
            opened = MediationCase.model_validate(result)
            key = case.effects[EffectName.CARE_ASSIGNED].key(case.id)
            assign = AssignInput(case_id=case.id, case_ref=opened.case_ref, idempotency_key=key)
            summary = f"assign {opened.case_ref} to care"
            return [
                EffectJob(
                    effect=EffectName.CARE_ASSIGNED, input=assign.model_dump(), key=key, summary=summary
                )
            ]
        if job.effect is EffectName.CARE_ASSIGNED:
            case.mediation_opened(job.input["case_ref"], result.assignee, workflow.now())
            engine.changed([])
        return []

    def lanes(
        self, engine: CaseWorkflow[Dispute, Outcome]
    ) -> dict[Lane, Callable[[], Coroutine[Any, Any, None]]]:
        return {Lane.MONEY: lambda: _money_lane(engine)}

    def settled_up(self, case: Dispute) -> bool:
        return not (case.settling and not case.closed)

    def ingest(self, case: Dispute, event: IngestedEvent, now: datetime) -> list[DomainEvent]:
        """A shipment delivered, as the marketplace's CloudEvent (``com.marketplace.shipment.delivered``)."""
        if event.action != DELIVERED:
            return super().ingest(case, event, now)
        return case.record_delivery(Delivered.model_validate(event.body), now)


async def _money_lane(engine: CaseWorkflow[Dispute, Outcome]) -> None:
    """Pay what the settlement still owes, one payout at a time, in order; a refused payout parks
    the dispute until an operator retries it, records it as paid by hand, or care replaces the
    decision. Then the dispute closes with what was actually paid."""
    dispute = engine.case
    while True:
        await workflow.wait_condition(lambda: dispute.settling and not dispute.closed)
        remaining = dispute.remaining_payouts()
        if not remaining:
            engine.changed(_settled(dispute))
            return
        payout = remaining[0]
        spec = dispute.effects[PAYOUT_EFFECTS[payout.kind]]
        request = PayoutInput(
            case_id=dispute.id,
            party_id=payout.party_id,
            amount=payout.amount,
            idempotency_key=dispute.payout_key(payout),
        )
        verb = "refund" if payout.kind is SolutionKind.REFUND_TO_BUYER else "release"
        summary = f"{verb} {payout.amount} to {payout.party_id}"
        ran = await engine.run_effect(spec, request.idempotency_key, request, summary)
        if ran.step is Step.DONE:
            dispute.payout_made(payout, workflow.now())
            engine.changed([])


def _settled(dispute: Dispute) -> list[DomainEvent]:
    happened = dispute.settled(workflow.now())
    outcome = dispute.outcome
    if outcome is None or outcome.solution is None:
        raise ValueError(f"{dispute.id} settled without an agreed solution")
    labels = {"outcome": outcome.decided_by, "solution": outcome.solution.kind.value}
    meter = workflow.metric_meter()
    meter.create_counter("disputes_resolved", "Disputes resolved, by who decided and the solution").add(
        1, labels
    )
    meter.create_histogram_timedelta(
        "dispute_time_to_resolution", "From opening to resolution", unit="duration"
    ).record(outcome.at - dispute.opened_at, labels)
    return happened


def dispute_search_attributes(dispute: Dispute) -> dict[SearchAttributeKey[Any], Any]:
    """What on-call filters disputes by; set at start and kept in step on every change."""
    return {
        sa.CASE_KIND: "dispute",
        sa.DISPUTE_STATUS: dispute.status.value,
        sa.ORDER_ID: dispute.order_id,
        sa.BUYER_ID: dispute.buyer_id,
        sa.SELLER_ID: dispute.seller_id,
        sa.CARE_REPLY_DUE_AT: dispute.care_reply_due_at,
        sa.SLA_BREACHED: dispute.sla_breached,
        sa.NEEDS_ATTENTION: dispute.needs_attention,
        sa.NEXT_DEADLINE_AT: dispute.next_deadline_at,
        sa.CARE_ASSIGNEE: dispute.assignee,
        sa.CARE_DECISION_DUE_AT: dispute.care_decision_due_at,
    }


@workflow.defn
class DisputeWorkflow(CaseWorkflow[Dispute, Outcome]):
    """A buyer's complaint about one order, from opening to a resolved or cancelled outcome."""

    @workflow.init
    def __init__(self, run: DisputeRun) -> None:
        self._begin(DisputeSteps(), run)

    @workflow.run
    async def run(self, run: DisputeRun) -> Outcome:
        """Wait for the parties, the clocks and care until the dispute closes."""
        return await self._run_case()

    @workflow.query
    def state(self) -> Dispute:
        """The dispute, with each role's allowed actions and the timeline entries not yet stored."""
        return self._case

    @workflow.update(name=DELIVERED)
    async def delivered(self, delivery: Delivered) -> Ack:
        """The marketplace reports a shipment delivered (``POST .../shipments/{resi}/delivered``):
        recorded once; a repeat answers ``duplicate`` and changes nothing. Answered, like an
        action, once the change is stored."""
        try:
            happened = self._case.record_delivery(delivery, workflow.now())
        except DomainError as error:
            raise as_application_error(error) from None
        entry = self._case.timeline_seq
        if happened:
            self.changed(happened)
        await self._stored(entry)
        return self._ack(entry, duplicate=not happened)

    @delivered.validator
    def _check_delivery(self, delivery: Delivered) -> None:
        try:
            self._case.check_delivery(delivery, workflow.now())
        except DomainError as error:
            raise as_application_error(error) from None

    @workflow.signal
    def link_ticket(self, link: LinkTicket) -> None:
        """A help-center report about this order was filed."""
        self._case.link_ticket(link.ticket_id, workflow.now())
        self.changed([])
