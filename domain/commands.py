"""One input model per dispute action; the API accepts them as bodies, the workflow as updates.

Each is registered, with its rule, in ``domain/dispute.py`` (see ``domain/registry.py``)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.types import (
    Actor,
    ArticleList,
    EvidenceList,
    EvidenceType,
    EvidenceTypes,
    Identifier,
    MacroId,
    Note,
    Role,
    Solution,
    Text,
)


class Action(StrEnum):
    """The names of the built-in actions, as reported in ``allowed_actions`` and used as update names."""

    MESSAGE = "message"
    OFFER = "offer"
    ACCEPT = "accept"
    REJECT = "reject"
    APPEAL = "appeal"
    HELP = "help"
    CANCEL = "cancel"
    REPLY = "reply"
    DECIDE = "decide"
    SHIP = "ship"
    CONFIRM_RECEIPT = "confirm_receipt"
    APPEAL_DECISION = "appeal_decision"
    CONFIRM_DECISION = "confirm_decision"
    REPLACE_DECISION = "replace_decision"
    SOLVE = "solve"
    CONFIRM_RETURN = "confirm_return"
    REFUSE_RETURN = "refuse_return"


class Command(BaseModel):
    """An action on a case by a named actor; ``action`` names it in the case's registry."""

    model_config = ConfigDict(extra="forbid")
    action: ClassVar[str]
    #: Whether the command counts toward the case's message limit (a party's free text).
    counts_as_message: ClassVar[bool] = False

    actor: Actor
    evidence_types: EvidenceTypes = {}


class SendMessage(Command):
    """Buyer or seller adds a message and evidence (any open stage)."""

    action = Action.MESSAGE
    counts_as_message = True
    text: Text
    evidence: EvidenceList = []


class MakeOffer(Command):
    """Seller offers another solution (Tawarkan solusi lain); buyer revises the request."""

    action = Action.OFFER
    solution: Solution
    note: Note = ""


class Accept(Command):
    """Accept the other party's solution (Terima Solusi)."""

    action = Action.ACCEPT


class Reject(Command):
    """Buyer declines the seller's offer or appeal."""

    action = Action.REJECT
    note: Note = ""


class Appeal(Command):
    """Seller contests the claim (Ajukan Banding) with a reason and evidence."""

    action = Action.APPEAL
    reason: Text
    evidence: EvidenceList = []


class RequestHelp(Command):
    """Ask the care team to mediate (Minta Bantuan)."""

    action = Action.HELP
    note: Note = ""


class Cancel(Command):
    """Buyer withdraws the dispute before any agreement or mediation."""

    action = Action.CANCEL
    note: Note = ""


class CareReply(Command):
    """A care agent messages the parties during mediation, citing Help Center articles if useful."""

    action = Action.REPLY
    text: Text
    articles: ArticleList = []
    macro_id: MacroId = None


class Decide(Command):
    """A care agent decides the solution that will be carried out."""

    action = Action.DECIDE
    solution: Solution
    note: Note = ""


class Ship(Command):
    """A party reports a shipment (resi) for an exchange or the remaining items."""

    action = Action.SHIP
    tracking_number: Identifier
    carrier: Identifier


class ConfirmReceipt(Command):
    """Buyer confirms the replacement or the remaining items arrived."""

    action = Action.CONFIRM_RECEIPT


class ConfirmReturn(Command):
    """Seller confirms the returned item arrived as expected; the refund is paid."""

    action = Action.CONFIRM_RETURN
    note: Note = ""


class RefuseReturn(Command):
    """Seller refuses the returned item with a reason and evidence; care takes over."""

    action = Action.REFUSE_RETURN
    reason: Text
    evidence: EvidenceList = []


class Delivered(BaseModel):
    """The marketplace reports a shipment delivered (``com.marketplace.shipment.delivered``, or
    ``POST /v1/disputes/{id}/shipments/{tracking_number}/delivered``); not a party's action."""

    model_config = ConfigDict(extra="forbid")

    tracking_number: Identifier
    delivered_at: AwareDatetime = Field(description="when the carrier delivered it (with a UTC offset)")
    reported_by: str = Field(
        default="platform", max_length=64, description="the API key's holder that reported it"
    )


#: The name of the delivery as an ingested event's action and as the dispute workflow's update.
DELIVERED = "delivered"


class AppealDecision(Command):
    """A party appeals care's decision, once per dispute (banding atas keputusan), with a reason
    and evidence; a care supervisor reviews it. Not the seller's ``appeal`` of the claim."""

    action = Action.APPEAL_DECISION
    reason: Text
    evidence: EvidenceList = []


class ConfirmDecision(Command):
    """A care supervisor confirms the appealed decision; it is carried out."""

    action = Action.CONFIRM_DECISION
    note: Note = ""


class ReplaceDecision(Command):
    """A care supervisor replaces the appealed decision with another solution, which is carried out."""

    action = Action.REPLACE_DECISION
    solution: Solution
    note: Note = ""


class IngestedEvent(BaseModel):
    """An action that arrived as a CloudEvent: delivered to the case as a signal, deduped by ``id``."""

    id: str
    type: str
    action: str | None = Field(default=None, description="None for the event that opened the case")
    body: dict[str, Any] = {}


class RetryEffect(Command):
    """An operator has a parked outside effect tried again, once its cause is fixed."""

    action = "retry_effect"
    key: str | None = Field(
        default=None, max_length=300, description="which parked effect; the first if unset"
    )
    note: Note = ""


class ResolveEffect(Command):
    """An operator records a parked outside effect as done by hand, with its reference elsewhere."""

    action = "resolve_effect"
    key: str | None = Field(
        default=None, max_length=300, description="which parked effect; the first if unset"
    )
    external_ref: Identifier = Field(description="where it was done: a payment id, a care desk case, ...")
    note: Note = ""


class Redecide(Command):
    """Care replaces its decision when a payout of it was refused for good (what was paid stays paid)."""

    action = "redecide"
    solution: Solution
    note: Note = ""


class RequestInfo(Command):
    """Care asks the buyer or the seller for information by a deadline; care's targets wait meanwhile."""

    action = "request_info"
    party: Literal[Role.BUYER, Role.SELLER] = Field(description="who is asked")
    text: Text
    due_in: timedelta | None = Field(
        default=None,
        gt=timedelta(0),
        description="how long the party has (calendar time); unset: DISPUTES_INFO_REQUEST_WINDOW",
    )
    evidence_type: EvidenceType | None = Field(
        default=None, description="the type of evidence asked for (as an upload's evidence_type)"
    )
