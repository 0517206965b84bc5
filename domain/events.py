"""What the outside world is told about a case: event types and their payloads (for webhooks)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from domain.commands import Cancel, Command, RequestHelp
from domain.dispute import Dispute
from domain.ticket import Solve, Ticket, TicketReply


class EventType(StrEnum):
    """The event types webhook subscribers choose from."""

    DISPUTE_OPENED = "dispute.opened"
    DISPUTE_UPDATED = "dispute.updated"
    DISPUTE_ESCALATED = "dispute.escalated"
    DISPUTE_RESOLVED = "dispute.resolved"
    DISPUTE_CANCELLED = "dispute.cancelled"
    CARE_REPLY_WARNING = "care.reply_warning"
    CARE_REPLY_BREACHED = "care.reply_breached"
    TICKET_OPENED = "ticket.opened"
    TICKET_REPLIED = "ticket.replied"
    TICKET_SOLVED = "ticket.solved"
    TICKET_CLOSED = "ticket.closed"


class CaseEvent(BaseModel):
    """One event about one case; ``id`` is stable (case id and sequence), so receivers dedupe on it."""

    id: str
    type: EventType
    case_id: str
    occurred_at: datetime
    data: dict[str, Any]


_DISPUTE_FIELDS = {
    "id",
    "order_id",
    "buyer_id",
    "seller_id",
    "status",
    "requested_solution",
    "current_offer",
    "agreed_solution",
    "outcome",
    "care_reply_due_at",
    "sla_breached",
    "linked_tickets",
}
_TICKET_FIELDS = {
    "id",
    "user_id",
    "role",
    "topic",
    "priority",
    "status",
    "order_id",
    "dispute_id",
    "care_reply_due_at",
    "sla_breached",
    "closes_at",
}


def snapshot(case: Dispute | Ticket) -> dict[str, Any]:
    """The case as an event carries it: ids, status, solutions, deadlines; never message text."""
    fields = _DISPUTE_FIELDS if isinstance(case, Dispute) else _TICKET_FIELDS
    return case.model_dump(mode="json", include=fields)


def after_dispute_command(command: Command) -> list[EventType]:
    """Every dispute action is an update; escalation and cancellation are also told as such."""
    extra = {RequestHelp: EventType.DISPUTE_ESCALATED, Cancel: EventType.DISPUTE_CANCELLED}
    special = extra.get(type(command))
    return [EventType.DISPUTE_UPDATED] + ([special] if special else [])


def after_ticket_command(command: Command) -> list[EventType]:
    """Care's replies and solving are told; the user's own messages are not."""
    if isinstance(command, TicketReply):
        return [EventType.TICKET_REPLIED]
    if isinstance(command, Solve):
        return [EventType.TICKET_SOLVED]
    return []
