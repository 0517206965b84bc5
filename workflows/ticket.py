"""CareTicketWorkflow: one per help-center report; the 1x24-hour reply target and auto-close."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from core import search_attributes as sa
    from domain import events, notices
    from domain.case import DeadlineEvent, ReplyClock
    from domain.commands import Command, IngestedEvent
    from domain.dispute import LinkTicket
    from domain.events import EventType
    from domain.notices import Notice
    from domain.ticket import (
        TICKET_COMMANDS,
        OpenTicketInput,
        Priority,
        Solve,
        Ticket,
        TicketReply,
        UserMessage,
    )
    from workflows.base import CaseWorkflow
    from workflows.dispute import DisputeWorkflow


class TicketClosed(BaseModel):
    """The result of a report's workflow."""

    id: str
    sla_breaches: int
    messages: int


@workflow.defn
class CareTicketWorkflow(CaseWorkflow[Ticket]):
    """A user's report to care (Pusat Bantuan), from filing until it closes after being solved."""

    @workflow.init
    def __init__(self, request: OpenTicketInput) -> None:
        ticket = Ticket.open(workflow.info().workflow_id, request, workflow.now())
        self._start(ticket, notices.on_ticket_open(ticket), EventType.TICKET_OPENED)

    @workflow.run
    async def run(self, request: OpenTicketInput) -> TicketClosed:
        """Wait for care, the user and the clocks until the report closes."""
        self._running = True
        self._publish()
        if self._case.dispute_id:
            await self._link_dispute(self._case.dispute_id)
        while not self._case.closed:
            await self._flush()
            await self._wait_for_change_or_deadline()
        await self._flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return TicketClosed(
            id=self._case.id, sla_breaches=self._case.sla_breaches, messages=len(self._case.messages)
        )

    @workflow.query
    def state(self) -> Ticket:
        """The whole report: status, messages, reply target, allowed actions, timeline."""
        return self._case

    @workflow.update
    def message(self, command: UserMessage) -> Ticket:
        """The user writes; a solved report reopens and care owes a reply again."""
        return self._act(command)

    @message.validator
    def _check_message(self, command: UserMessage) -> None:
        self._check(command)

    @workflow.update
    def reply(self, command: TicketReply) -> Ticket:
        """Care replies; the reply is delivered to the user's inbox."""
        return self._act(command)

    @reply.validator
    def _check_reply(self, command: TicketReply) -> None:
        self._check(command)

    @workflow.update
    def solve(self, command: Solve) -> Ticket:
        """Care marks the report solved; it closes after the quiet period."""
        return self._act(command)

    @solve.validator
    def _check_solve(self, command: Solve) -> None:
        self._check(command)

    @workflow.signal
    def ingest(self, event: IngestedEvent) -> None:
        """An action that came as a CloudEvent (deduped by its id; a refused one is recorded)."""
        self._ingest(event, TICKET_COMMANDS)

    async def _link_dispute(self, dispute_id: str) -> None:
        dispute = workflow.get_external_workflow_handle_for(DisputeWorkflow.run, dispute_id)
        try:
            await dispute.signal(DisputeWorkflow.link_ticket, LinkTicket(ticket_id=self._case.id))
        except FailureError:
            # The dispute closed in the meantime: the link stays visible on this side only.
            workflow.logger.info("dispute %s no longer open; linked from the report only", dispute_id)

    def _notices_after(self, command: Command) -> list[Notice]:
        return notices.on_ticket_command(self._case, command)

    def _events_after(self, command: Command) -> list[EventType]:
        return events.after_ticket_command(command)

    async def _on_case_deadline(self, event: DeadlineEvent) -> None:
        if event is DeadlineEvent.QUIET_PERIOD_OVER:
            self._notices += notices.on_ticket_close(self._case)
            self._emit([EventType.TICKET_CLOSED])

    def _reply_target_summary(self, clock: ReplyClock) -> str:
        ticket = self._case
        raised = "PRIORITY account-security report" if ticket.priority is Priority.HIGH else "report"
        return f"care reply on {raised} {ticket.id} ({ticket.topic.value}) due {clock.due_at.isoformat()}"

    def _search_attributes(self) -> dict[SearchAttributeKey[Any], Any]:
        ticket = self._case
        return {
            sa.CASE_KIND: "ticket",
            sa.TICKET_STATUS: ticket.status.value,
            sa.TICKET_TOPIC: ticket.topic.value,
            sa.CASE_PRIORITY: ticket.priority.value,
            sa.USER_ID: ticket.user_id,
            sa.ORDER_ID: ticket.order_id,
            sa.CARE_REPLY_DUE_AT: ticket.care_reply_due_at,
            sa.SLA_BREACHED: ticket.sla_breached,
        }
