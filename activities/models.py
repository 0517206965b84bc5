"""Inputs and results of the activities."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.case import TimelineEntry
from domain.outbound import CaseEvent


class PayoutInput(BaseModel):
    """Move ``amount`` rupiah to one party of a case."""

    case_id: str
    party_id: str
    amount: int
    idempotency_key: str


class NotifyInput(BaseModel):
    """Tell one party something about a case: ``text`` rendered from ``template`` and ``params`` in
    the party's ``locale`` (a notice queued before templates carries its text only)."""

    case_id: str
    party: str
    party_id: str
    text: str
    category: str = "update"
    articles: list[str] = Field(default=[], description="Help Center articles a care reply cites, by id")
    template: str | None = Field(default=None, description="the notice's template id (notice_texts.py)")
    params: dict[str, Any] = Field(default={}, description="the template's parameters, as JSON values")
    locale: str | None = Field(default=None, description="'id' or 'en': the language ``text`` is in")
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


class PublishInput(BaseModel):
    """One change of a case, handed out in one step: its timeline entries for the store, its
    notices for the parties and its events for the webhook subscribers (each item idempotent)."""

    case_id: str
    batch: int = Field(default=0, description="the case's publish step number (from 1)")
    timeline: list[TimelineEntry] = []
    notices: list[NotifyInput] = []
    events: list[CaseEvent] = []
    kind: str | None = Field(default=None, description="the case's kind (its registered name)")
    state: dict[str, Any] | None = Field(
        default=None,
        description="the case as of this step (store.views.compact), for its read-model row (set by the"
        " publish lane)",
    )
    deliver_only: bool = Field(
        default=False,
        description="notices and events an earlier step could not hand out: retried until they go",
    )


class RefusedNotice(BaseModel):
    """A notice the receiving system refused for good; the case records it."""

    idempotency_key: str
    reason: str


class PublishResult(BaseModel):
    """What became of a published change: how many deliveries started, which notices were refused."""

    deliveries: int = 0
    refused: list[RefusedNotice] = []
    undelivered: list[NotifyInput] = Field(
        default=[], description="notices not sent because the receiver is unavailable: the case retries them"
    )
    unhanded: list[CaseEvent] = Field(
        default=[], description="events not handed over (the webhook lane unavailable): the case retries them"
    )
