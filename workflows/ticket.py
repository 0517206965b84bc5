"""CareTicketWorkflow: one per help-center report; the 1x24-hour reply target and auto-close."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from core import search_attributes as sa
    from domain.commands import IngestedEvent
    from domain.dispute import LinkTicket
    from domain.events import CareReplyDue, Opened
    from domain.ticket import Priority, Ticket
    from workflows.base import Carried, CaseWorkflow
    from workflows.dispute import DisputeWorkflow
    from workflows.inputs import TicketClosed as TicketClosed
    from workflows.inputs import TicketRun as TicketRun


@workflow.defn
class CareTicketWorkflow(CaseWorkflow[Ticket, TicketClosed]):
    """A user's report to care (Pusat Bantuan), from filing until it closes after being solved."""

    @workflow.init
    def __init__(self, run: TicketRun) -> None:
        self._opened = run.open
        if run.carried is not None:
            self._begin(run.carried.case, run.carried, [])
            return
        now = run.open.opened_at or workflow.now()
        self._begin(Ticket.open(workflow.info().workflow_id, run.open, now), None, [Opened()])

    @workflow.run
    async def run(self, run: TicketRun) -> TicketClosed:
        """Wait for care, the user and the clocks until the report closes."""
        return await self._run_case()

    @workflow.query
    def state(self) -> Ticket:
        """The report: status, reply target, allowed actions, timeline entries not yet stored."""
        return self._case

    @workflow.signal
    def ingest(self, event: IngestedEvent) -> None:
        """An action that came as a CloudEvent (deduped by its id; a refused one is recorded)."""
        self._ingest(event)

    async def _on_start(self) -> None:
        dispute_id = self._case.dispute_id
        if dispute_id is None:
            return
        dispute = workflow.get_external_workflow_handle_for(DisputeWorkflow.run, dispute_id)
        try:
            await dispute.signal(DisputeWorkflow.link_ticket, LinkTicket(ticket_id=self._case.id))
        except FailureError:
            # The dispute closed in the meantime: the link stays visible on this side only.
            workflow.logger.info("dispute %s no longer open; linked from the report only", dispute_id)

    def _reply_target_summary(self, alert: CareReplyDue) -> str:
        ticket = self._case
        raised = "PRIORITY account-security report" if ticket.priority is Priority.HIGH else "report"
        return f"care reply on {raised} {ticket.id} ({ticket.topic.value}) due {alert.due_at.isoformat()}"

    def _result(self) -> TicketClosed:
        ticket = self._case
        return TicketClosed(id=ticket.id, sla_breaches=ticket.sla_breaches, messages=ticket.message_count + 1)

    def _continue(self, carried: Carried[Ticket]) -> None:
        workflow.continue_as_new(TicketRun(open=self._opened, carried=carried))

    def _search_attributes(self) -> dict[SearchAttributeKey[Any], Any]:
        return ticket_search_attributes(self._case)


def ticket_search_attributes(ticket: Ticket) -> dict[SearchAttributeKey[Any], Any]:
    """What on-call filters reports by; set at start and kept in step on every change."""
    return {
        sa.CASE_KIND: "ticket",
        sa.TICKET_STATUS: ticket.status.value,
        sa.TICKET_TOPIC: ticket.topic.value,
        sa.CASE_PRIORITY: ticket.priority.value,
        sa.USER_ID: ticket.user_id,
        sa.ORDER_ID: ticket.order_id,
        sa.CARE_REPLY_DUE_AT: ticket.care_reply_due_at,
        sa.SLA_BREACHED: ticket.sla_breached,
        sa.NEEDS_ATTENTION: ticket.needs_attention,
        sa.NEXT_DEADLINE_AT: ticket.next_deadline_at,
    }
