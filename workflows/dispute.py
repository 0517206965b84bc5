"""DisputeWorkflow: one per order; applies the dispute rules and runs their timers and effects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from activities.effects import CaseActivities
    from activities.models import (
        AssignInput,
        MediationInput,
        NotifyInput,
        PayoutInput,
        ReplyTargetInput,
    )
    from core import search_attributes as sa
    from domain import notices
    from domain.case import DeadlineEvent
    from domain.commands import (
        Accept,
        Appeal,
        Cancel,
        CareReply,
        Command,
        ConfirmReceipt,
        Decide,
        MakeOffer,
        Reject,
        RequestHelp,
        SendMessage,
        Ship,
    )
    from domain.dispute import (
        Dispute,
        DisputeStatus,
        OpenDisputeInput,
        Outcome,
        Payout,
    )
    from domain.errors import DomainError
    from domain.notices import Notice
    from domain.types import SolutionKind
    from workflows.errors import as_application_error

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


@workflow.defn
class DisputeWorkflow:
    """A buyer's complaint about one order, from opening to a resolved or cancelled outcome."""

    @workflow.init
    def __init__(self, request: OpenDisputeInput) -> None:
        self._dispute = Dispute.open(workflow.info().workflow_id, request, workflow.now())
        self._version = 0
        self._notices: list[Notice] = notices.on_open(self._dispute)
        self._notices_sent = 0
        self._published: dict[str, Any] = {}

    @workflow.run
    async def run(self, request: OpenDisputeInput) -> Outcome:
        """Wait for the parties, the clocks and care until the dispute closes."""
        self._publish()
        while not self._dispute.closed:
            await self._send_notices()
            if self._dispute.status is DisputeStatus.IN_MEDIATION and not self._dispute.mediation_case_ref:
                await self._open_mediation()
            elif (payouts := self._dispute.settlement()) is not None:
                await self._settle(payouts)
            else:
                await self._wait_for_change_or_deadline()
        await self._send_notices()
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self._dispute.outcome is not None
        return self._dispute.outcome

    # -- reads ---------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> Dispute:
        """The whole dispute, with each role's allowed actions and its timeline."""
        return self._dispute

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

    def _check(self, command: Command) -> None:
        try:
            self._dispute.check(command, workflow.now())
        except DomainError as error:
            raise as_application_error(error) from None

    def _act(self, command: Command) -> Dispute:
        # Validators ran against the same state, but the rules are applied (and re-checked) here
        # so that nothing is half-applied if the state moved in between.
        try:
            self._dispute.apply(command, workflow.now())
        except DomainError as error:
            raise as_application_error(error) from None
        self._notices += notices.on_command(self._dispute, command)
        self._changed()
        return self._dispute

    # -- the main loop's steps -----------------------------------------------------------------

    async def _wait_for_change_or_deadline(self) -> None:
        seen = self._version
        deadline = self._dispute.next_deadline()
        if deadline is None:
            await workflow.wait_condition(lambda: self._version != seen)
            return
        at, event = deadline
        remaining = at - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: self._version != seen,
                    timeout=remaining,
                    timeout_summary=self._dispute.describe_deadline(event),
                )
            except TimeoutError:
                pass
        # Decided on the state, not on which wake-up came first: a party action handled in the
        # same instant as the timer has already moved the deadline.
        for passed in self._dispute.tick(workflow.now()):
            await self._on_deadline(passed)
        self._changed()

    async def _on_deadline(self, event: DeadlineEvent) -> None:
        clock = self._dispute.care_clock
        if event is DeadlineEvent.PARTY_INACTIVE:
            self._notices += notices.on_deadline(self._dispute, event)
        elif clock is not None:
            key = f"{self._dispute.id}:{event.value}:{clock.started_at.isoformat()}"
            target = ReplyTargetInput(
                case_id=self._dispute.id,
                due_at=clock.due_at,
                summary=f"care reply on {self._dispute.id} due {clock.due_at.isoformat()}",
                idempotency_key=key,
            )
            if event is DeadlineEvent.CARE_REPLY_WARNING:
                await self._run(CaseActivities.warn_care_reply, target, "care reply warning")
            else:
                await self._run(CaseActivities.escalate_care_breach, target, "care reply breach")

    async def _open_mediation(self) -> None:
        dispute = self._dispute
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
                case_id=self._dispute.id,
                party_id=payout.party_id,
                amount=payout.amount,
                idempotency_key=f"{self._dispute.id}:{payout.kind.value.lower()}",
            )
            if payout.kind is SolutionKind.REFUND_TO_BUYER:
                summary = f"refund {payout.amount} to {payout.party_id}"
                await self._run(CaseActivities.refund_buyer, request, summary)
            else:
                summary = f"release {payout.amount} to {payout.party_id}"
                await self._run(CaseActivities.release_to_seller, request, summary)
        self._dispute.settled(payouts, workflow.now())
        self._notices += notices.on_close(self._dispute)
        self._changed()

    async def _send_notices(self) -> None:
        while self._notices_sent < len(self._notices):
            notice = self._notices[self._notices_sent]
            self._notices_sent += 1
            await self._run(
                CaseActivities.notify_party,
                NotifyInput(
                    case_id=self._dispute.id,
                    party=notice.party.value,
                    party_id=notice.party_id,
                    text=notice.text,
                    idempotency_key=f"{self._dispute.id}:notice:{self._notices_sent}",
                ),
                f"notify {notice.party.value} {notice.party_id}",
            )

    async def _run(
        self,
        activity: Callable[[Any, ArgT], Awaitable[ResultT]],
        arg: ArgT,
        summary: str,
    ) -> ResultT:
        policy = self._dispute.policy
        return await workflow.execute_activity_method(
            activity,
            arg,
            start_to_close_timeout=policy.activity_timeout,
            retry_policy=RetryPolicy(maximum_interval=policy.activity_max_retry_interval),
            summary=summary,
        )

    # -- what on-call sees ---------------------------------------------------------------------

    def _changed(self) -> None:
        self._version += 1
        self._publish()

    def _publish(self) -> None:
        """Keep search attributes and the UI's current details in step with the state."""
        dispute = self._dispute
        wanted: dict[str, Any] = {
            sa.CASE_KIND.name: "dispute",
            sa.DISPUTE_STATUS.name: dispute.status.value,
            sa.ORDER_ID.name: dispute.order_id,
            sa.BUYER_ID.name: dispute.buyer_id,
            sa.SELLER_ID.name: dispute.seller_id,
            sa.CARE_REPLY_DUE_AT.name: dispute.care_reply_due_at,
            sa.SLA_BREACHED.name: dispute.sla_breached,
        }
        updates: list[SearchAttributeUpdate[Any]] = []
        for key in sa.ALL:
            value = wanted[key.name]
            if key.name in self._published and self._published[key.name] == value:
                continue
            updates.append(key.value_unset() if value is None else key.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published = wanted
        workflow.set_current_details(dispute.current_details())
