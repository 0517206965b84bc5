"""What the outside world is told about a case: webhook event types and their payloads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


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


#: What an event carries of each kind of case: ids, status, solutions and deadlines, never text.
DISPUTE_FIELDS = frozenset(
    {
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
    }
)
TICKET_FIELDS = frozenset(
    {
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
)
