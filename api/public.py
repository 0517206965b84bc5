"""What the API answers: a public model of its own for every response, apart from the state.

The aggregates (``domain/dispute.py``, ``domain/ticket.py``) are the workflows' state: what they
hold is free to change with the rules and must keep replaying. Clients see only the models here,
mapped from the state in this module and nowhere else (full-stack-fastapi-template's
``ItemPublic`` beside ``Item``): an internal field renamed or added changes no response and no
OpenAPI schema. Fields of the state that were only ever internal (the policy a case runs under,
its clocks' bookkeeping, repairs recorded by hand, ...) are not here; README.md, *Changes*, lists
them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from domain.dispute import DisputeStatus, Reason
from domain.ticket import Priority, ReporterRole, TicketStatus, TicketTopic
from domain.types import EvidenceType, Locale, Role, Solution, Then
from domain.views import DisputeView, TicketView

#: Read fields by name from the state (attributes, computed fields included), never by position.
_FROM_STATE = ConfigDict(from_attributes=True)


class ActorPublic(BaseModel):
    """Who acted: a role and the id the platform gave."""

    model_config = _FROM_STATE

    role: Role
    id: str


def _whole_seconds(value: timedelta | None) -> timedelta | None:
    """A duration without its fraction of a second (an ISO 8601 duration in the schema's format)."""
    return None if value is None else timedelta(seconds=int(value.total_seconds()))


class DeadlinePublic(BaseModel):
    """A clock running now: who must do what by when, and what happens when it passes."""

    model_config = _FROM_STATE

    party: Role
    action: str = Field(description="what the party does to stop it: an action's name, or 'respond'")
    due_at: datetime | None = Field(description="null while a care target is paused (see remaining)")
    then: Then
    business_hours: bool = Field(
        default=False, description="the clock counts business hours (care's targets under a calendar)"
    )
    paused: bool = Field(
        default=False,
        description="a care target that waits: a party was asked for information, or the report is on hold",
    )
    remaining: Annotated[timedelta | None, AfterValidator(_whole_seconds)] = Field(
        default=None,
        description="while paused: the time the target has left when it counts again (whole seconds)",
    )


class TimelineEntryPublic(BaseModel):
    """One line of a case's read-only audit trail; ``seq`` numbers a case's entries from 1."""

    model_config = _FROM_STATE

    seq: int
    at: datetime
    event: str
    actor: ActorPublic | None = None
    status: str
    detail: dict[str, Any] = {}


class AttentionPublic(BaseModel):
    """An outside effect parked for an operator (retry it, or record it as done by hand)."""

    model_config = _FROM_STATE

    effect: str = Field(description="refund_to_buyer, release_to_seller, mediation, care_reply_warning, ...")
    key: str = Field(
        description="the effect's idempotency key: name it in operator/retry or operator/resolve"
    )
    reason: str
    since: datetime


class ProposalPublic(BaseModel):
    """A solution put forward by one party: an offer, a revised request or an appeal."""

    model_config = _FROM_STATE

    by: Role
    solution: Solution
    note: str = ""
    appeal: bool = False
    at: datetime


class DecisionAppealPublic(BaseModel):
    """A party's appeal of care's decision (one per dispute), reviewed by a care supervisor."""

    model_config = _FROM_STATE

    by: Role
    reason: str
    evidence: list[str] = []
    at: datetime


class ShipmentPublic(BaseModel):
    """A shipment with its tracking number (resi)."""

    model_config = _FROM_STATE

    by: Role
    tracking_number: str
    carrier: str
    at: datetime
    delivered_at: datetime | None = Field(
        default=None, description="when the marketplace reported it delivered (its delivery event)"
    )


class ReturnResultPublic(BaseModel):
    """The seller's inspection of a returned item (RETURN_AND_REFUND), or the system's verdict."""

    model_config = _FROM_STATE

    verdict: str = Field(
        description="'confirmed', 'refused' or 'not_shipped' (the buyer did not ship in time)"
    )
    by: Role | Literal["system"]
    reason: str = ""
    evidence: list[str] = []
    at: datetime


class PayoutPublic(BaseModel):
    """A payout carried out, by the service or recorded by an operator (``reference``)."""

    model_config = _FROM_STATE

    kind: str = Field(description="REFUND_TO_BUYER or RELEASE_TO_SELLER")
    party: Role
    party_id: str
    amount: int
    idempotency_key: str
    reference: str | None = None
    at: datetime


class OutcomePublic(BaseModel):
    """How a dispute ended."""

    model_config = _FROM_STATE

    status: str
    solution: Solution | None = None
    decided_by: str = Field(description="'agreement', 'care', 'supervisor' or 'buyer_cancelled'")
    refunded_to_buyer: int = 0
    released_to_seller: int = 0
    at: datetime


class CasePublic(BaseModel):
    """What every case answers with."""

    model_config = _FROM_STATE

    id: str
    status: str
    allowed_actions: dict[Role, list[str]] = Field(description="what each role may do now")
    deadlines: list[DeadlinePublic] = Field(description="every clock running now, the nearest first")
    care_reply_due_at: datetime | None = Field(description="when care's reply is due, while care owes one")
    sla_breached: bool
    sla_breaches: int
    message_count: int = Field(description="party messages so far (a case accepts a limited number)")
    needs_attention: bool = Field(
        description="an outside effect is parked and the case waits for an operator"
    )
    attention: list[AttentionPublic] = Field(description="the parked effects")
    assignee: str | None = Field(default=None, description="the care agent who owns the case, if any")
    care_group: str | None = Field(default=None, description="the care group the case is in, if any")
    timeline_seq: int = Field(description="the number of the case's last timeline entry (its version)")
    timeline: list[TimelineEntryPublic] = Field(description="the full read-only audit trail")
    version: int = Field(
        default=0,
        description="which change of the case this shows (its timeline_seq): grows with every change, the"
        " same in the read model, an action's answer and the webhook events",
    )
    as_of: datetime | None = Field(
        default=None, description="when the case's own step stored this version in the read model"
    )
    stale: bool = Field(
        default=False, description="an action's answer older than the action (rare: read the case again)"
    )


class DisputePublic(CasePublic):
    """A dispute (Pusat Resolusi) as the API shows it."""

    status: DisputeStatus
    order_id: str
    buyer_id: str
    seller_id: str
    order_total: int = Field(description="integer rupiah")
    reason: Reason
    description: str
    evidence: list[str] = Field(description="the evidence the buyer filed with the claim")
    evidence_by_type: dict[EvidenceType, list[str]] = Field(
        default={},
        description="every evidence reference the dispute cites (claim, messages, appeals), grouped by the"
        " type its upload gave it; OTHER for files uploaded without one",
    )
    buyer_locale: Locale = Field(default=Locale.ID, description="the language of the buyer's notices")
    seller_locale: Locale = Field(default=Locale.ID, description="the language of the seller's notices")
    opened_at: datetime
    requested_solution: Solution
    current_offer: ProposalPublic | None
    proposals: list[ProposalPublic] = Field(
        description="the offer history: offers, revised requests, appeals"
    )
    response_due_at: datetime | None = Field(description="when the party whose turn it is counts as inactive")
    buyer_inactive_at: datetime | None = Field(
        description="when the buyer's silence lets the seller ask for help"
    )
    inactive_party: Role | None
    escalated_at: datetime | None
    escalated_by: Role | Literal["system"] | None
    escalation_reason: str | None = Field(description="why the system escalated")
    care_decision_due_at: datetime | None = Field(
        description="when care's decision is due, while care owes one"
    )
    decision_accepted_by: list[Role] = Field(description="parties who accepted care's decision")
    decision_appeal: DecisionAppealPublic | None
    receipt_problem: bool = Field(description="the buyer wrote while its confirmation of receipt was awaited")
    mediation_case_ref: str | None
    agreed_solution: Solution | None
    decided_by: str | None
    shipments: list[ShipmentPublic]
    received_at: datetime | None
    return_result: ReturnResultPublic | None = Field(
        default=None, description="the seller's inspection of the returned item (RETURN_AND_REFUND)"
    )
    payouts_made: list[PayoutPublic]
    outcome: OutcomePublic | None
    linked_tickets: list[str] = Field(description="help-center reports about this order")


class TicketMessagePublic(BaseModel):
    """One message in a report's conversation."""

    model_config = _FROM_STATE

    author: Role
    author_id: str
    text: str
    at: datetime


class TicketPublic(CasePublic):
    """A help-center report (Pusat Bantuan) as the API shows it."""

    status: TicketStatus
    user_id: str
    role: ReporterRole = Field(description="the reporting user's marketplace role")
    topic: TicketTopic
    priority: Priority
    order_id: str | None
    dispute_id: str | None = Field(description="the order's dispute, open when the report was filed")
    attachments: list[str]
    evidence_by_type: dict[EvidenceType, list[str]] = Field(
        default={}, description="the report's attachments, grouped by the type their upload gave them"
    )
    locale: Locale = Field(default=Locale.ID, description="the language of the user's notices")
    messages: list[TicketMessagePublic] = Field(description="the conversation, oldest first")
    solved_at: datetime | None
    closes_at: datetime | None = Field(description="a solved report closes then unless the user writes")
    viewed_articles: list[str] = Field(
        default=[], description="the Help Center articles the user read before filing it (for care)"
    )


PublicT = TypeVar("PublicT", bound=CasePublic)


def public(model: type[PublicT], view: DisputeView | TicketView | BaseModel) -> PublicT:
    """The one mapping from a case (its state with its full timeline) to what clients see: each
    public field read from the state's attribute of that name, nothing else."""
    return model.model_validate(view)


class EffectPublic(BaseModel):
    """One outside effect as applied (and recorded once) under its idempotency key."""

    model_config = _FROM_STATE

    case_id: str
    kind: Annotated[str, BeforeValidator(lambda kind: getattr(kind, "recorded_as", kind))] = Field(
        description="REFUND_TO_BUYER, RELEASE_TO_SELLER, NOTIFICATION, MEDIATION_OPENED, ..."
    )
    party: str | None = None
    party_id: str | None = None
    amount: int | None = None
    text: str | None = None
    category: str | None = Field(default=None, description="for notifications: 'care_reply' or 'update'")
    articles: list[str] | None = Field(
        default=None, description="for a care reply's notification: the Help Center articles it cites"
    )
    template: str | None = Field(
        default=None, description="for a notification: the template id ``text`` was rendered from"
    )
    params: dict[str, Any] | None = Field(
        default=None, description="for a notification: the template's parameters"
    )
    locale: str | None = Field(
        default=None, description="for a notification: 'id' or 'en', the language of ``text``"
    )
    idempotency_key: str
    created_at: datetime | None = None
    seq: int | None = Field(default=None, description="position in the outbox")


class EffectList(BaseModel):
    """The outside effects of one case, oldest first, in cursor pages."""

    items: list[EffectPublic]
    next_cursor: str | None = Field(default=None, description="pass it as cursor for the next page")


class CitedArticlePublic(BaseModel):
    """A Help Center article a care reply cites, as it is now."""

    model_config = _FROM_STATE

    id: str
    slug: str
    title: str


class InboxItemPublic(BaseModel):
    """A care reply in a user's inbox (Pesan Bantuan)."""

    model_config = _FROM_STATE

    id: str
    case_id: str
    text: str = Field(description="the reply as the user reads it, in the user's language")
    template: str | None = Field(default=None, description="the template id ``text`` was rendered from")
    params: dict[str, Any] | None = Field(default=None, description="the template's parameters")
    locale: str | None = Field(default=None, description="'id' or 'en': the language of ``text``")
    articles: list[CitedArticlePublic] = Field(
        default=[], description="the Help Center articles the reply cites, with their current title and slug"
    )
    read: bool
    created_at: datetime


class Inbox(BaseModel):
    """A user's inbox, newest first, in cursor pages."""

    items: list[InboxItemPublic]
    next_cursor: str | None = Field(default=None, description="pass it as cursor for the next page")
