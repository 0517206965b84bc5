"""What follows from each domain event, in one place: who is told what (notices), which webhook
events go out, and which outside effects the workflow must carry out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from domain.case import CareCase
from domain.dispute import Dispute
from domain.effects import EffectName
from domain.events import (
    Acted,
    Assigned,
    Cancelled,
    CareReplyDue,
    CareSpoke,
    Closed,
    Decided,
    DecisionAppealed,
    DecisionFinal,
    DecisionReviewed,
    DomainEvent,
    EffectParked,
    EffectRepaired,
    Escalated,
    Opened,
    PartyInactive,
    ReceiptConfirmed,
    Reminded,
    Resolved,
    Solved,
)
from domain.outbound import DISPUTE_FIELDS, TICKET_FIELDS, EventType
from domain.ticket import Ticket
from domain.types import CareTarget, Deadline, Role, Then, at_minute, short_duration


class NoticeCategory(StrEnum):
    """Care's replies land in the user's inbox (Pesan Bantuan); updates are plain notifications."""

    UPDATE = "update"
    CARE_REPLY = "care_reply"


class Notice(BaseModel):
    """A message for one party of a case."""

    party: Role
    party_id: str
    text: str
    category: NoticeCategory = NoticeCategory.UPDATE
    articles: list[str] = Field(default=[], description="Help Center articles a care reply cites, by id")


@dataclass
class Consequences:
    """Everything one change of a case asks of the outside world."""

    notices: list[Notice] = field(default_factory=list)
    published: list[EventType] = field(default_factory=list)
    effects: list[EffectName] = field(
        default_factory=list, metadata={"doc": "outside effects to start (a mediation to open)"}
    )
    care_alerts: list[CareReplyDue] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)

    def __iadd__(self, other: Consequences) -> Consequences:
        self.notices += other.notices
        self.published += other.published
        self.effects += [name for name in other.effects if name not in self.effects]
        self.care_alerts += other.care_alerts
        self.parked += other.parked
        return self

    def __bool__(self) -> bool:
        return bool(self.notices or self.published or self.effects or self.care_alerts or self.parked)


CaseT = TypeVar("CaseT", bound=CareCase)
#: What one domain event of one kind of case asks of the outside world.
Reaction = Callable[[Any, DomainEvent], Consequences]


@dataclass(frozen=True)
class Reactions:
    """One kind of case's reactions: what follows from its own events, and what its webhook
    events carry of it."""

    react: Reaction
    fields: frozenset[str]


_REACTIONS: dict[type[CareCase], Reactions] = {}


def reacts(
    kind: type[CaseT], fields: frozenset[str]
) -> Callable[[Callable[[CaseT, DomainEvent], Consequences]], Callable[[CaseT, DomainEvent], Consequences]]:
    """Register the reactions of one kind of case (used as a decorator)."""

    def register(
        react: Callable[[CaseT, DomainEvent], Consequences],
    ) -> Callable[[CaseT, DomainEvent], Consequences]:
        _REACTIONS[kind] = Reactions(react=react, fields=fields)
        return react

    return register


def reactions_of(kind: type[CareCase]) -> Reactions:
    """The reactions registered for ``kind`` (or for the kind it extends)."""
    for cls in kind.__mro__:
        if cls in _REACTIONS:
            return _REACTIONS[cls]
    raise LookupError(f"no reactions registered for {kind.__name__}")


def consequences(case: CareCase, happened: list[DomainEvent]) -> Consequences:
    """What ``happened`` to ``case`` asks of the outside world, in the order it happened: what
    every case shares here, the rest by the reactions its kind registered."""
    own = reactions_of(type(case)).react
    result = Consequences()
    for event in happened:
        if isinstance(event, EffectParked):
            result.parked.append(event.effect)
            result.published.append(EventType.CASE_NEEDS_ATTENTION)
        elif isinstance(event, EffectRepaired):
            result.published.append(EventType.CASE_REPAIRED)
        elif isinstance(event, CareReplyDue):
            result.care_alerts.append(event)
            result.published.append(_target_event(event))
        elif isinstance(event, Assigned):
            result += _assigned(case, event)
        else:
            result += own(case, event)
    # One change tells subscribers of each kind of event once (an acceptance that makes care's
    # decision final is one update).
    result.published = list(dict.fromkeys(result.published))
    return result


def _assigned(case: CareCase, event: Assigned) -> Consequences:
    """``care.assigned`` goes out; the agent given the case and the one it was taken from are told
    (never the agent who acted, and no party: ownership is care's own business)."""
    noun = "report" if case.actions.kind == "ticket" else "dispute"
    by = event.by
    group = f" in group {event.group}" if event.group else ""
    told: list[Notice] = []
    if event.assignee is not None and (by is None or by.id != event.assignee):
        who = f" by {by.role.value} {by.id}" if by is not None else ""
        text = f"Care {noun} {case.id} is assigned to you{group}{who}."
        told.append(Notice(party=Role.CARE, party_id=event.assignee, text=text))
    previous = event.previous
    if previous is not None and previous != event.assignee and (by is None or by.id != previous):
        if by is None:
            text = (
                f"Care {noun} {case.id} moved to the {event.group} group ({event.reason});"
                " it is no longer assigned to you."
            )
        else:
            now_with = event.assignee or f"the {event.group or 'unassigned'} queue"
            text = f"Care {noun} {case.id} was reassigned from you to {now_with} by {by.role.value} {by.id}."
        told.append(Notice(party=Role.CARE, party_id=previous, text=text))
    return Consequences(notices=told, published=[EventType.CARE_ASSIGNED])


def _target_event(due: CareReplyDue) -> EventType:
    if due.target is CareTarget.REPLY:
        return EventType.CARE_REPLY_BREACHED if due.breached else EventType.CARE_REPLY_WARNING
    return EventType.CARE_DECISION_BREACHED if due.breached else EventType.CARE_DECISION_WARNING


def snapshot(case: CareCase) -> dict[str, Any]:
    """The case as a webhook event carries it: ids, status, solutions, deadlines; never free text."""
    fields = reactions_of(type(case)).fields
    data = case.model_dump(mode="json", include=set(fields), exclude_none=True)
    if isinstance(data.get("current_offer"), dict):
        data["current_offer"].pop("note", None)
    return data


# -- disputes -------------------------------------------------------------------------------------


def _to(
    dispute: Dispute,
    party: Role,
    text: str,
    category: NoticeCategory = NoticeCategory.UPDATE,
    articles: tuple[str, ...] = (),
) -> Notice:
    return Notice(
        party=party, party_id=dispute.party_id(party), text=text, category=category, articles=list(articles)
    )


def _both(
    dispute: Dispute,
    text: str,
    category: NoticeCategory = NoticeCategory.UPDATE,
    articles: tuple[str, ...] = (),
) -> list[Notice]:
    return [
        _to(dispute, Role.BUYER, text, category, articles),
        _to(dispute, Role.SELLER, text, category, articles),
    ]


@reacts(Dispute, DISPUTE_FIELDS)
def dispute_reactions(dispute: Dispute, event: DomainEvent) -> Consequences:
    """Who is told what of a dispute's own events, and what follows."""
    match event:
        case Opened():
            text = (
                f"Buyer {dispute.buyer_id} opened dispute {dispute.id} on order {dispute.order_id}"
                f" ({dispute.reason.value}) asking to {dispute.requested_solution.describe()}."
            )
            return Consequences(
                notices=[_to(dispute, Role.SELLER, text)], published=[EventType.DISPUTE_OPENED]
            )
        case Acted(actor=actor, action=action):
            told: list[Notice] = []
            # Care's words and escalations are told to both parties below; a party's own
            # action is told to the other party.
            if actor.role in (Role.BUYER, Role.SELLER) and action != "help":
                other = Role.SELLER if actor.role is Role.BUYER else Role.BUYER
                told.append(
                    _to(
                        dispute,
                        other,
                        f"The {actor.role.value} did '{action}' on dispute {dispute.id};"
                        f" it is now {dispute.status.value}.",
                    )
                )
            return Consequences(notices=told, published=[EventType.DISPUTE_UPDATED])
        case Escalated(by=by, reason=reason):
            why = f": {reason};" if by == "system" else f" (requested by the {by});"
            text = (
                f"Dispute {dispute.id} is now mediated by care{why} care replies"
                f" within {short_duration(dispute.policy.care_reply_target)}."
            )
            return Consequences(
                notices=_both(dispute, text),
                published=[EventType.DISPUTE_ESCALATED],
                effects=[EffectName.MEDIATION_OPENED],
            )
        case CareSpoke(text=text, articles=articles):
            said = f"Care replied on dispute {dispute.id}: {text}"
            return Consequences(notices=_both(dispute, said, NoticeCategory.CARE_REPLY, articles))
        case Decided(solution=solution, note=note, appeal_until=appeal_until):
            decided = f"Care decided dispute {dispute.id}: {solution.describe()}. {note}".strip()
            if appeal_until is not None:
                decided += (
                    f" Either party may appeal this decision once until {at_minute(appeal_until)};"
                    " it is carried out then unless appealed, or as soon as both parties accept it."
                )
            return Consequences(notices=_both(dispute, decided, NoticeCategory.CARE_REPLY))
        case DecisionAppealed(by=by, review_due_at=due):
            text = (
                f"The {by.value} appealed care's decision on dispute {dispute.id}; a care supervisor"
                f" confirms or replaces it by {at_minute(due)}."
            )
            return Consequences(notices=_both(dispute, text), published=[EventType.DISPUTE_DECISION_APPEALED])
        case DecisionReviewed(confirmed=confirmed, solution=solution, note=note):
            verb = "confirmed" if confirmed else "replaced"
            text = (
                f"A care supervisor {verb} the decision on dispute {dispute.id}: {solution.describe()}."
                f" {note}"
            ).strip()
            return Consequences(notices=_both(dispute, text, NoticeCategory.CARE_REPLY))
        case DecisionFinal(reason=reason):
            assert dispute.agreed_solution is not None
            text = (
                f"Care's decision on dispute {dispute.id} is final ({reason}):"
                f" {dispute.agreed_solution.describe()}."
            )
            return Consequences(notices=_both(dispute, text), published=[EventType.DISPUTE_UPDATED])
        case ReceiptConfirmed(reason=reason):
            text = (
                f"Receipt on dispute {dispute.id} was confirmed by the system: {reason}. The funds are"
                " released to the seller as agreed."
            )
            return Consequences(notices=_both(dispute, text), published=[EventType.DISPUTE_UPDATED])
        case Reminded(deadline=deadline):
            return Consequences(notices=[_to(dispute, deadline.party, _reminder(dispute, deadline))])
        case Cancelled():
            return Consequences(published=[EventType.DISPUTE_CANCELLED])
        case PartyInactive(party=silent):
            other = Role.SELLER if silent is Role.BUYER else Role.BUYER
            text = (
                f"The {silent.value} has not responded on dispute {dispute.id} for"
                f" {short_duration(dispute.policy.turn_inactivity)}: you may now ask care for help"
                " (Minta Bantuan)."
            )
            return Consequences(notices=[_to(dispute, other, text)], published=[EventType.DISPUTE_UPDATED])
        case Resolved():
            outcome = dispute.outcome
            assert outcome is not None
            text = (
                f"Dispute {dispute.id} is resolved: refunded {outcome.refunded_to_buyer} to the buyer,"
                f" released {outcome.released_to_seller} to the seller."
            )
            return Consequences(
                notices=_both(dispute, text),
                published=[EventType.DISPUTE_UPDATED, EventType.DISPUTE_RESOLVED],
            )
    return Consequences()


def _reminder(dispute: Dispute, deadline: Deadline) -> str:
    """The reminder to the party whose window closes at ``deadline.due_at``."""
    by = at_minute(deadline.due_at)
    if deadline.then is Then.HELP_AVAILABLE:
        other = Role.SELLER if deadline.party is Role.BUYER else Role.BUYER
        return (
            f"Please respond on dispute {dispute.id} by {by}, or the {other.value} may ask care to mediate."
        )
    if deadline.then is Then.RECEIPT_CONFIRMED:
        return (
            f"Please confirm receipt on dispute {dispute.id}, or raise a problem, by {by}; after that"
            " receipt is confirmed for you and the funds are released to the seller."
        )
    doing = {
        "respond": "respond (accept, offer another solution or appeal)",
        "ship": "ship and send the tracking number",
        "confirm_receipt": "confirm receipt if the items arrived",
    }.get(deadline.action, deadline.action)
    return f"Please {doing} on dispute {dispute.id} by {by}, or care takes over."


# -- help-center reports --------------------------------------------------------------------------


def _to_user(
    ticket: Ticket,
    text: str,
    category: NoticeCategory = NoticeCategory.UPDATE,
    articles: tuple[str, ...] = (),
) -> Notice:
    return Notice(
        party=Role.USER, party_id=ticket.user_id, text=text, category=category, articles=list(articles)
    )


@reacts(Ticket, TICKET_FIELDS)
def ticket_reactions(ticket: Ticket, event: DomainEvent) -> Consequences:
    """Who is told what of a report's own events."""
    match event:
        case CareSpoke(text=text, articles=articles):
            return Consequences(
                notices=[_to_user(ticket, text, NoticeCategory.CARE_REPLY, articles)],
                published=[EventType.TICKET_REPLIED],
            )
        case Solved(by_system=by_system):
            who = "We marked" if by_system else "Care marked"
            waited = ticket.policy.user_wait
            why = f" as we did not hear back within {short_duration(waited)}" if by_system and waited else ""
            text = (
                f"{who} your report {ticket.id} solved{why}. It closes in"
                f" {short_duration(ticket.policy.solved_quiet_period)} unless you write again."
            )
            return Consequences(notices=[_to_user(ticket, text)], published=[EventType.TICKET_SOLVED])
        case Reminded(deadline=deadline):
            text = (
                f"Care is waiting for your answer on report {ticket.id}: please reply by"
                f" {at_minute(deadline.due_at)}, or it is marked solved."
            )
            return Consequences(notices=[_to_user(ticket, text)])
        case Closed():
            return Consequences(
                notices=[_to_user(ticket, f"Your report {ticket.id} is closed.")],
                published=[EventType.TICKET_CLOSED],
            )
        case Opened():
            text = (
                f"We received your report {ticket.id} ({ticket.topic.value}); care replies within"
                f" {short_duration(ticket.policy.care_reply_target)}."
            )
            return Consequences(notices=[_to_user(ticket, text)], published=[EventType.TICKET_OPENED])
    return Consequences()
