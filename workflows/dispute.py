"""DisputeWorkflow: one per order; applies the dispute rules and runs their timers and effects."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.effects import CaseActivities
    from activities.models import AssignInput, MediationInput, PayoutInput
    from core import search_attributes as sa
    from domain import events, notices
    from domain.case import DeadlineEvent
    from domain.commands import (
        DISPUTE_COMMANDS,
        Accept,
        Appeal,
        Cancel,
        CareReply,
        Command,
        ConfirmReceipt,
        Decide,
        IngestedEvent,
        MakeOffer,
        Reject,
        RequestHelp,
        SendMessage,
        Ship,
    )
    from domain.dispute import Dispute, DisputeStatus, LinkTicket, OpenDisputeInput, Outcome, Payout
    from domain.events import EventType
    from domain.notices import Notice
    from domain.types import SolutionKind
    from workflows.base import CaseWorkflow


@workflow.defn
class DisputeWorkflow(CaseWorkflow[Dispute]):
    """A buyer's complaint about one order, from opening to a resolved or cancelled outcome."""

    @workflow.init
    def __init__(self, request: OpenDisputeInput) -> None:
        dispute = Dispute.open(workflow.info().workflow_id, request, workflow.now())
        self._start(dispute, notices.on_open(dispute), EventType.DISPUTE_OPENED)

    @workflow.run
    async def run(self, request: OpenDisputeInput) -> Outcome:
        """Wait for the parties, the clocks and care until the dispute closes."""
        self._running = True
        self._publish()
        while not self._case.closed:
            await self._flush()
            if self._case.status is DisputeStatus.IN_MEDIATION and not self._case.mediation_case_ref:
                await self._open_mediation()
            elif (payouts := self._case.settlement()) is not None:
                await self._settle(payouts)
            else:
                await self._wait_for_change_or_deadline()
        await self._flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self._case.outcome is not None
        return self._case.outcome

    # -- reads ---------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> Dispute:
        """The whole dispute, with each role's allowed actions and its timeline."""
        return self._case

    # -- commands (updates: the caller sees them succeed or fail) ------------------------------

    @workflow.update
    def message(self, command: SendMessage) -> Dispute:
        """Buyer or seller adds a message and evidence."""
        return self._act(command)

    @message.validator
    def _check_message(self, command: SendMessage) -> None:
        self._check(command)

    @workflow.update
    def offer(self, command: MakeOffer) -> Dispute:
        """Seller offers another solution, or buyer revises the request."""
        return self._act(command)

    @offer.validator
    def _check_offer(self, command: MakeOffer) -> None:
        self._check(command)

    @workflow.update
    def accept(self, command: Accept) -> Dispute:
        """Accept the other party's solution."""
        return self._act(command)

    @accept.validator
    def _check_accept(self, command: Accept) -> None:
        self._check(command)

    @workflow.update
    def reject(self, command: Reject) -> Dispute:
        """Buyer declines the seller's offer or appeal."""
        return self._act(command)

    @reject.validator
    def _check_reject(self, command: Reject) -> None:
        self._check(command)

    @workflow.update
    def appeal(self, command: Appeal) -> Dispute:
        """Seller contests the claim."""
        return self._act(command)

    @appeal.validator
    def _check_appeal(self, command: Appeal) -> None:
        self._check(command)

    @workflow.update
    def help(self, command: RequestHelp) -> Dispute:
        """A party asks care to mediate."""
        return self._act(command)

    @help.validator
    def _check_help(self, command: RequestHelp) -> None:
        self._check(command)

    @workflow.update
    def cancel(self, command: Cancel) -> Dispute:
        """Buyer withdraws the dispute."""
        return self._act(command)

    @cancel.validator
    def _check_cancel(self, command: Cancel) -> None:
        self._check(command)

    @workflow.update
    def reply(self, command: CareReply) -> Dispute:
        """Care messages the parties; stops the reply clock."""
        return self._act(command)

    @reply.validator
    def _check_reply(self, command: CareReply) -> None:
        self._check(command)

    @workflow.update
    def decide(self, command: Decide) -> Dispute:
        """Care decides the solution."""
        return self._act(command)

    @decide.validator
    def _check_decide(self, command: Decide) -> None:
        self._check(command)

    @workflow.update
    def ship(self, command: Ship) -> Dispute:
        """A party reports a shipment with its tracking number."""
        return self._act(command)

    @ship.validator
    def _check_ship(self, command: Ship) -> None:
        self._check(command)

    @workflow.update
    def confirm_receipt(self, command: ConfirmReceipt) -> Dispute:
        """Buyer confirms the items arrived."""
        return self._act(command)

    @confirm_receipt.validator
    def _check_confirm_receipt(self, command: ConfirmReceipt) -> None:
        self._check(command)

    # -- events (signals: fire and forget) ------------------------------------------------------

    @workflow.signal
    def ingest(self, event: IngestedEvent) -> None:
        """An action that came as a CloudEvent (deduped by its id; a refused one is recorded)."""
        self._ingest(event, DISPUTE_COMMANDS)

    @workflow.signal
    def link_ticket(self, link: LinkTicket) -> None:
        """A help-center report about this order was filed."""
        self._case.link_ticket(link.ticket_id, workflow.now())
        self._changed()

    # -- the main loop's steps -----------------------------------------------------------------

    async def _open_mediation(self) -> None:
        dispute = self._case
        case = await self._run(
            CaseActivities.open_mediation_case,
            MediationInput(
                case_id=dispute.id,
                order_id=dispute.order_id,
                buyer_id=dispute.buyer_id,
                seller_id=dispute.seller_id,
                escalated_by=str(dispute.escalated_by),
                idempotency_key=f"{dispute.id}:mediation",
            ),
            "open mediation case",
        )
        assigned = await self._run(
            CaseActivities.assign_to_care,
            AssignInput(case_id=dispute.id, case_ref=case.case_ref, idempotency_key=f"{dispute.id}:assign"),
            f"assign {case.case_ref} to care",
        )
        dispute.mediation_opened(case.case_ref, assigned.assignee, workflow.now())
        self._changed()

    async def _settle(self, payouts: list[Payout]) -> None:
        for payout in payouts:
            request = PayoutInput(
                case_id=self._case.id,
                party_id=payout.party_id,
                amount=payout.amount,
                idempotency_key=f"{self._case.id}:{payout.kind.value.lower()}",
            )
            if payout.kind is SolutionKind.REFUND_TO_BUYER:
                summary = f"refund {payout.amount} to {payout.party_id}"
                await self._run(CaseActivities.refund_buyer, request, summary)
            else:
                summary = f"release {payout.amount} to {payout.party_id}"
                await self._run(CaseActivities.release_to_seller, request, summary)
        self._case.settled(payouts, workflow.now())
        self._measure_resolution()
        self._notices += notices.on_close(self._case)
        self._emit([EventType.DISPUTE_UPDATED, EventType.DISPUTE_RESOLVED])
        self._changed()

    def _measure_resolution(self) -> None:
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

    def _notices_after(self, command: Command) -> list[Notice]:
        return notices.on_command(self._case, command)

    def _events_after(self, command: Command) -> list[EventType]:
        return events.after_dispute_command(command)

    async def _on_case_deadline(self, event: DeadlineEvent) -> None:
        self._notices += notices.on_deadline(self._case, event)
        self._emit([EventType.DISPUTE_UPDATED])

    def _search_attributes(self) -> dict[SearchAttributeKey[Any], Any]:
        dispute = self._case
        return {
            sa.CASE_KIND: "dispute",
            sa.DISPUTE_STATUS: dispute.status.value,
            sa.ORDER_ID: dispute.order_id,
            sa.BUYER_ID: dispute.buyer_id,
            sa.SELLER_ID: dispute.seller_id,
            sa.CARE_REPLY_DUE_AT: dispute.care_reply_due_at,
            sa.SLA_BREACHED: dispute.sla_breached,
        }
