"""What happened to a case: the domain events that actions, clocks and reported effects return.

The rules only say what happened; ``domain/reactions.py`` derives from these, in one place, who
is told what, which webhook events go out and which outside effects run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.types import Actor, CareTarget, Deadline, EvidenceType, Role, Solution


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened to a case."""


@dataclass(frozen=True)
class Opened(DomainEvent):
    """The case was opened (a dispute filed, a report received)."""


@dataclass(frozen=True)
class Acted(DomainEvent):
    """A party or care took an action; every action returns this one first."""

    actor: Actor
    action: str


@dataclass(frozen=True)
class Escalated(DomainEvent):
    """The case went to care for mediation; ``by`` is the party's role or ``"system"`` (with why,
    and ``window``: the kind of the party's window whose closing escalated it, if one did)."""

    by: str
    reason: str = ""
    window: str = ""


@dataclass(frozen=True)
class CareSpoke(DomainEvent):
    """Care wrote to the parties (a dispute in mediation) or to the reporting user (a report),
    citing Help Center ``articles`` by id."""

    text: str
    articles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decided(DomainEvent):
    """Care decided the solution of a dispute; with ``appeal_until`` it may be appealed until then."""

    solution: Solution
    note: str
    appeal_until: datetime | None = None


@dataclass(frozen=True)
class DecisionAppealed(DomainEvent):
    """A party appealed care's decision; a supervisor reviews it by ``review_due_at``."""

    by: Role
    review_due_at: datetime


@dataclass(frozen=True)
class DecisionReviewed(DomainEvent):
    """A supervisor confirmed (``confirmed``) or replaced care's appealed decision; it is final."""

    confirmed: bool
    solution: Solution
    note: str


@dataclass(frozen=True)
class DecisionFinal(DomainEvent):
    """Care's decision became final without an appeal (both parties accepted, or the window passed)."""

    reason: str


@dataclass(frozen=True)
class ReceiptConfirmed(DomainEvent):
    """The buyer neither confirmed receipt nor raised a problem in time: the system confirmed it."""

    reason: str


@dataclass(frozen=True)
class ShipmentDelivered(DomainEvent):
    """The marketplace reported a shipment delivered; ``until`` is when the window it started (or
    moved) closes: the seller's inspection of a return, or the buyer's receipt."""

    by: Role
    tracking_number: str
    until: datetime | None = None


@dataclass(frozen=True)
class ReturnConfirmed(DomainEvent):
    """The seller confirmed the returned item, or stayed silent past the inspection window
    (``by_system``): the refund is due."""

    by_system: bool
    reason: str = ""


@dataclass(frozen=True)
class ReturnRefused(DomainEvent):
    """The seller refused the returned item (with a reason): care takes over."""

    reason: str


@dataclass(frozen=True)
class ReturnLapsed(DomainEvent):
    """The buyer did not ship the item back within the shipment window: the funds go to the seller."""

    reason: str


@dataclass(frozen=True)
class Reminded(DomainEvent):
    """The party whose window is running was reminded before it closes (once per window)."""

    deadline: Deadline


@dataclass(frozen=True)
class Cancelled(DomainEvent):
    """The buyer withdrew the dispute."""


@dataclass(frozen=True)
class PartyInactive(DomainEvent):
    """The party whose turn it was stayed silent for the whole inactivity period."""

    party: Role


@dataclass(frozen=True)
class CareReplyDue(DomainEvent):
    """A care target (a reply, a decision, a review: ``target``) is near (``breached`` False) or
    was missed (True)."""

    due_at: datetime
    started_at: datetime
    breached: bool
    target: CareTarget = CareTarget.REPLY


@dataclass(frozen=True)
class SettlementDue(DomainEvent):
    """The agreed or decided solution is ready to be paid out."""


@dataclass(frozen=True)
class Resolved(DomainEvent):
    """The payouts were carried out and the dispute is closed."""


@dataclass(frozen=True)
class Solved(DomainEvent):
    """Care marked a report solved, or the system did (``by_system``: the user did not answer in
    time); it closes after the quiet period."""

    by_system: bool = False


@dataclass(frozen=True)
class Closed(DomainEvent):
    """A solved report stayed quiet for the whole quiet period and closed."""


@dataclass(frozen=True)
class EffectParked(DomainEvent):
    """An outside effect was refused for good or ran out of retries: the case waits for an operator."""

    effect: str = field(metadata={"doc": "an EffectName"})
    key: str
    reason: str


@dataclass(frozen=True)
class EffectRepaired(DomainEvent):
    """An operator had a parked effect retried, or recorded it as done by hand (``reference``)."""

    key: str
    reference: str | None


@dataclass(frozen=True)
class InfoRequested(DomainEvent):
    """Care asked ``party`` for information by ``due_at``; care's targets wait meanwhile."""

    party: Role
    text: str
    due_at: datetime
    evidence_type: EvidenceType | None = None


@dataclass(frozen=True)
class PauseEnded(DomainEvent):
    """A request for information or a hold ended (``reason``: answered, expired, closed, ended)."""

    kind: str
    party: Role
    reason: str


@dataclass(frozen=True)
class Assigned(DomainEvent):
    """Who owns the case in care changed: ``assignee`` (``None``: nobody) in ``group``, taken over
    from ``previous``, by ``by`` (``None``: the system, when a missed target moved it, ``reason``)."""

    assignee: str | None
    group: str | None
    previous: str | None
    by: Actor | None = None
    reason: str = ""
