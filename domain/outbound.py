"""What the outside world is told about a case: webhook event types and their payloads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class EventType(StrEnum):
    """The event types webhook subscribers choose from."""

    DISPUTE_OPENED = "dispute.opened"
    DISPUTE_UPDATED = "dispute.updated"
    DISPUTE_ESCALATED = "dispute.escalated"
    DISPUTE_RESOLVED = "dispute.resolved"
    DISPUTE_CANCELLED = "dispute.cancelled"
    DISPUTE_DECISION_APPEALED = "dispute.decision_appealed"
    CARE_REPLY_WARNING = "care.reply_warning"
    CARE_REPLY_BREACHED = "care.reply_breached"
    CARE_DECISION_WARNING = "care.decision_warning"
    CARE_DECISION_BREACHED = "care.decision_breached"
    CARE_ASSIGNED = "care.assigned"
    TICKET_OPENED = "ticket.opened"
    TICKET_REPLIED = "ticket.replied"
    TICKET_SOLVED = "ticket.solved"
    TICKET_CLOSED = "ticket.closed"
    CASE_NEEDS_ATTENTION = "case.needs_attention"
    CASE_REPAIRED = "case.repaired"


class NoticeSent(BaseModel):
    """A notice the change sent to one party, as its webhook events carry it: the rendered text and
    what it was rendered from, so a platform may render its own (dedupe on ``key``)."""

    key: str = Field(description="the notice's idempotency key, the same as its notification's")
    party: str
    party_id: str
    template: str | None = None
    params: dict[str, Any] = {}
    locale: str | None = None
    text: str
    category: str = "update"


class CaseEvent(BaseModel):
    """One event about one case; ``id`` is stable (case id and sequence), so receivers dedupe on it.

    ``data`` leaves out empty fields (it is carried in the case's history); receivers get every
    field of the case's kind, empty ones as null (``wire_data``)."""

    id: str
    type: EventType
    case_id: str
    occurred_at: datetime
    data: dict[str, Any]
    notices: list[NoticeSent] = Field(
        default=[], description="the notices the same change sent (every event of the change carries them)"
    )
    version: int | None = Field(
        default=None, description="the case's version this event shows (its timeline_seq then)"
    )

    def wire_data(self) -> dict[str, Any]:
        """``data`` as receivers get it: every field of the case's kind, in a stable order."""
        fields = DISPUTE_FIELDS if self.case_id.startswith("dispute-") else TICKET_FIELDS
        return {name: self.data.get(name) for name in sorted(fields)}


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
        "linked_tickets",
        "attention",
        "assignee",
        "care_group",
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
        "attention",
        "assignee",
        "care_group",
    }
)
