"""The help-center report kind's Temporal side: its workflow (one per report), its search
attributes, and its first step (linking the order's open dispute)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from core import search_attributes as sa
    from domain.dispute import LinkTicket
    from domain.events import CareReplyDue
    from domain.kinds import TICKET
    from domain.ticket import Priority, Ticket
    from workflows.base import CaseWorkflow, KindSteps
    from workflows.dispute import DisputeWorkflow
    from workflows.inputs import TicketClosed as TicketClosed
    from workflows.inputs import TicketRun as TicketRun


class TicketSteps(KindSteps[Ticket, TicketClosed]):
    """What the engine runs for a report beyond the shared skeleton: its first step, and how
    care's alerts about it read."""

    kind = TICKET

    async def on_start(self, engine: CaseWorkflow[Ticket, TicketClosed]) -> None:
        """Tell the order's open dispute about the report."""
        dispute_id = engine.case.dispute_id
        if dispute_id is None:
            return
        dispute = workflow.get_external_workflow_handle_for(DisputeWorkflow.run, dispute_id)
        try:
            await dispute.signal(DisputeWorkflow.link_ticket, LinkTicket(ticket_id=engine.case.id))
        except FailureError:
            # The dispute closed in the meantime: the link stays visible on this side only.
            workflow.logger.info("dispute %s no longer open; linked from the report only", dispute_id)

    def alert_summary(self, case: Ticket, alert: CareReplyDue) -> str:
        raised = "PRIORITY account-security report" if case.priority is Priority.HIGH else "report"
        return f"care reply on {raised} {case.id} ({case.topic.value}) due {alert.due_at.isoformat()}"

    def archived(self, case: Ticket) -> dict[str, str | None]:
        return {"order_id": case.order_id}

    def result(self, case: Ticket) -> TicketClosed:
        return TicketClosed(id=case.id, sla_breaches=case.sla_breaches, messages=case.message_count + 1)

    def search_attributes(self, case: Ticket) -> dict[SearchAttributeKey[Any], Any]:
        return ticket_search_attributes(case)


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
        sa.CARE_ASSIGNEE: ticket.assignee,
    }


@workflow.defn
class CareTicketWorkflow(CaseWorkflow[Ticket, TicketClosed]):
    """A user's report to care (Pusat Bantuan), from filing until it closes after being solved."""

    @workflow.run
    async def run(self, run: TicketRun) -> TicketClosed:
        """Wait for care, the user and the clocks until the report closes."""
        return await self._run_case()

    @workflow.init
    def __init__(self, run: TicketRun) -> None:
        self._begin(TicketSteps(), run)

    @workflow.query
    def state(self) -> Ticket:
        """The report: status, reply target, allowed actions, timeline entries not yet stored."""
        return self._case
