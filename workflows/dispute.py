"""DisputeWorkflow: one per order; applies the dispute rules and runs their timers and effects."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.effects import CaseActivities
    from activities.models import MediationInput, PayoutInput
    from core import search_attributes as sa
    from domain.commands import IngestedEvent
    from domain.dispute import PAYOUT_EFFECTS, Dispute, LinkTicket, Outcome
    from domain.events import DomainEvent, Opened
    from domain.types import SolutionKind
    from workflows.base import Carried, CaseWorkflow
    from workflows.inputs import DisputeRun as DisputeRun


@workflow.defn
class DisputeWorkflow(CaseWorkflow[Dispute, Outcome]):
    """A buyer's complaint about one order, from opening to a resolved or cancelled outcome."""

    @workflow.init
    def __init__(self, run: DisputeRun) -> None:
        self._opened = run.open
        if run.carried is not None:
            self._begin(run.carried.case, run.carried, [])
            return
        now = run.open.opened_at or workflow.now()
        self._begin(Dispute.open(workflow.info().workflow_id, run.open, now), None, [Opened()])

    @workflow.run
    async def run(self, run: DisputeRun) -> Outcome:
        """Wait for the parties, the clocks and care until the dispute closes."""
        return await self._run_case()

    @workflow.query
    def state(self) -> Dispute:
        """The dispute, with each role's allowed actions and the timeline entries not yet stored."""
        return self._case

    @workflow.signal
    def ingest(self, event: IngestedEvent) -> None:
        """An action that came as a CloudEvent (deduped by its id; a refused one is recorded)."""
        self._ingest(event)

    @workflow.signal
    def link_ticket(self, link: LinkTicket) -> None:
        """A help-center report about this order was filed."""
        self._case.link_ticket(link.ticket_id, workflow.now())
        self._changed([])

    # -- the dispute's own steps ---------------------------------------------------------------

    def _result(self) -> Outcome:
        assert self._case.outcome is not None
        return self._case.outcome

    def _continue(self, carried: Carried[Dispute]) -> None:
        workflow.continue_as_new(DisputeRun(open=self._opened, carried=carried))

    def _mediation(self) -> MediationInput:
        dispute = self._case
        return MediationInput(
            case_id=dispute.id,
            order_id=dispute.order_id,
            buyer_id=dispute.buyer_id,
            seller_id=dispute.seller_id,
            escalated_by=str(dispute.escalated_by),
            idempotency_key=f"{dispute.id}:mediation",
        )

    def _mediation_opened(self, case_ref: str, assignee: str) -> None:
        self._case.mediation_opened(case_ref, assignee, workflow.now())

    def _mediation_ready(self) -> bool:
        return self._case.mediation_case_ref is not None

    def _lanes(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        return [*super()._lanes(), self._money_lane]

    def _settled_up(self) -> bool:
        return not (self._case.settling and not self._case.closed)

    async def _money_lane(self) -> None:
        """Pay what the settlement still owes, one payout at a time, in order; a refused payout
        parks the dispute until an operator retries it, records it as paid by hand, or care
        replaces the decision. Then the dispute closes with what was actually paid."""
        dispute = self._case
        while True:
            await workflow.wait_condition(lambda: dispute.settling and not dispute.closed)
            remaining = dispute.remaining_payouts()
            if not remaining:
                self._changed(self._settled())
                return
            payout = remaining[0]
            request = PayoutInput(
                case_id=dispute.id,
                party_id=payout.party_id,
                amount=payout.amount,
                idempotency_key=dispute.payout_key(payout),
            )
            effect = PAYOUT_EFFECTS[payout.kind]
            if payout.kind is SolutionKind.REFUND_TO_BUYER:
                activity, summary = (
                    CaseActivities.refund_buyer,
                    f"refund {payout.amount} to {payout.party_id}",
                )
            else:
                activity, summary = (
                    CaseActivities.release_to_seller,
                    f"release {payout.amount} to {payout.party_id}",
                )
            if await self._effect(effect, request.idempotency_key, activity, request, summary) is not None:
                dispute.payout_made(payout, workflow.now())
                self._changed([])

    def _settled(self) -> list[DomainEvent]:
        happened = self._case.settled(workflow.now())
        outcome = self._case.outcome
        assert outcome is not None and outcome.solution is not None
        labels = {"outcome": outcome.decided_by, "solution": outcome.solution.kind.value}
        meter = workflow.metric_meter()
        meter.create_counter("disputes_resolved", "Disputes resolved, by who decided and the solution").add(
            1, labels
        )
        meter.create_histogram_timedelta(
            "dispute_time_to_resolution", "From opening to resolution", unit="duration"
        ).record(outcome.at - self._case.opened_at, labels)
        return happened

    def _search_attributes(self) -> dict[SearchAttributeKey[Any], Any]:
        return dispute_search_attributes(self._case)


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
        sa.CARE_DECISION_DUE_AT: dispute.care_decision_due_at,
    }
