"""Inputs and results of the activities, and the record of an outside effect."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.case import TimelineEntry
from domain.effects import EffectName, RecordedEffect
from domain.outbound import CaseEvent

#: The outbox's name for ``EffectName`` before the effect registry: the same vocabulary, kept so
#: callers not yet moved read on. New code names ``EffectName``.
EffectKind = EffectName


class Effect(BaseModel):
    """One outside effect as applied (and recorded once) under its idempotency key."""

    case_id: str
    kind: RecordedEffect
    party: str | None = None
    party_id: str | None = None
    amount: int | None = None
    text: str | None = None
    category: str | None = Field(default=None, description="for notifications: 'care_reply' or 'update'")
    idempotency_key: str
    created_at: datetime | None = None
    seq: int | None = Field(default=None, description="position in the outbox, assigned when recorded")


class PayoutInput(BaseModel):
    """Move ``amount`` rupiah to one party of a case."""

    case_id: str
    party_id: str
    amount: int
    idempotency_key: str


class NotifyInput(BaseModel):
    """Tell one party something about a case."""

    case_id: str
    party: str
    party_id: str
    text: str
    category: str = "update"
    idempotency_key: str


class MediationInput(BaseModel):
    """Open the care desk's mediation case for a dispute."""

    case_id: str
    order_id: str
    buyer_id: str
    seller_id: str
    escalated_by: str
    idempotency_key: str


class MediationCase(BaseModel):
    """The care desk's reference for a mediation case."""

    case_ref: str


class AssignInput(BaseModel):
    """Assign a care desk case to care."""

    case_id: str
    case_ref: str
    idempotency_key: str


class Assignment(BaseModel):
    """Who (which agent or queue) now owns the case."""

    assignee: str


class ReplyTargetInput(BaseModel):
    """A reply target that is near (warning) or missed (breach)."""

    case_id: str
    due_at: datetime
    summary: str
    idempotency_key: str


class InboxItem(BaseModel):
    """A care reply in a user's inbox (Pesan Bantuan)."""

    id: str
    case_id: str
    text: str
    read: bool
    created_at: datetime


class PublishInput(BaseModel):
    """One change of a case, handed out in one step: its timeline entries for the store, its
    notices for the parties and its events for the webhook subscribers (each item idempotent)."""

    case_id: str
    batch: int = Field(default=0, description="the case's publish step number (from 1)")
    timeline: list[TimelineEntry] = []
    notices: list[NotifyInput] = []
    events: list[CaseEvent] = []


class RefusedNotice(BaseModel):
    """A notice the receiving system refused for good; the case records it."""

    idempotency_key: str
    reason: str


class PublishResult(BaseModel):
    """What became of a published change: how many deliveries started, which notices were refused."""

    deliveries: int = 0
    refused: list[RefusedNotice] = []


class ArchiveInput(BaseModel):
    """A closed case as it ended, for the archive: its final state, what of its timeline is not
    stored yet, and the keyed requests it ran (so retries after it is gone still get answers)."""

    case_id: str
    kind: str
    order_id: str | None
    buyer_id: str | None = None
    seller_id: str | None = None
    status: str
    opened_at: datetime
    closed_at: datetime
    state: dict[str, Any]
    timeline: list[TimelineEntry] = []
    requests: dict[str, Any] = {}
