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
    InfoRequested,
    Opened,
    PartyInactive,
    PauseEnded,
    ReceiptConfirmed,
    Reminded,
    Resolved,
    ReturnConfirmed,
    ReturnLapsed,
    ReturnRefused,
    ShipmentDelivered,
    Solved,
)
from domain.notices import as_params, render
from domain.outbound import DISPUTE_FIELDS, TICKET_FIELDS, EventType
from domain.ticket import Ticket
from domain.types import DEFAULT_LOCALE, CareTarget, Deadline, Locale, Role, Then


class NoticeCategory(StrEnum):
    """Care's replies land in the user's inbox (Pesan Bantuan); updates are plain notifications."""

    UPDATE = "update"
    CARE_REPLY = "care_reply"


class Notice(BaseModel):
    """A message for one party of a case: a template with its parameters, rendered in the party's
    locale (``domain/notices.py``)."""

    party: Role
    party_id: str
    template: str = Field(description="the template id (domain/notice_texts.py)")
    params: dict[str, Any] = Field(default={}, description="the template's parameters, as JSON values")
    locale: Locale = DEFAULT_LOCALE
    text: str = Field(description="the template rendered for the locale")
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


def notice(
    party: Role,
    party_id: str,
    locale: Locale,
    template: str,
    category: NoticeCategory = NoticeCategory.UPDATE,
    articles: tuple[str, ...] = (),
    /,
    **params: Any,
) -> Notice:
    """A notice of ``template`` for one party, rendered in its locale."""
    values = as_params(**params)
    return Notice(
        party=party,
        party_id=party_id,
        template=template,
        params=values,
        locale=locale,
        text=render(template, values, locale),
        category=category,
        articles=list(articles),
    )


def _assigned(case: CareCase, event: Assigned) -> Consequences:
    """``care.assigned`` goes out; the agent given the case and the one it was taken from are told
    (never the agent who acted, and no party: ownership is care's own business)."""
    by = event.by
    told: list[Notice] = []

    def to_agent(agent: str, template: str, **params: Any) -> None:
        told.append(notice(Role.CARE, agent, DEFAULT_LOCALE, template, case_id=case.id, **params))

    if event.assignee is not None and (by is None or by.id != event.assignee):
        by_id = by.id if by is not None else "system"
        if event.group:
            to_agent(event.assignee, "care.assigned.group", group=event.group, by_id=by_id)
        else:
            to_agent(event.assignee, "care.assigned", by_id=by_id)
    previous = event.previous
    if previous is not None and previous != event.assignee and (by is None or by.id != previous):
        if by is None:
            to_agent(previous, "care.moved_to_group", group=event.group or "", detail=event.reason)
        else:
            now_with = event.assignee or event.group or "-"
            to_agent(previous, "care.reassigned", now_with=now_with, by_id=by.id)
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


def _locale(dispute: Dispute, party: Role) -> Locale:
    return dispute.buyer_locale if party is Role.BUYER else dispute.seller_locale


def _to(
    dispute: Dispute,
    party: Role,
    template: str,
    category: NoticeCategory = NoticeCategory.UPDATE,
    articles: tuple[str, ...] = (),
    /,
    **params: Any,
) -> Notice:
    return notice(
        party,
        dispute.party_id(party),
        _locale(dispute, party),
        template,
        category,
        articles,
        dispute_id=dispute.id,
        **params,
    )


def _both(
    dispute: Dispute,
    template: str,
    category: NoticeCategory = NoticeCategory.UPDATE,
    articles: tuple[str, ...] = (),
    /,
    **params: Any,
) -> list[Notice]:
    return [
        _to(dispute, party, template, category, articles, **params) for party in (Role.BUYER, Role.SELLER)
    ]


@reacts(Dispute, DISPUTE_FIELDS)
def dispute_reactions(dispute: Dispute, event: DomainEvent) -> Consequences:
    """Who is told what of a dispute's own events, and what follows."""
    match event:
        case Opened():
            told = _to(
                dispute,
                Role.SELLER,
                "dispute.opened",
                order_id=dispute.order_id,
                buyer_id=dispute.buyer_id,
                reason=dispute.reason,
                solution=dispute.requested_solution,
            )
            return Consequences(notices=[told], published=[EventType.DISPUTE_OPENED])
        case Acted(actor=actor, action=action):
            notices: list[Notice] = []
            # Care's words and escalations are told to both parties below; a party's own
            # action is told to the other party.
            if actor.role in (Role.BUYER, Role.SELLER) and action != "help":
                other = Role.SELLER if actor.role is Role.BUYER else Role.BUYER
                notices.append(
                    _to(
                        dispute,
                        other,
                        "dispute.party_acted",
                        actor=actor.role,
                        action=action,
                        status=dispute.status,
                    )
                )
            return Consequences(notices=notices, published=[EventType.DISPUTE_UPDATED])
        case Escalated(by=by, reason=reason, window=window):
            return Consequences(
                notices=_escalated(dispute, by, reason, window),
                published=[EventType.DISPUTE_ESCALATED],
                effects=[EffectName.MEDIATION_OPENED],
            )
        case CareSpoke(text=text, articles=articles):
            return Consequences(
                notices=_both(dispute, "dispute.care_replied", NoticeCategory.CARE_REPLY, articles, text=text)
            )
        case Decided(solution=solution, note=note, appeal_until=appeal_until):
            template = "dispute.decided" if appeal_until is None else "dispute.decided.appealable"
            decided = _both(
                dispute,
                template,
                NoticeCategory.CARE_REPLY,
                solution=solution,
                note=note,
                appeal_until=appeal_until,
            )
            return Consequences(notices=decided)
        case DecisionAppealed(by=by, review_due_at=due):
            appealed = _both(dispute, "dispute.decision_appealed", by=by, review_due_at=due)
            return Consequences(notices=appealed, published=[EventType.DISPUTE_DECISION_APPEALED])
        case DecisionReviewed(confirmed=confirmed, solution=solution, note=note):
            template = "dispute.decision_confirmed" if confirmed else "dispute.decision_replaced"
            reviewed = _both(dispute, template, NoticeCategory.CARE_REPLY, solution=solution, note=note)
            return Consequences(notices=reviewed)
        case DecisionFinal(reason=reason):
            return Consequences(notices=_final(dispute, reason), published=[EventType.DISPUTE_UPDATED])
        case ReceiptConfirmed():
            receipt = _both(
                dispute, "dispute.receipt_confirmed_by_system", waited=dispute.policy.receipt_window
            )
            return Consequences(notices=receipt, published=[EventType.DISPUTE_UPDATED])
        case Reminded(deadline=deadline):
            return Consequences(notices=[_reminder(dispute, deadline)])
        case ShipmentDelivered() as delivered:
            return Consequences(notices=_delivered(dispute, delivered), published=[EventType.DISPUTE_UPDATED])
        case ReturnConfirmed(by_system=by_system):
            assert dispute.agreed_solution is not None
            template = "dispute.return_confirmed_by_system" if by_system else "dispute.return_confirmed"
            waited = dispute.policy.return_inspection_window
            refunded = _both(dispute, template, amount=dispute.agreed_solution.amount, waited=waited)
            return Consequences(notices=refunded, published=[EventType.DISPUTE_UPDATED])
        case ReturnRefused(reason=reason):
            refused = _to(dispute, Role.BUYER, "dispute.return_refused", detail=reason)
            return Consequences(notices=[refused])
        case ReturnLapsed():
            lapsed = _both(dispute, "dispute.return_lapsed", waited=dispute.policy.shipment_window)
            return Consequences(notices=lapsed, published=[EventType.DISPUTE_UPDATED])
        case InfoRequested(party=party, text=text, due_at=due_at, evidence_type=evidence_type):
            # care's words to the party: they land in its inbox (Pesan Bantuan) like a care reply
            template = "dispute.info_requested.evidence" if evidence_type else "dispute.info_requested"
            asked = _to(
                dispute,
                party,
                template,
                NoticeCategory.CARE_REPLY,
                text=text,
                due_at=due_at,
                evidence_type=evidence_type,
            )
            return Consequences(notices=[asked])
        case PauseEnded(party=party, reason="info_request_expired"):
            expired = _to(dispute, party, "dispute.info_request_expired")
            return Consequences(notices=[expired], published=[EventType.DISPUTE_UPDATED])
        case PauseEnded():
            return Consequences(published=[EventType.DISPUTE_UPDATED])
        case Cancelled():
            return Consequences(published=[EventType.DISPUTE_CANCELLED])
        case PartyInactive(party=silent):
            other = Role.SELLER if silent is Role.BUYER else Role.BUYER
            told = _to(
                dispute, other, "dispute.party_inactive", silent=silent, waited=dispute.policy.turn_inactivity
            )
            return Consequences(notices=[told], published=[EventType.DISPUTE_UPDATED])
        case Resolved():
            outcome = dispute.outcome
            assert outcome is not None
            resolved = _both(
                dispute,
                "dispute.resolved",
                refunded=outcome.refunded_to_buyer,
                released=outcome.released_to_seller,
            )
            return Consequences(
                notices=resolved, published=[EventType.DISPUTE_UPDATED, EventType.DISPUTE_RESOLVED]
            )
    return Consequences()


def _escalated(dispute: Dispute, by: str, reason: str, window: str) -> list[Notice]:
    """Both parties are told care mediates now, and why: a party asked, or a window closed."""
    within = dispute.policy.care_reply_target
    if by != "system":
        return _both(dispute, "dispute.escalated", by=by, within=within)
    waited = {
        "seller_response": dispute.policy.seller_response,
        "shipment": dispute.policy.shipment_window,
        "return_transit": dispute.policy.return_transit_window,
    }.get(window)
    if window == "seller_response" and waited is not None:
        return _both(dispute, "dispute.escalated.seller_response", waited=waited, within=within)
    if window == "shipment" and waited is not None:
        shipper = dispute.next_shipper() or Role.SELLER
        return _both(dispute, "dispute.escalated.shipment", shipper=shipper, waited=waited, within=within)
    if window == "receipt":
        return _both(dispute, "dispute.escalated.receipt", within=within)
    if window == "return_transit" and waited is not None:
        return _both(dispute, "dispute.escalated.return_transit", waited=waited, within=within)
    # A cause without a template of its own yet: the rule's words, inside the localized frame.
    return _both(dispute, "dispute.escalated.system", detail=reason, within=within)


def _final(dispute: Dispute, reason: str) -> list[Notice]:
    """Both parties are told care's decision is final: both accepted it, or no appeal came."""
    assert dispute.agreed_solution is not None
    solution = dispute.agreed_solution
    if {Role.BUYER, Role.SELLER} <= set(dispute.decision_accepted_by):
        return _both(dispute, "dispute.decision_final.accepted", solution=solution)
    waited = dispute.policy.decision_appeal_window
    if waited is not None:
        return _both(dispute, "dispute.decision_final.unappealed", solution=solution, waited=waited)
    return _both(dispute, "dispute.decision_final", solution=solution, detail=reason)


def _delivered(dispute: Dispute, delivered: ShipmentDelivered) -> list[Notice]:
    """Who is told of a delivery: the seller inspects a returned item, the buyer confirms receipt."""
    if delivered.until is None:
        return []
    resi = delivered.tracking_number
    if delivered.by is Role.BUYER:
        return [_to(dispute, Role.SELLER, "dispute.return_delivered", resi=resi, due_at=delivered.until)]
    return [_to(dispute, Role.BUYER, "dispute.shipment_delivered", resi=resi, due_at=delivered.until)]


def _reminder(dispute: Dispute, deadline: Deadline) -> Notice:
    """The reminder to the party whose window closes at ``deadline.due_at``."""
    party, due = deadline.party, deadline.due_at
    if deadline.then is Then.HELP_AVAILABLE:
        other = Role.SELLER if party is Role.BUYER else Role.BUYER
        return _to(dispute, party, "dispute.reminder.help_available", due_at=due, other=other)
    if deadline.then is Then.RECEIPT_CONFIRMED:
        return _to(dispute, party, "dispute.reminder.receipt", due_at=due)
    if deadline.then is Then.CLAIM_LAPSED:
        return _to(dispute, party, "dispute.reminder.return_shipment", due_at=due)
    if deadline.then is Then.RETURN_CONFIRMED:
        return _to(dispute, party, "dispute.reminder.return_inspection", due_at=due)
    if deadline.then is Then.ESCALATED:
        return _to(dispute, party, "dispute.reminder.care_takes_over", due_at=due, todo=deadline.action)
    return _to(dispute, party, "dispute.reminder", due_at=due, todo=deadline.action)


# -- help-center reports --------------------------------------------------------------------------


def _to_user(
    ticket: Ticket,
    template: str,
    category: NoticeCategory = NoticeCategory.UPDATE,
    articles: tuple[str, ...] = (),
    /,
    **params: Any,
) -> Notice:
    return notice(Role.USER, ticket.user_id, ticket.locale, template, category, articles, **params)


@reacts(Ticket, TICKET_FIELDS)
def ticket_reactions(ticket: Ticket, event: DomainEvent) -> Consequences:
    """Who is told what of a report's own events."""
    match event:
        case CareSpoke(text=text, articles=articles):
            replied = _to_user(ticket, "ticket.care_replied", NoticeCategory.CARE_REPLY, articles, text=text)
            return Consequences(notices=[replied], published=[EventType.TICKET_REPLIED])
        case Solved(by_system=by_system):
            waited = ticket.policy.user_wait
            closes_in = ticket.policy.solved_quiet_period
            if by_system and waited:
                told = _to_user(
                    ticket, "ticket.solved_by_system", ticket_id=ticket.id, waited=waited, closes_in=closes_in
                )
            else:
                told = _to_user(ticket, "ticket.solved", ticket_id=ticket.id, closes_in=closes_in)
            return Consequences(notices=[told], published=[EventType.TICKET_SOLVED])
        case Reminded(deadline=deadline):
            return Consequences(
                notices=[_to_user(ticket, "ticket.reminder", ticket_id=ticket.id, due_at=deadline.due_at)]
            )
        case Closed():
            return Consequences(
                notices=[_to_user(ticket, "ticket.closed", ticket_id=ticket.id)],
                published=[EventType.TICKET_CLOSED],
            )
        case Opened():
            told = _to_user(
                ticket,
                "ticket.opened",
                ticket_id=ticket.id,
                topic=ticket.topic,
                within=ticket.policy.care_reply_target,
            )
            return Consequences(notices=[told], published=[EventType.TICKET_OPENED])
    return Consequences()
