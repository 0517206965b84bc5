"""The pure dispute rules with plain objects: the action registry and every transition, the help
rule, clocks, settlement, parked effects and their repair, the message limit, validation, what
each change sets off, and the words on-call staff read."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import pytest
from pydantic import ValidationError

from domain.care import Assign, Claim, Release
from domain.case import Attention, DeadlineEvent, TimelineEntry, WindowKind
from domain.commands import (
    Accept,
    Action,
    Appeal,
    Cancel,
    CareReply,
    Command,
    ConfirmDecision,
    ConfirmReceipt,
    Decide,
    Delivered,
    Redecide,
    Reject,
    ReplaceDecision,
    RequestHelp,
    RequestInfo,
    ResolveEffect,
    RetryEffect,
    SendMessage,
    Ship,
)
from domain.dispute import DISPUTE_ACTIONS, Dispute, DisputeStatus, Paid, Payout, Proposal
from domain.effects import EffectName
from domain.errors import InvalidInput, InvalidTransition, LimitReached, NotAParty, UnknownShipment
from domain.events import (
    Acted,
    Cancelled,
    CareReplyDue,
    CareSpoke,
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
    SettlementDue,
)
from domain.kinds import DISPUTE
from domain.notices import render
from domain.outbound import EventType
from domain.reactions import Consequences, Notice, NoticeCategory, consequences, snapshot
from domain.ticket import Solve, UserMessage
from domain.types import (
    Actor,
    CareTarget,
    Deadline,
    DisputePolicy,
    Locale,
    Role,
    Solution,
    SolutionKind,
    Then,
)
from domain.views import (
    DisputeView,
    current_details,
    deadline_effect,
    deadline_name,
    dispute_details,
    dispute_summary,
    merge_timeline,
)
from tests.factories import (
    APPEAL_WINDOW,
    BUYER,
    CARE,
    CLOCKED_POLICY,
    CLOCKS,
    DECISION_TARGET,
    DECISION_WARNING,
    DESCRIPTION,
    DISPUTE_POLICY,
    EXCHANGE,
    EXTERNAL_REF,
    FULL_REFUND,
    INACTIVITY,
    INSPECTION,
    LEAD,
    OPERATOR,
    PARTIAL_REFUND,
    RECEIPT,
    REFUSED,
    RELEASE,
    RETURN_AND_REFUND,
    RETURNS_POLICY,
    SELLER,
    SELLER_RESPONSE,
    SEND_REMAINING,
    SHIPMENT,
    SMALL_REFUND,
    STEP,
    SUPERVISOR,
    T0,
    TARGET,
    TOO_MUCH,
    TOTAL,
    TRANSIT,
    WARNING,
    after,
    appeal,
    appeal_decision,
    ask_help,
    breached,
    confirm_decision,
    confirm_return,
    decide,
    delivered,
    dispute_request,
    drive_clocked,
    drive_returns,
    message,
    offer,
    park,
    redecide,
    refuse_return,
    replace_decision,
    request_info,
    resolve,
    retry,
    ship,
    warned,
)
from tests.factories import drive_dispute as drive
from tests.rules_harness import Registered, RulesTable, State, as_details

MSG, OFFER, ACCEPT, REJECT, APPEAL, HELP, CANCEL = (
    Action.MESSAGE,
    Action.OFFER,
    Action.ACCEPT,
    Action.REJECT,
    Action.APPEAL,
    Action.HELP,
    Action.CANCEL,
)
REPLY, DECIDE, SHIP, CONFIRM = Action.REPLY, Action.DECIDE, Action.SHIP, Action.CONFIRM_RECEIPT
CONFIRM_RETURN, REFUSE_RETURN = Action.CONFIRM_RETURN, Action.REFUSE_RETURN
REDECIDE, RETRY, RESOLVE = Redecide.action, RetryEffect.action, ResolveEffect.action
REQUEST_INFO = RequestInfo.action
APPEAL_DECISION, CONFIRM_DECISION, REPLACE_DECISION = (
    Action.APPEAL_DECISION,
    Action.CONFIRM_DECISION,
    Action.REPLACE_DECISION,
)
ASSIGN, CLAIM, UNCLAIM = Assign.action, Claim.action, Release.action
PARTIES = {Role.BUYER, Role.SELLER}
#: A help-center user carrying the buyer's id: no party to a dispute.
HELP_CENTER_USER = Actor(role=Role.USER, id=BUYER.id)


def command(action: str, actor: Actor) -> Command:
    """A valid command of ``action`` by ``actor`` (solutions within the order total)."""
    return DISPUTE_TABLE.command(action, actor)


def allowed(
    buyer: list[str] | None = None,
    seller: list[str] | None = None,
    care: list[str] | None = None,
    operator: list[str] | None = None,
    supervisor: list[str] | None = None,
) -> dict[Role, list[str]]:
    """An ``allowed_actions`` value, empty for every role not named."""
    return {
        Role.BUYER: buyer or [],
        Role.SELLER: seller or [],
        Role.CARE: care or [],
        Role.SUPERVISOR: supervisor or [],
        Role.OPERATOR: operator or [],
    }


class Told(NamedTuple):
    """A notice as these tests read it: to whom, its template rendered in English, its category."""

    party: Role
    party_id: str
    text: str
    category: NoticeCategory


def to(actor: Actor, text: str, category: NoticeCategory = NoticeCategory.UPDATE) -> Told:
    """A notice for the buyer or the seller of dispute d-1 (its English text)."""
    return Told(actor.role, actor.id, text, category)


def said(notices: list[Notice]) -> list[Told]:
    """The notices rendered in English from their template and parameters (every template gets
    each of its parameters: ``strict``); the parties of these disputes read Indonesian."""
    assert all(notice.locale is Locale.ID for notice in notices)
    return [
        Told(n.party, n.party_id, render(n.template, n.params, Locale.EN, strict=True), n.category)
        for n in notices
    ]


def to_both(text: str, category: NoticeCategory = NoticeCategory.UPDATE) -> list[Told]:
    """The same notice for both parties, buyer first."""
    return [to(BUYER, text, category), to(SELLER, text, category)]


def other(role: Role) -> Actor:
    """The other party."""
    return SELLER if role is Role.BUYER else BUYER


# -- the registry: every dispute action is one registered thing --------------------------------

#: The documented actions (docs/rules.md, README), in the order ``allowed_actions`` lists them:
#: the roles that may ever take each one and the path it is posted to under /v1/disputes/{id}/.
REGISTERED: dict[str, Registered] = {
    MSG: Registered(PARTIES, "messages", message),
    ACCEPT: Registered(PARTIES, "accept", lambda actor: Accept(actor=actor)),
    REJECT: Registered({Role.BUYER}, "reject", lambda actor: Reject(actor=actor, note="no")),
    OFFER: Registered(PARTIES, "offers", offer),
    APPEAL: Registered(
        {Role.SELLER}, "appeal", lambda actor: Appeal(actor=actor, reason="intact when shipped")
    ),
    CANCEL: Registered({Role.BUYER}, "cancel", lambda actor: Cancel(actor=actor, note="sorted it out")),
    HELP: Registered(PARTIES, "help", ask_help),
    REPLY: Registered(
        {Role.CARE}, "care/replies", lambda a: CareReply(actor=a, text="please send the unboxing video")
    ),
    DECIDE: Registered({Role.CARE}, "care/decision", lambda a: Decide(actor=a, solution=PARTIAL_REFUND)),
    APPEAL_DECISION: Registered(PARTIES, "decision/appeal", appeal_decision),
    CONFIRM_DECISION: Registered({Role.SUPERVISOR}, "supervisor/confirm", lambda a: ConfirmDecision(actor=a)),
    REPLACE_DECISION: Registered(
        {Role.SUPERVISOR}, "supervisor/replace", lambda a: ReplaceDecision(actor=a, solution=FULL_REFUND)
    ),
    SHIP: Registered(PARTIES, "shipments", ship),
    CONFIRM: Registered({Role.BUYER}, "confirm-receipt", lambda actor: ConfirmReceipt(actor=actor)),
    CONFIRM_RETURN: Registered({Role.SELLER}, "return/confirm", confirm_return),
    REFUSE_RETURN: Registered({Role.SELLER}, "return/refuse", refuse_return),
    REDECIDE: Registered({Role.CARE}, "care/redecision", lambda a: Redecide(actor=a, solution=FULL_REFUND)),
    REQUEST_INFO: Registered(
        {Role.CARE, Role.SUPERVISOR}, "care/request-info", lambda a: request_info(actor=a)
    ),
    RETRY: Registered({Role.OPERATOR}, "operator/retry", lambda actor: RetryEffect(actor=actor)),
    RESOLVE: Registered(
        {Role.OPERATOR}, "operator/resolve", lambda a: ResolveEffect(actor=a, external_ref=EXTERNAL_REF)
    ),
    ASSIGN: Registered(
        {Role.CARE, Role.SUPERVISOR, Role.OPERATOR},
        "care/assign",
        lambda a: Assign(actor=a, assignee="agent-9"),
    ),
    CLAIM: Registered({Role.CARE, Role.SUPERVISOR}, "care/claim", lambda a: Claim(actor=a)),
    UNCLAIM: Registered(
        {Role.CARE, Role.SUPERVISOR, Role.OPERATOR}, "care/release", lambda a: Release(actor=a)
    ),
}


def test_a_reports_action_is_no_dispute_action() -> None:
    """``solve`` belongs to reports; the roles are listed buyer first (the harness checks the rest)."""
    assert DISPUTE_ACTIONS.get(Action.SOLVE) is None
    assert Dispute.roles == (Role.BUYER, Role.SELLER, Role.CARE, Role.SUPERVISOR, Role.OPERATOR)


def test_registering_an_action_twice_is_refused() -> None:
    """A name is registered once."""
    register = DISPUTE_ACTIONS.action(SendMessage, roles=PARTIES, path="again", allowed=lambda d, r, n: True)
    with pytest.raises(ValueError, match="dispute already has an action 'message'"):
        register(lambda dispute, cmd, now: [])
    spec = DISPUTE_ACTIONS.get(MSG)
    assert spec is not None
    assert spec.path == "messages"


# -- the transition table (the spec, from docs/rules.md) ----------------------------------------


def _resolved() -> Dispute:
    dispute = drive(Accept(actor=SELLER))
    settle(dispute)
    return dispute


#: The idempotency keys of dispute d-1's effects, as the workflow names them.
REFUND_KEY, RELEASE_KEY = "d-1:refund_to_buyer", "d-1:release_to_seller"
MEDIATION_KEY, PUBLISH_KEY = "d-1:mediation", "d-1:publish:7"
BREACH_KEY = "d-1:care_reply_breached:2026-01-01T02:00:00+00:00"


def refund_parked() -> Dispute:
    """Refund 150,000 and release 50,000 agreed; the platform refused the refund for good."""
    dispute = drive(Accept(actor=SELLER))
    park(dispute, "refund_to_buyer", REFUND_KEY)
    return dispute


def release_parked() -> Dispute:
    """Refund 150,000 and release 50,000 agreed; the refund was paid, the release refused for good."""
    dispute = drive(Accept(actor=SELLER))
    dispute.payout_made(refund(150_000), after(dispute))
    park(dispute, "release_to_seller", RELEASE_KEY)
    return dispute


def mediation_parked() -> Dispute:
    """The buyer asked for help; the care desk refused to open the mediation case for good."""
    dispute = drive(offer(SELLER), ask_help(BUYER))
    park(dispute, "mediation", MEDIATION_KEY)
    return dispute


def closed_with_publish_parked(build: Callable[[], Dispute]) -> Callable[[], Dispute]:
    """The closed dispute ``build`` makes, whose last change could not be handed out."""

    def parked() -> Dispute:
        dispute = build()
        assert dispute.closed
        park(dispute, "publish", PUBLISH_KEY, "webhook store unreachable for 1d")
        return dispute

    return parked


def return_delivered() -> Dispute:
    """A return and refund agreed, the item shipped back by the buyer and reported delivered."""
    dispute = drive_returns(Accept(actor=SELLER), ship(BUYER))
    delivered(dispute)
    return dispute


def _and(dispute: Dispute, *steps: Command) -> Dispute:
    """``dispute`` after ``steps``, one minute after its last entry each."""
    for step in steps:
        dispute.apply(step, after(dispute))
    return dispute


#: Care's ownership actions (domain/care.py) on a case nobody owns, and on one care owns.
UNOWNED = [ASSIGN, CLAIM]
OWNED = [ASSIGN, CLAIM, UNCLAIM]


def in_mediation(*, asking: bool = True, operator: Sequence[str] = ()) -> dict[Role, list[str]]:
    """What a dispute in mediation nobody owns allows: the parties write, care replies, decides,
    asks for information (``asking``: while a party is left to ask) and takes the case."""
    care = [REPLY, DECIDE, *([REQUEST_INFO] if asking else []), *UNOWNED]
    return allowed(buyer=[MSG], seller=[MSG], care=care, supervisor=UNOWNED, operator=[*operator, ASSIGN])


STATES = [
    State(
        "awaiting_seller_opened",
        DisputeStatus.AWAITING_SELLER,
        lambda: drive(),
        allowed(buyer=[MSG, OFFER, CANCEL], seller=[MSG, ACCEPT, OFFER, APPEAL]),
    ),
    State(
        "awaiting_seller_after_messages",
        DisputeStatus.AWAITING_SELLER,
        lambda: drive(message(BUYER), message(SELLER)),
        allowed(buyer=[MSG, OFFER, CANCEL], seller=[MSG, ACCEPT, OFFER, APPEAL]),
    ),
    State(
        "awaiting_buyer_after_offer",
        DisputeStatus.AWAITING_BUYER,
        lambda: drive(offer(SELLER)),
        allowed(buyer=[MSG, ACCEPT, REJECT, OFFER, CANCEL, HELP], seller=[MSG, OFFER]),
    ),
    State(
        "awaiting_buyer_after_appeal",
        DisputeStatus.AWAITING_BUYER,
        lambda: drive(appeal()),
        allowed(buyer=[MSG, ACCEPT, REJECT, OFFER, CANCEL, HELP], seller=[MSG, OFFER]),
    ),
    State(
        "awaiting_seller_after_reject",
        DisputeStatus.AWAITING_SELLER,
        lambda: drive(offer(SELLER), command(REJECT, BUYER)),
        allowed(buyer=[MSG, OFFER, CANCEL, HELP], seller=[MSG, ACCEPT, OFFER, APPEAL, HELP]),
    ),
    State(
        "awaiting_seller_after_revision",
        DisputeStatus.AWAITING_SELLER,
        lambda: drive(offer(SELLER), offer(BUYER, FULL_REFUND)),
        allowed(buyer=[MSG, OFFER, CANCEL, HELP], seller=[MSG, ACCEPT, OFFER, APPEAL, HELP]),
    ),
    State(
        "in_mediation",
        DisputeStatus.IN_MEDIATION,
        lambda: drive(offer(SELLER), ask_help(BUYER)),
        in_mediation(),
    ),
    State(
        "in_mediation_claimed",
        DisputeStatus.IN_MEDIATION,
        lambda: drive(offer(SELLER), ask_help(BUYER), Claim(actor=CARE)),
        allowed(
            buyer=[MSG],
            seller=[MSG],
            care=[REPLY, DECIDE, REQUEST_INFO, *OWNED],
            supervisor=OWNED,
            operator=[ASSIGN, UNCLAIM],
        ),
    ),
    State(
        "in_mediation_after_care_reply",
        DisputeStatus.IN_MEDIATION,
        lambda: drive(offer(SELLER), ask_help(BUYER), command(REPLY, CARE)),
        in_mediation(),
    ),
    State(
        "fulfilment_refund",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive(Accept(actor=SELLER)),
        allowed(buyer=[MSG], seller=[MSG]),
    ),
    State(
        "fulfilment_release",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive(appeal(), Accept(actor=BUYER)),
        allowed(buyer=[MSG], seller=[MSG]),
    ),
    State(
        "fulfilment_decided_by_care",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive(offer(SELLER), ask_help(BUYER), decide()),
        allowed(buyer=[MSG], seller=[MSG]),
    ),
    State(
        "fulfilment_exchange_nothing_shipped",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive(Accept(actor=SELLER), solution=EXCHANGE),
        allowed(buyer=[MSG, SHIP], seller=[MSG]),
    ),
    State(
        "fulfilment_exchange_buyer_shipped",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive(Accept(actor=SELLER), ship(BUYER), solution=EXCHANGE),
        allowed(buyer=[MSG], seller=[MSG, SHIP]),
    ),
    State(
        "fulfilment_exchange_both_shipped",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive(Accept(actor=SELLER), ship(BUYER), ship(SELLER), solution=EXCHANGE),
        allowed(buyer=[MSG, CONFIRM], seller=[MSG]),
    ),
    State(
        "fulfilment_exchange_received",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive(
            Accept(actor=SELLER), ship(BUYER), ship(SELLER), ConfirmReceipt(actor=BUYER), solution=EXCHANGE
        ),
        allowed(buyer=[MSG], seller=[MSG]),
    ),
    State(
        "fulfilment_remaining_nothing_shipped",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive(Accept(actor=SELLER), solution=SEND_REMAINING),
        allowed(buyer=[MSG], seller=[MSG, SHIP]),
    ),
    State(
        "fulfilment_remaining_seller_shipped",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive(Accept(actor=SELLER), ship(SELLER), solution=SEND_REMAINING),
        allowed(buyer=[MSG, CONFIRM], seller=[MSG]),
    ),
    State(
        "fulfilment_remaining_received",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive(
            Accept(actor=SELLER), ship(SELLER), ConfirmReceipt(actor=BUYER), solution=SEND_REMAINING
        ),
        allowed(buyer=[MSG], seller=[MSG]),
    ),
    # the clocks that act (issue 11): care's decision may be appealed once; receipt problems
    State(
        "clocked_awaiting_seller",
        DisputeStatus.AWAITING_SELLER,
        lambda: drive_clocked(message(SELLER)),
        allowed(buyer=[MSG, OFFER, CANCEL], seller=[MSG, ACCEPT, OFFER, APPEAL]),
    ),
    State(
        "decided_appealable",
        DisputeStatus.DECIDED,
        lambda: drive_clocked(offer(SELLER), ask_help(BUYER), decide()),
        allowed(buyer=[MSG, ACCEPT, APPEAL_DECISION], seller=[MSG, ACCEPT, APPEAL_DECISION]),
    ),
    State(
        "decided_buyer_accepted",
        DisputeStatus.DECIDED,
        lambda: drive_clocked(offer(SELLER), ask_help(BUYER), decide(), Accept(actor=BUYER)),
        allowed(buyer=[MSG], seller=[MSG, ACCEPT, APPEAL_DECISION]),
    ),
    State(
        "decision_appealed",
        DisputeStatus.DECISION_APPEALED,
        lambda: drive_clocked(offer(SELLER), ask_help(BUYER), decide(), appeal_decision(SELLER)),
        allowed(
            buyer=[MSG],
            seller=[MSG],
            supervisor=[CONFIRM_DECISION, REPLACE_DECISION, REQUEST_INFO, *UNOWNED],
            operator=[ASSIGN],
        ),
    ),
    State(
        "fulfilment_decision_replaced",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive_clocked(
            offer(SELLER), ask_help(BUYER), decide(), appeal_decision(BUYER), replace_decision(EXCHANGE)
        ),
        allowed(buyer=[MSG, SHIP], seller=[MSG]),
    ),
    State(
        "fulfilment_receipt_awaited",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive_clocked(Accept(actor=SELLER), ship(SELLER), solution=SEND_REMAINING),
        allowed(buyer=[MSG, HELP, CONFIRM], seller=[MSG]),
    ),
    State(
        "in_mediation_after_a_receipt_problem",
        DisputeStatus.IN_MEDIATION,
        lambda: drive_clocked(Accept(actor=SELLER), ship(SELLER), ask_help(BUYER), solution=SEND_REMAINING),
        in_mediation(),
    ),
    # care asked a party for information: the other may still be asked (the sample asks the seller)
    State(
        "in_mediation_buyer_asked",
        DisputeStatus.IN_MEDIATION,
        lambda: drive_clocked(offer(SELLER), ask_help(BUYER), request_info(Role.BUYER)),
        in_mediation(),
    ),
    State(
        "in_mediation_both_asked",
        DisputeStatus.IN_MEDIATION,
        lambda: drive_clocked(
            offer(SELLER), ask_help(BUYER), request_info(Role.SELLER), request_info(Role.BUYER)
        ),
        allowed(
            buyer=[MSG], seller=[MSG], care=[REPLY, DECIDE, *UNOWNED], supervisor=UNOWNED, operator=[ASSIGN]
        ),
    ),
    # issue 20: return and refund; the seller inspects the item once it is delivered
    State(
        "fulfilment_return_nothing_shipped",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive_returns(Accept(actor=SELLER)),
        allowed(buyer=[MSG, SHIP], seller=[MSG]),
    ),
    State(
        "fulfilment_return_in_transit",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive_returns(Accept(actor=SELLER), ship(BUYER)),
        allowed(buyer=[MSG, HELP], seller=[MSG, HELP, CONFIRM_RETURN, REFUSE_RETURN]),
    ),
    State(
        "fulfilment_return_delivered",
        DisputeStatus.AWAITING_FULFILMENT,
        return_delivered,
        allowed(buyer=[MSG], seller=[MSG, CONFIRM_RETURN, REFUSE_RETURN]),
    ),
    State(
        "fulfilment_return_confirmed",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: _and(return_delivered(), confirm_return()),
        allowed(buyer=[MSG], seller=[MSG]),
    ),
    State(
        "in_mediation_after_return_refused",
        DisputeStatus.IN_MEDIATION,
        lambda: _and(return_delivered(), refuse_return()),
        in_mediation(),
    ),
    State(
        "decision_appealed_buyer_asked",
        DisputeStatus.DECISION_APPEALED,
        lambda: drive_clocked(
            offer(SELLER),
            ask_help(BUYER),
            decide(),
            appeal_decision(SELLER),
            request_info(Role.BUYER, actor=SUPERVISOR),
        ),
        allowed(
            buyer=[MSG],
            seller=[MSG],
            supervisor=[CONFIRM_DECISION, REPLACE_DECISION, REQUEST_INFO, *UNOWNED],
            operator=[ASSIGN],
        ),
    ),
    State("resolved", DisputeStatus.RESOLVED, _resolved, allowed()),
    State("cancelled", DisputeStatus.CANCELLED, lambda: drive(command(CANCEL, BUYER)), allowed()),
    # an effect refused for good waits for an operator (retry, resolve) and, for a payout, care
    State(
        "fulfilment_refund_parked",
        DisputeStatus.AWAITING_FULFILMENT,
        refund_parked,
        allowed(buyer=[MSG], seller=[MSG], care=[REDECIDE], operator=[RETRY, RESOLVE]),
    ),
    State(
        "fulfilment_release_parked_after_refund",
        DisputeStatus.AWAITING_FULFILMENT,
        release_parked,
        allowed(buyer=[MSG], seller=[MSG], care=[REDECIDE], operator=[RETRY, RESOLVE]),
    ),
    State(
        "in_mediation_mediation_parked",
        DisputeStatus.IN_MEDIATION,
        mediation_parked,
        in_mediation(operator=[RETRY, RESOLVE]),
    ),
    State(
        "resolved_publish_parked",
        DisputeStatus.RESOLVED,
        closed_with_publish_parked(_resolved),
        allowed(operator=[RETRY]),
    ),
    State(
        "cancelled_publish_parked",
        DisputeStatus.CANCELLED,
        closed_with_publish_parked(lambda: drive(command(CANCEL, BUYER))),
        allowed(operator=[RETRY]),
    ),
]


def _told(dispute: Dispute, role: Role, action: str, happened: list[DomainEvent], state: State) -> None:
    """Every action is told to subscribers; a party's own action (help aside) to the other party."""
    follows = consequences(dispute, happened)
    assert follows.published[0] is EventType.DISPUTE_UPDATED
    if role in PARTIES and action != HELP:
        told = follows.notices[0]
        assert (told.party, told.template, told.locale) == (
            other(role).role,
            "dispute.party_acted",
            Locale.ID,
        )
        assert told.params == {"dispute_id": "d-1", "actor": role, "action": action, "status": dispute.status}


#: The dispute's tables for the one rules harness (tests/test_rules_table.py).
DISPUTE_TABLE = RulesTable(
    kind=DISPUTE,
    registered=REGISTERED,
    states=STATES,
    closed={DisputeStatus.RESOLVED, DisputeStatus.CANCELLED},
    followed=_told,
)


def test_the_table_reaches_every_solution_in_fulfilment() -> None:
    """Fulfilment is reached with every kind of solution, so each one's actions are exercised."""
    fulfilled = {s.build().agreed_solution for s in STATES if s.status is DisputeStatus.AWAITING_FULFILMENT}
    assert {solution.kind for solution in fulfilled if solution} == set(SolutionKind)


@pytest.mark.parametrize("action", [spec.name for spec in DISPUTE_ACTIONS], ids=str)
def test_a_help_center_user_is_no_party_to_a_dispute(action: str) -> None:
    """The help-center ``user`` role cannot act on a dispute, even with the buyer's id."""
    with pytest.raises(NotAParty):
        drive().check(command(action, HELP_CENTER_USER), T0 + STEP)


def test_a_reports_action_is_refused_by_a_dispute() -> None:
    """``solve`` belongs to reports: even care in mediation may not take it on a dispute."""
    dispute = drive(offer(SELLER), ask_help(BUYER))
    with pytest.raises(InvalidTransition) as refused:
        dispute.check(Solve(actor=CARE), after(dispute))
    assert refused.value.details["allowed_actions"]["care"] == [
        "reply",
        "decide",
        "request_info",
        "assign",
        "claim",
    ]
    assert refused.value.details["allowed_actions"]["operator"] == ["assign"]


# -- a new action is one registered thing ------------------------------------------------------


class RequestReturnLabel(Command):
    """Buyer asks for a prepaid return label (an action only this test registers)."""

    action = "request_return_label"


@pytest.fixture
def return_label() -> Iterator[str]:
    """Register the test-only action for the buyer during an exchange, and take it out again."""

    @DISPUTE_ACTIONS.action(
        RequestReturnLabel,
        roles={Role.BUYER},
        path="return-label",
        allowed=lambda d, role, now: d.status is DisputeStatus.AWAITING_FULFILMENT,
    )
    def _request(dispute: Dispute, cmd: RequestReturnLabel, now: datetime) -> list[DomainEvent]:
        return []

    try:
        yield RequestReturnLabel.action
    finally:
        DISPUTE_ACTIONS.remove(RequestReturnLabel.action)


def test_a_registered_action_is_allowed_checked_applied_and_told(return_label: str) -> None:
    """Registering an action with its rule is all it takes for the rules to offer, check, apply,
    record and tell it; only the roles it names are offered it."""
    dispute = drive(Accept(actor=SELLER), solution=EXCHANGE)
    assert dispute.allowed_actions == allowed(buyer=["message", "ship", return_label], seller=["message"])
    with pytest.raises(InvalidTransition):
        dispute.check(RequestReturnLabel(actor=SELLER), after(dispute))
    now = after(dispute)
    happened = dispute.apply(RequestReturnLabel(actor=BUYER), now)
    assert happened == [Acted(actor=BUYER, action=return_label)]
    assert (dispute.timeline[-1].event, dispute.timeline[-1].actor) == (return_label, BUYER)
    follows = consequences(dispute, happened)
    assert said(follows.notices) == [
        to(SELLER, "The buyer did 'request_return_label' on dispute d-1; it is now awaiting fulfilment.")
    ]
    assert follows.published == [EventType.DISPUTE_UPDATED]
    DISPUTE_ACTIONS.remove(return_label)
    assert return_label not in dispute.allowed_actions[Role.BUYER]
    with pytest.raises(InvalidTransition):
        dispute.check(RequestReturnLabel(actor=BUYER), after(dispute))


# -- parties and amounts ----------------------------------------------------------------------

STRANGERS = [
    Actor(role=Role.BUYER, id="b-2"),
    Actor(role=Role.SELLER, id="s-2"),
    Actor(role=Role.BUYER, id=SELLER.id),
    Actor(role=Role.SELLER, id=BUYER.id),
]


@pytest.mark.parametrize(
    "stranger", STRANGERS, ids=["other-buyer", "other-seller", "seller-as-buyer", "buyer-as-seller"]
)
@pytest.mark.parametrize("action", [spec.name for spec in DISPUTE_ACTIONS], ids=str)
def test_not_a_party(stranger: Actor, action: str) -> None:
    """A buyer or seller id that is not the dispute's own is refused as NotAParty, for every action."""
    dispute = drive()
    with pytest.raises(NotAParty) as refused:
        dispute.check(command(action, stranger), after(dispute))
    assert refused.value.code == "NotAParty"
    assert stranger.id in refused.value.message


def test_not_a_party_comes_before_the_state_check() -> None:
    """Even on a closed dispute a stranger learns only that it is not a party."""
    dispute = drive(command(CANCEL, BUYER))
    with pytest.raises(NotAParty):
        dispute.check(message(Actor(role=Role.BUYER, id="b-2")), after(dispute))


def test_care_acts_on_any_dispute() -> None:
    """Any care agent id is accepted (care is not a party of one case)."""
    dispute = drive(offer(SELLER), ask_help(BUYER))
    dispute.check(CareReply(actor=Actor(role=Role.CARE, id="agent-99"), text="hello"), after(dispute))


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        ((), offer(SELLER, TOO_MUCH)),
        ((), offer(BUYER, TOO_MUCH)),
        ((offer(SELLER),), offer(BUYER, TOO_MUCH)),
        ((offer(SELLER), ask_help(BUYER)), decide(TOO_MUCH)),
    ],
    ids=["seller-offer", "buyer-revision", "buyer-counter", "care-decision"],
)
def test_solution_above_order_total_is_invalid_input(steps: tuple[Command, ...], refused: Command) -> None:
    """An offer or a decision refunding more than the order total is InvalidInput."""
    dispute = drive(*steps)
    with pytest.raises(InvalidInput) as error:
        dispute.check(refused, after(dispute))
    assert error.value.code == "InvalidInput"
    assert error.value.details == {
        "errors": [{"field": "solution.amount", "reason": f"{TOTAL + 1} is above the order total {TOTAL}"}]
    }


def test_solution_of_exactly_the_order_total_is_accepted() -> None:
    """A refund of the whole order total is within the limit (offer and decision)."""
    dispute = drive(offer(SELLER, FULL_REFUND), ask_help(BUYER))
    dispute.apply(decide(FULL_REFUND), after(dispute))
    assert dispute.agreed_solution == FULL_REFUND


# -- the help rule and the turn clock ----------------------------------------------------------


@pytest.mark.parametrize("step", [offer(SELLER), appeal()], ids=["offer", "appeal"])
def test_buyer_may_ask_help_after_seller_offer_or_appeal(step: Command) -> None:
    """A seller offer or appeal earns the buyer the right to ask for help."""
    dispute = drive(step)
    assert dispute.help_earned == [Role.BUYER]
    assert dispute.may_request_help(Role.BUYER)
    assert not dispute.may_request_help(Role.SELLER)
    now = after(dispute)
    happened = dispute.apply(RequestHelp(actor=BUYER), now)
    assert happened == [Acted(actor=BUYER, action=HELP), Escalated(by="buyer")]
    assert dispute.status is DisputeStatus.IN_MEDIATION
    assert (dispute.escalated_by, dispute.escalated_at) == (Role.BUYER, now)


@pytest.mark.parametrize(
    "step", [command(REJECT, BUYER), offer(BUYER, FULL_REFUND)], ids=["reject", "revise"]
)
def test_seller_may_ask_help_after_buyer_rejects_or_revises(step: Command) -> None:
    """A buyer rejection or revision of a seller offer earns the seller the right to ask for help."""
    dispute = drive(offer(SELLER), step)
    assert dispute.status is DisputeStatus.AWAITING_SELLER
    assert dispute.current_offer is None
    assert Role.SELLER in dispute.help_earned
    assert dispute.may_request_help(Role.SELLER)
    happened = dispute.apply(RequestHelp(actor=SELLER), after(dispute))
    assert happened == [Acted(actor=SELLER, action=HELP), Escalated(by="seller")]
    assert dispute.escalated_by is Role.SELLER


def test_buyer_revision_before_any_offer_earns_seller_nothing() -> None:
    """A buyer changing the request on the seller's turn does not let the seller escalate."""
    dispute = drive(offer(BUYER, FULL_REFUND))
    assert dispute.requested_solution == FULL_REFUND
    assert dispute.help_earned == []
    assert HELP not in dispute.allowed_actions[Role.SELLER]


def test_turn_clock_starts_at_open_and_at_each_turn() -> None:
    """response_due_at is the turn start plus policy.turn_inactivity."""
    dispute = drive()
    assert dispute.response_due_at == T0 + INACTIVITY
    assert dispute.buyer_inactive_at is None  # the seller's turn
    assert dispute.next_deadline() == (T0 + INACTIVITY, DeadlineEvent.PARTY_INACTIVE)
    dispute.apply(offer(SELLER), T0 + STEP)
    assert dispute.response_due_at == T0 + STEP + INACTIVITY
    assert dispute.buyer_inactive_at == T0 + STEP + INACTIVITY
    assert dispute.next_deadline() == (T0 + STEP + INACTIVITY, DeadlineEvent.PARTY_INACTIVE)


def test_seller_may_not_ask_help_while_merely_awaiting_buyer() -> None:
    """Before the buyer's deadline the seller's help is refused, with the allowed actions."""
    dispute = drive(offer(SELLER))
    due = T0 + STEP + INACTIVITY
    with pytest.raises(InvalidTransition) as refused:
        dispute.check(RequestHelp(actor=SELLER), due - timedelta(seconds=1))
    assert refused.value.details["allowed_actions"]["seller"] == ["message", "offer"]


def test_seller_may_ask_help_once_buyer_deadline_passed_before_the_timer() -> None:
    """check(now) counts a deadline that passed even though tick() has not run yet."""
    dispute = drive(offer(SELLER))
    due = T0 + STEP + INACTIVITY
    assert dispute.inactive_party is None
    assert HELP not in dispute.allowed_actions[Role.SELLER]
    assert dispute.allowed_actions_at(due)[Role.SELLER] == [MSG, OFFER, HELP]
    dispute.check(RequestHelp(actor=SELLER), due)
    dispute.apply(RequestHelp(actor=SELLER), due + timedelta(minutes=5))
    assert dispute.status is DisputeStatus.IN_MEDIATION
    assert dispute.escalated_by is Role.SELLER
    assert dispute.response_due_at is None


def test_tick_marks_the_buyer_inactive_once() -> None:
    """tick() at the deadline reports the buyer's silence once and lets the seller ask for help."""
    dispute = drive(offer(SELLER))
    due = T0 + STEP + INACTIVITY
    assert dispute.tick(due - timedelta(seconds=1)) == []
    assert dispute.tick(due) == [PartyInactive(party=Role.BUYER)]
    assert dispute.inactive_party is Role.BUYER
    entry = dispute.timeline[-1]
    assert (entry.event, entry.actor, entry.at) == ("party_inactive", None, due)
    assert entry.detail == {"party": Role.BUYER, "since": due.isoformat()}
    assert dispute.allowed_actions[Role.SELLER] == [MSG, OFFER, HELP]
    assert dispute.tick(due + timedelta(days=1)) == []
    assert dispute.next_deadline() is None
    dispute.check(RequestHelp(actor=SELLER), due + timedelta(hours=1))


def test_buyer_may_ask_help_when_seller_is_silent() -> None:
    """The seller's own turn has the same clock: once it runs out the buyer may escalate."""
    dispute = drive()
    assert dispute.tick(T0 + INACTIVITY) == [PartyInactive(party=Role.SELLER)]
    assert dispute.inactive_party is Role.SELLER
    assert dispute.allowed_actions[Role.BUYER] == [MSG, OFFER, CANCEL, HELP]


@pytest.mark.parametrize("handled", [False, True], ids=["timer-pending", "timer-handled"])
@pytest.mark.parametrize("late", [timedelta(0), timedelta(hours=5)], ids=["at-deadline", "after-deadline"])
def test_buyer_action_restarts_the_clock(handled: bool, late: timedelta) -> None:
    """A buyer action at or after the deadline counts as activity; the seller is refused again."""
    dispute = drive(offer(SELLER))
    now = T0 + STEP + INACTIVITY + late
    if handled:
        assert dispute.tick(now) == [PartyInactive(party=Role.BUYER)]
    dispute.apply(message(BUYER), now)
    assert dispute.response_due_at == now + INACTIVITY
    assert dispute.inactive_party is None
    assert dispute.tick(now) == []
    with pytest.raises(InvalidTransition):
        dispute.check(RequestHelp(actor=SELLER), now)
    assert HELP not in dispute.allowed_actions_at(now + INACTIVITY - timedelta(seconds=1))[Role.SELLER]
    assert HELP in dispute.allowed_actions_at(now + INACTIVITY)[Role.SELLER]


def test_each_new_proposal_gives_the_answering_party_a_full_period() -> None:
    """A second offer late in the buyer's window restarts it; so does a revision for the seller."""
    dispute = drive(offer(SELLER))
    late = T0 + STEP + INACTIVITY - timedelta(hours=2)
    dispute.apply(offer(SELLER, RELEASE), late)
    assert dispute.response_due_at == late + INACTIVITY
    revised_at = late + STEP
    dispute.apply(offer(BUYER, FULL_REFUND), revised_at)
    dispute.apply(offer(BUYER, PARTIAL_REFUND), revised_at + STEP)
    assert dispute.response_due_at == revised_at + STEP + INACTIVITY


def test_seller_message_does_not_restart_the_buyer_clock() -> None:
    """Only the party whose turn it is resets its own clock."""
    dispute = drive(offer(SELLER))
    dispute.apply(message(SELLER), T0 + 2 * STEP)
    assert dispute.response_due_at == T0 + STEP + INACTIVITY


def test_no_turn_clock_outside_negotiation() -> None:
    """Mediation and fulfilment have no turn: the clock stops and tick() marks nobody inactive."""
    for dispute in (drive(offer(SELLER), ask_help(BUYER)), drive(Accept(actor=SELLER))):
        assert (dispute.response_due_at, dispute.inactive_party) == (None, None)
        happened = dispute.tick(T0 + 10 * INACTIVITY)
        assert not [event for event in happened if isinstance(event, PartyInactive)]
        assert dispute.inactive_party is None


# -- the care reply clock ----------------------------------------------------------------------


def mediated() -> tuple[Dispute, datetime]:
    """A dispute the buyer escalated, and the escalation time."""
    dispute = drive(offer(SELLER), ask_help(BUYER))
    assert dispute.escalated_at is not None
    return dispute, dispute.escalated_at


def test_escalation_starts_the_care_clock() -> None:
    """care_reply_due_at is escalated_at + care_reply_target; the warning comes first."""
    dispute, escalated = mediated()
    assert escalated == T0 + 2 * STEP
    assert dispute.care_reply_due_at == escalated + TARGET
    assert dispute.model_dump()["care_reply_due_at"] == escalated + TARGET
    assert dispute.next_deadline() == (escalated + WARNING, DeadlineEvent.CARE_REPLY_WARNING)
    assert not dispute.sla_breached


def test_care_clock_warns_once_then_breaches_once() -> None:
    """tick() reports the warning at warn time and the breach at due time, each once."""
    dispute, escalated = mediated()
    assert dispute.tick(escalated + WARNING - timedelta(seconds=1)) == []
    assert dispute.tick(escalated + WARNING) == [warned(escalated)]
    assert dispute.timeline[-1].event == "care_reply_warning"
    assert dispute.tick(escalated + WARNING + STEP) == []
    assert not dispute.sla_breached
    assert dispute.next_deadline() == (escalated + TARGET, DeadlineEvent.CARE_REPLY_BREACHED)
    assert dispute.tick(escalated + TARGET) == [breached(escalated)]
    assert dispute.sla_breached
    assert dispute.sla_breaches == 1
    assert dispute.tick(escalated + 2 * TARGET) == []
    assert dispute.sla_breaches == 1
    assert dispute.next_deadline() is None
    breach = dispute.timeline[-1]
    assert (breach.event, breach.actor, breach.at) == ("care_reply_breached", None, escalated + TARGET)
    assert breach.detail == {"due_at": (escalated + TARGET).isoformat()}
    # no timer is left to show it, so the UI's details say since when the reply is owed
    assert "**Care reply overdue** since 2026-01-02 02:00 UTC" in current_details(dispute)
    assert "**Care reply target breached** 1 time(s)" in current_details(dispute)
    dispute.apply(command(REPLY, CARE), escalated + 2 * TARGET)
    assert "overdue" not in current_details(dispute)
    assert "**Care reply target breached** 1 time(s)" in current_details(dispute)


def test_late_tick_reports_warning_and_breach_together() -> None:
    """A tick past the due time reports both, in order."""
    dispute, escalated = mediated()
    assert dispute.tick(escalated + TARGET + STEP) == [warned(escalated), breached(escalated)]
    assert dispute.sla_breaches == 1


def test_breach_never_loses_the_case() -> None:
    """After a breach care may still reply and decide."""
    dispute, escalated = mediated()
    dispute.tick(escalated + TARGET)
    assert dispute.status is DisputeStatus.IN_MEDIATION
    assert dispute.allowed_actions[Role.CARE] == [REPLY, DECIDE, REQUEST_INFO, *UNOWNED]
    dispute.apply(decide(), escalated + TARGET + STEP)
    assert (dispute.agreed_solution, dispute.decided_by) == (PARTIAL_REFUND, "care")


@pytest.mark.parametrize("answer", [CareReply(actor=CARE, text="looking into it"), decide()], ids=str)
def test_care_reply_or_decision_stops_the_clock(answer: Command) -> None:
    """A care reply (or decision) clears care_reply_due_at."""
    dispute, escalated = mediated()
    dispute.apply(answer, escalated + STEP)
    assert dispute.care_clock is None
    assert dispute.care_reply_due_at is None
    assert dispute.next_deadline() is None
    assert dispute.tick(escalated + 2 * TARGET) == []
    assert not dispute.sla_breached


def test_party_message_restarts_the_clock_only_when_none_runs() -> None:
    """The oldest unanswered message counts: a second message does not move the due time."""
    dispute, escalated = mediated()
    dispute.apply(message(SELLER), escalated + STEP)
    assert dispute.care_reply_due_at == escalated + TARGET  # the escalation's clock still runs
    replied = escalated + 2 * STEP
    dispute.apply(CareReply(actor=CARE, text="send the photos"), replied)
    assert dispute.care_reply_due_at is None
    first = replied + STEP
    dispute.apply(message(BUYER), first)
    assert dispute.care_reply_due_at == first + TARGET
    dispute.apply(message(SELLER), first + STEP)
    assert dispute.care_reply_due_at == first + TARGET


def test_each_missed_target_counts_as_a_breach() -> None:
    """A second missed target after a reply raises sla_breaches to 2."""
    dispute, escalated = mediated()
    dispute.tick(escalated + TARGET)
    replied = escalated + TARGET + STEP
    dispute.apply(CareReply(actor=CARE, text="sorry for the wait"), replied)
    asked = replied + STEP
    dispute.apply(message(BUYER), asked)
    assert dispute.tick(asked + TARGET) == [warned(asked), breached(asked)]
    assert dispute.sla_breached
    assert dispute.sla_breaches == 2


def test_messages_outside_mediation_start_no_care_clock() -> None:
    """Care owes nothing while the parties negotiate or the solution is carried out."""
    for dispute in (drive(message(BUYER), message(SELLER)), drive(Accept(actor=SELLER), message(BUYER))):
        assert dispute.care_clock is None
        assert dispute.care_reply_due_at is None


# -- settlement and closing --------------------------------------------------------------------


def refund(amount: int) -> Payout:
    """A refund to buyer b-1."""
    return Payout(kind=SolutionKind.REFUND_TO_BUYER, party=Role.BUYER, party_id=BUYER.id, amount=amount)


def release(amount: int) -> Payout:
    """A release to seller s-1."""
    return Payout(kind=SolutionKind.RELEASE_TO_SELLER, party=Role.SELLER, party_id=SELLER.id, amount=amount)


def settle(dispute: Dispute) -> list[Payout]:
    """Carry out the dispute's settlement as the workflow does, and return the payouts."""
    payouts = dispute.settlement()
    assert payouts is not None
    now = after(dispute)
    for payout in payouts:
        dispute.payout_made(payout, now)
    assert dispute.remaining_payouts() == []
    assert dispute.settled(now) == [Resolved()]
    return payouts


def test_no_settlement_before_agreement() -> None:
    """Negotiation and mediation have nothing to pay out, and no action there makes one due."""
    assert drive().settlement() is None
    assert drive(offer(SELLER)).settlement() is None
    assert mediated()[0].settlement() is None
    assert not drive(offer(SELLER), ask_help(BUYER)).settling


def test_full_refund_is_one_refund() -> None:
    """A full refund pays the whole total to the buyer and nothing to the seller."""
    dispute = drive(Accept(actor=SELLER), solution=FULL_REFUND)
    assert dispute.agreed_solution == FULL_REFUND
    assert dispute.decided_by == "agreement"
    assert dispute.settlement() == [refund(TOTAL)]


def test_partial_refund_releases_the_remainder() -> None:
    """A partial refund pays the buyer and releases the rest to the seller."""
    dispute = drive(Accept(actor=SELLER))
    assert dispute.settlement() == [refund(150_000), release(50_000)]


def test_buyer_accepting_seller_offer_agrees_that_offer() -> None:
    """The buyer's accept agrees the seller's current offer, not the buyer's request."""
    dispute = drive(offer(SELLER, SMALL_REFUND), Accept(actor=BUYER))
    assert dispute.agreed_solution == SMALL_REFUND
    assert dispute.settlement() == [refund(50_000), release(150_000)]


def test_release_is_one_release() -> None:
    """Accepting the seller's appeal releases the whole total to the seller."""
    dispute = drive(appeal(), Accept(actor=BUYER))
    assert dispute.agreed_solution == RELEASE
    assert dispute.settlement() == [release(TOTAL)]


@pytest.mark.parametrize(
    "agree",
    [
        (Accept(actor=SELLER),),
        (offer(SELLER), Accept(actor=BUYER)),
        (offer(SELLER), ask_help(BUYER), decide()),
    ],
    ids=["seller-accepts", "buyer-accepts", "care-decides"],
)
def test_a_money_solution_is_due_for_settlement_as_it_is_agreed(agree: tuple[Command, ...]) -> None:
    """The action that agrees a refund or release returns SettlementDue, once."""
    dispute = drive(*agree[:-1])
    happened = dispute.apply(agree[-1], after(dispute))
    assert happened[0] == Acted(actor=agree[-1].actor, action=agree[-1].action)
    assert happened[-1] == SettlementDue()
    assert dispute.settling
    # a message while the payouts run does not ask for them again
    assert dispute.apply(message(BUYER), after(dispute)) == [Acted(actor=BUYER, action=MSG)]


@pytest.mark.parametrize(
    ("solution", "shippers"),
    [(EXCHANGE, [BUYER, SELLER]), (SEND_REMAINING, [SELLER])],
    ids=["exchange", "send-remaining"],
)
def test_goods_settle_only_after_shipments_and_receipt(solution: Solution, shippers: list[Actor]) -> None:
    """Goods need every shipment and the buyer's receipt before the total is released."""
    dispute = drive(solution=solution)
    assert dispute.apply(Accept(actor=SELLER), T0 + STEP) == [Acted(actor=SELLER, action=ACCEPT)]
    now = after(dispute)
    for shipper in shippers:
        assert dispute.settlement() is None
        assert dispute.apply(ship(shipper), now) == [Acted(actor=shipper, action=SHIP)]
        now += STEP
    assert [s.by for s in dispute.shipments] == [s.role for s in shippers]
    assert dispute.shipments[-1].tracking_number == "JNE-0001"
    assert dispute.settlement() is None
    assert not dispute.settling
    assert dispute.apply(ConfirmReceipt(actor=BUYER), now) == [
        Acted(actor=BUYER, action=CONFIRM),
        SettlementDue(),
    ]
    assert dispute.received_at == now
    assert dispute.settlement() == [release(TOTAL)]


def test_exchange_seller_may_not_ship_first() -> None:
    """In an exchange the buyer returns the product before the seller ships the replacement."""
    dispute = drive(Accept(actor=SELLER), solution=EXCHANGE)
    with pytest.raises(InvalidTransition):
        dispute.check(ship(SELLER), after(dispute))
    with pytest.raises(InvalidTransition):
        dispute.check(ConfirmReceipt(actor=BUYER), after(dispute))


def test_settled_closes_as_resolved_with_amounts() -> None:
    """settled() records the outcome with the amounts paid to each side."""
    dispute = drive(Accept(actor=SELLER))
    now = after(dispute)
    dispute.payout_made(refund(150_000), now)
    dispute.payout_made(release(50_000), now)
    assert dispute.settled(now) == [Resolved()]
    assert dispute.status is DisputeStatus.RESOLVED
    assert dispute.closed
    assert dispute.outcome is not None
    assert dispute.outcome.model_dump() == {
        "status": DisputeStatus.RESOLVED,
        "solution": PARTIAL_REFUND.model_dump(),
        "decided_by": "agreement",
        "refunded_to_buyer": 150_000,
        "released_to_seller": 50_000,
        "at": now,
    }
    assert dispute.next_deadline() is None
    assert dispute.settlement() is None
    closing = dispute.timeline[-1]
    assert (closing.event, closing.status, closing.at) == ("resolved", DisputeStatus.RESOLVED, now)
    assert closing.detail["refunded_to_buyer"] == 150_000


def test_care_decision_settles_as_decided_by_care() -> None:
    """A care decision is carried out and recorded as decided by care."""
    dispute, escalated = mediated()
    happened = dispute.apply(decide(RELEASE), escalated + STEP)
    assert happened == [
        Acted(actor=CARE, action=DECIDE),
        Decided(solution=RELEASE, note="evidence supports the buyer"),
        SettlementDue(),
    ]
    assert dispute.status is DisputeStatus.AWAITING_FULFILMENT
    assert settle(dispute) == [release(TOTAL)]
    assert dispute.outcome is not None
    assert dispute.outcome.decided_by == "care"
    assert dispute.outcome.released_to_seller == TOTAL
    assert dispute.outcome.refunded_to_buyer == 0


@pytest.mark.parametrize("steps", [(), (offer(SELLER),)], ids=["awaiting-seller", "awaiting-buyer"])
def test_cancel_closes_as_cancelled(steps: tuple[Command, ...]) -> None:
    """The buyer's cancel closes the dispute with decided_by 'buyer_cancelled' and no money."""
    dispute = drive(*steps)
    now = after(dispute)
    assert dispute.apply(Cancel(actor=BUYER, note="resolved by chat"), now) == [
        Acted(actor=BUYER, action=CANCEL),
        Cancelled(),
    ]
    assert dispute.status is DisputeStatus.CANCELLED
    assert dispute.closed
    assert dispute.outcome is not None
    assert dispute.outcome.model_dump() == {
        "status": DisputeStatus.CANCELLED,
        "solution": None,
        "decided_by": "buyer_cancelled",
        "refunded_to_buyer": 0,
        "released_to_seller": 0,
        "at": now,
    }
    assert dispute.response_due_at is None
    assert dispute.next_deadline() is None
    assert dispute.settlement() is None
    assert not dispute.settling


# -- parked effects and their repair -----------------------------------------------------------


def last_entries(dispute: Dispute, count: int) -> list[tuple[str, Actor | None]]:
    """The last ``count`` timeline entries as (event, actor)."""
    return [(entry.event, entry.actor) for entry in dispute.timeline[-count:]]


def test_a_refused_payout_parks_the_dispute() -> None:
    """park() holds the effect for an operator, records it on the timeline and flags the dispute;
    the dispute itself goes on (the parties may still write)."""
    dispute = drive(Accept(actor=SELLER))
    assert not dispute.needs_attention
    now = after(dispute)
    happened = dispute.park("refund_to_buyer", REFUND_KEY, REFUSED, now)
    assert happened == [EffectParked(effect="refund_to_buyer", key=REFUND_KEY, reason=REFUSED)]
    assert dispute.attention == [
        Attention(effect="refund_to_buyer", key=REFUND_KEY, reason=REFUSED, since=now)
    ]
    assert dispute.needs_attention
    assert dispute.model_dump(mode="json")["needs_attention"] is True
    assert dispute.parked(REFUND_KEY)
    assert not dispute.parked(RELEASE_KEY)
    entry = dispute.timeline[-1]
    assert (entry.event, entry.actor, entry.at, entry.status) == (
        "needs_attention",
        None,
        now,
        DisputeStatus.AWAITING_FULFILMENT,
    )
    assert entry.detail == {"effect": "refund_to_buyer", "idempotency_key": REFUND_KEY, "reason": REFUSED}
    assert dispute.status is DisputeStatus.AWAITING_FULFILMENT
    assert (dispute.payouts_made, dispute.done_by_hand) == ([], [])
    dispute.apply(message(BUYER), after(dispute))


def test_parking_the_same_key_again_changes_nothing() -> None:
    """A second refusal of an effect already parked adds no entry, no attention and no event."""
    dispute = refund_parked()
    before = dispute.model_dump()
    assert dispute.park("refund_to_buyer", REFUND_KEY, "503 for a whole day", after(dispute)) == []
    assert dispute.model_dump() == before


def test_a_long_reason_is_cut() -> None:
    """The reason an outside system gives is kept to 500 characters everywhere it lands."""
    dispute = drive(Accept(actor=SELLER))
    happened = dispute.park("refund_to_buyer", REFUND_KEY, "x" * 600, after(dispute))
    assert happened == [EffectParked(effect="refund_to_buyer", key=REFUND_KEY, reason="x" * 500)]
    assert dispute.attention[0].reason == dispute.timeline[-1].detail["reason"] == "x" * 500


def test_several_effects_park_at_once_and_are_repaired_one_by_one() -> None:
    """Effects of different lanes park side by side, in order; a named retry takes that one, an
    unnamed one the first; the dispute needs attention until none is left."""
    dispute = mediation_parked()
    park(dispute, "care_reply_breached", BREACH_KEY, "503 for 12h")
    park(dispute, "publish", PUBLISH_KEY)
    assert [p.key for p in dispute.attention] == [MEDIATION_KEY, BREACH_KEY, PUBLISH_KEY]
    assert [entry.event for entry in dispute.timeline[-3:]] == ["needs_attention"] * 3
    happened = dispute.apply(retry(BREACH_KEY), after(dispute))
    assert happened == [Acted(actor=OPERATOR, action=RETRY), EffectRepaired(key=BREACH_KEY, reference=None)]
    assert [p.key for p in dispute.attention] == [MEDIATION_KEY, PUBLISH_KEY]
    assert dispute.apply(retry(), after(dispute))[-1] == EffectRepaired(key=MEDIATION_KEY, reference=None)
    assert dispute.needs_attention
    dispute.apply(retry(), after(dispute))
    assert not dispute.needs_attention
    assert dispute.allowed_actions[Role.OPERATOR] == [ASSIGN]  # nothing left to repair
    assert dispute.done_by_hand == []
    assert dispute.mediation_case_ref is None  # a retry leaves the work to the lane


def test_retry_records_who_asked_and_changes_nothing_else() -> None:
    """A retry takes the effect off the list and is recorded with the operator and the key; no
    payout is made and nothing is marked done by hand."""
    dispute = refund_parked()
    now = after(dispute)
    happened = dispute.apply(retry(REFUND_KEY), now)
    assert happened == [Acted(actor=OPERATOR, action=RETRY), EffectRepaired(key=REFUND_KEY, reference=None)]
    assert dispute.attention == []
    entry = dispute.timeline[-1]
    assert (entry.event, entry.actor, entry.at) == (RETRY, OPERATOR, now)
    assert entry.detail == {"key": REFUND_KEY}
    assert (dispute.payouts_made, dispute.done_by_hand) == ([], [])
    assert dispute.remaining_payouts() == [refund(150_000), release(50_000)]
    assert dispute.status is DisputeStatus.AWAITING_FULFILMENT


def test_a_refund_resolved_by_hand_is_paid_with_its_reference() -> None:
    """The refund paid by hand is a payout made with the operator's reference: only the release
    remains, and the outcome counts both."""
    dispute = refund_parked()
    now = after(dispute)
    happened = dispute.apply(resolve(REFUND_KEY, "pay-77"), now)
    assert happened == [
        Acted(actor=OPERATOR, action=RESOLVE),
        EffectRepaired(key=REFUND_KEY, reference="pay-77"),
    ]
    assert dispute.payouts_made == [
        Paid(
            kind=SolutionKind.REFUND_TO_BUYER,
            party=Role.BUYER,
            party_id=BUYER.id,
            amount=150_000,
            idempotency_key=REFUND_KEY,
            reference="pay-77",
            at=now,
        )
    ]
    assert (dispute.attention, dispute.done_by_hand) == ([], [REFUND_KEY])
    assert last_entries(dispute, 2) == [("paid", None), (RESOLVE, OPERATOR)]
    assert dispute.timeline[-2].detail == {
        "kind": "REFUND_TO_BUYER",
        "party_id": BUYER.id,
        "amount": 150_000,
        "idempotency_key": REFUND_KEY,
        "reference": "pay-77",
    }
    assert dispute.timeline[-1].detail == {"key": REFUND_KEY, "external_ref": "pay-77"}
    assert dispute.remaining_payouts() == [release(50_000)]
    dispute.payout_made(release(50_000), after(dispute))
    assert dispute.remaining_payouts() == []
    assert dispute.settled(after(dispute)) == [Resolved()]
    assert dispute.outcome is not None
    assert (dispute.outcome.refunded_to_buyer, dispute.outcome.released_to_seller) == (150_000, 50_000)
    assert dispute.outcome.decided_by == "agreement"


def test_a_release_refused_after_a_partial_refund_is_resolved_by_hand() -> None:
    """The buyer was paid by the lane and the seller by hand (issue 9's case): nothing remains and
    the dispute resolves with both amounts, the seller's with its reference."""
    dispute = release_parked()
    assert dispute.remaining_payouts() == [release(50_000)]
    dispute.apply(resolve(external_ref="manual-release-1"), after(dispute))
    assert [(p.kind, p.amount, p.reference) for p in dispute.payouts_made] == [
        (SolutionKind.REFUND_TO_BUYER, 150_000, None),
        (SolutionKind.RELEASE_TO_SELLER, 50_000, "manual-release-1"),
    ]
    assert dispute.payouts_made[1].idempotency_key == RELEASE_KEY
    assert dispute.remaining_payouts() == []
    dispute.settled(after(dispute))
    assert dispute.status is DisputeStatus.RESOLVED
    assert dispute.outcome is not None
    assert (dispute.outcome.refunded_to_buyer, dispute.outcome.released_to_seller) == (150_000, 50_000)
    follows = consequences(dispute, [Resolved()])
    assert said(follows.notices) == to_both(
        "Dispute d-1 is resolved: refunded Rp150,000 to the buyer, released Rp50,000 to the seller."
    )


def test_a_mediation_opened_by_hand_records_its_case() -> None:
    """A mediation case opened by hand on the care desk is the dispute's mediation case."""
    dispute = mediation_parked()
    now = after(dispute)
    happened = dispute.apply(resolve(external_ref="desk-42"), now)
    assert happened[-1] == EffectRepaired(key=MEDIATION_KEY, reference="desk-42")
    assert dispute.mediation_case_ref == "desk-42"
    assert last_entries(dispute, 2) == [("mediation_opened", None), (RESOLVE, OPERATOR)]
    assert dispute.timeline[-2].detail == {"case_ref": "desk-42", "assignee": "by hand"}
    assert (dispute.done_by_hand, dispute.payouts_made) == ([MEDIATION_KEY], [])
    assert dispute.status is DisputeStatus.IN_MEDIATION
    assert dispute.allowed_actions[Role.CARE] == [REPLY, DECIDE, REQUEST_INFO, *UNOWNED]


def test_an_alert_resolved_by_hand_pays_nothing() -> None:
    """Recording a care alert as done by hand moves no money, even while payouts remain."""
    dispute = drive(Accept(actor=SELLER))
    park(dispute, "care_reply_breached", BREACH_KEY)
    assert dispute.allowed_actions[Role.CARE] == []  # no payout is parked: nothing to redecide
    dispute.apply(resolve(BREACH_KEY, "desk-43"), after(dispute))
    assert (dispute.done_by_hand, dispute.payouts_made) == ([BREACH_KEY], [])
    assert dispute.remaining_payouts() == [refund(150_000), release(50_000)]


def test_a_publish_step_can_only_be_retried() -> None:
    """Handing out the case's changes cannot be done by hand: alone it is not offered to resolve,
    named beside another parked effect it is InvalidInput, and an unnamed resolve passes it by."""
    dispute = drive(Accept(actor=SELLER))
    park(dispute, "publish", PUBLISH_KEY)
    assert dispute.allowed_actions[Role.OPERATOR] == [RETRY]
    with pytest.raises(InvalidTransition):
        dispute.check(resolve(PUBLISH_KEY), after(dispute))
    park(dispute, "refund_to_buyer", REFUND_KEY)
    assert dispute.allowed_actions[Role.OPERATOR] == [RETRY, RESOLVE]
    before = dispute.model_dump()
    with pytest.raises(InvalidInput) as refused:
        dispute.apply(resolve(PUBLISH_KEY), after(dispute))
    assert refused.value.details == {
        "errors": [
            {
                "field": "key",
                "reason": f"{PUBLISH_KEY} hands out the case's changes and cannot be done by hand: retry it",
            }
        ]
    }
    assert dispute.model_dump() == before
    dispute.apply(resolve(), after(dispute))  # unnamed: the first effect that can be done by hand
    assert [p.key for p in dispute.attention] == [PUBLISH_KEY]


@pytest.mark.parametrize("repair", [retry("d-1:nope"), resolve("d-1:nope")], ids=["retry", "resolve"])
def test_an_unknown_key_is_invalid_input(repair: Command) -> None:
    """Naming an effect that is not parked is InvalidInput on ``key``, listing what is parked."""
    dispute = refund_parked()
    before = dispute.model_dump()
    with pytest.raises(InvalidInput) as refused:
        dispute.apply(repair, after(dispute))
    assert refused.value.details == {
        "errors": [{"field": "key", "reason": f"no parked effect d-1:nope; parked: ['{REFUND_KEY}']"}]
    }
    assert dispute.model_dump() == before


def test_the_operator_repairs_a_closed_dispute_only_while_something_is_parked() -> None:
    """A resolved dispute whose last change was not handed out is open to the operator alone;
    once repaired it is closed to everybody again."""
    dispute = closed_with_publish_parked(_resolved)()
    for refused in (message(BUYER), redecide(), CareReply(actor=CARE, text="hi")):
        with pytest.raises(InvalidTransition):
            dispute.check(refused, after(dispute))
    now = after(dispute)
    assert dispute.apply(retry(), now)[-1] == EffectRepaired(key=PUBLISH_KEY, reference=None)
    entry = dispute.timeline[-1]
    assert (entry.event, entry.actor, entry.status) == (RETRY, OPERATOR, DisputeStatus.RESOLVED)
    assert dispute.status is DisputeStatus.RESOLVED
    assert dispute.allowed_actions == allowed()
    with pytest.raises(InvalidTransition) as refused_after:
        dispute.check(retry(), after(dispute))
    assert refused_after.value.details["allowed_actions"] == as_details(allowed())


def test_any_operator_id_acts_on_any_dispute() -> None:
    """Operators act through admin keys on every case, like care."""
    dispute = refund_parked()
    other_operator = Actor(role=Role.OPERATOR, id="oncall-99")
    assert dispute.is_party(other_operator)
    dispute.apply(retry(actor=other_operator), after(dispute))
    assert dispute.timeline[-1].actor == other_operator


@pytest.mark.parametrize("repair", [retry, resolve], ids=["retry", "resolve"])
@pytest.mark.parametrize("actor", [BUYER, SELLER, CARE], ids=["buyer", "seller", "care"])
def test_only_an_operator_repairs(repair: Callable[..., Command], actor: Actor) -> None:
    """The parties and care may not retry or resolve an effect, even one parked on their dispute."""
    dispute = refund_parked()
    with pytest.raises(InvalidTransition) as refused:
        dispute.check(repair(actor=actor), after(dispute))
    assert f"{actor.role.value} may not {repair(actor=actor).action}" in refused.value.message


@pytest.mark.parametrize("repair", [retry, resolve], ids=["retry", "resolve"])
@pytest.mark.parametrize(
    "stranger", [Actor(role=Role.BUYER, id="b-2"), HELP_CENTER_USER], ids=["other-buyer", "help-center-user"]
)
def test_a_stranger_may_not_repair(repair: Callable[..., Command], stranger: Actor) -> None:
    """Someone who is no party learns only that, parked effect or not."""
    dispute = refund_parked()
    with pytest.raises(NotAParty):
        dispute.check(repair(actor=stranger), after(dispute))


# -- care replaces a decision whose payout was refused ------------------------------------------


def test_redecide_is_offered_only_while_a_payout_is_parked() -> None:
    """Care may replace a decision while a refund or release waits, never otherwise."""
    assert REDECIDE not in drive(Accept(actor=SELLER)).allowed_actions[Role.CARE]
    assert REDECIDE not in mediation_parked().allowed_actions[Role.CARE]
    for build in (refund_parked, release_parked):
        assert build().allowed_actions[Role.CARE] == [REDECIDE]
    with pytest.raises(InvalidTransition):
        mediation_parked().check(redecide(), T0 + 10 * STEP)


def test_redecide_replaces_the_decision_and_the_payouts_that_remain() -> None:
    """After a refused release, care refunds everything instead: the parked payout goes, the next
    round's payouts carry new keys, only the rest of the refund remains, and the outcome counts
    what was paid."""
    dispute = release_parked()
    round_zero = {payout.kind: dispute.payout_key(payout) for payout in dispute.settlement() or []}
    assert round_zero == {
        SolutionKind.REFUND_TO_BUYER: REFUND_KEY,
        SolutionKind.RELEASE_TO_SELLER: RELEASE_KEY,
    }
    now = after(dispute)
    happened = dispute.apply(redecide(FULL_REFUND, "the seller's account is closed"), now)
    assert happened == [
        Acted(actor=CARE, action=REDECIDE),
        Decided(solution=FULL_REFUND, note="the seller's account is closed"),
    ]  # the payouts already run: no new SettlementDue
    assert (dispute.agreed_solution, dispute.decided_by, dispute.decision_round) == (FULL_REFUND, "care", 1)
    assert dispute.attention == []
    assert dispute.status is DisputeStatus.AWAITING_FULFILMENT
    assert dispute.settling
    assert dispute.remaining_payouts() == [refund(50_000)]
    assert dispute.payout_key(refund(50_000)) == "d-1:refund_to_buyer:1"
    assert dispute.payout_key(release(1)) == "d-1:release_to_seller:1"
    assert dispute.payout_key(refund(50_000)) not in round_zero.values()
    entry = dispute.timeline[-1]
    assert (entry.event, entry.actor, entry.at) == (REDECIDE, CARE, now)
    assert Solution.model_validate(entry.detail["solution"]) == FULL_REFUND
    assert entry.detail["note"] == "the seller's account is closed"
    dispute.payout_made(refund(50_000), after(dispute))
    assert dispute.payouts_made[-1].idempotency_key == "d-1:refund_to_buyer:1"
    assert dispute.remaining_payouts() == []
    dispute.settled(after(dispute))
    assert dispute.outcome is not None
    assert dispute.outcome.model_dump(exclude={"at"}) == {
        "status": DisputeStatus.RESOLVED,
        "solution": FULL_REFUND.model_dump(),
        "decided_by": "care",
        "refunded_to_buyer": TOTAL,
        "released_to_seller": 0,
    }


def test_redecide_keeps_other_parked_effects() -> None:
    """Only the parked payouts go with the old decision; a parked care alert still waits."""
    dispute = drive(Accept(actor=SELLER))
    park(dispute, "care_reply_breached", BREACH_KEY)
    park(dispute, "refund_to_buyer", REFUND_KEY)
    dispute.apply(redecide(RELEASE), after(dispute))
    assert [p.key for p in dispute.attention] == [BREACH_KEY]
    assert dispute.allowed_actions[Role.CARE] == []
    assert dispute.remaining_payouts() == [release(TOTAL)]


def test_each_redecision_is_a_new_round() -> None:
    """A payout of the new decision refused again can be redecided again, under new keys."""
    dispute = refund_parked()
    dispute.apply(redecide(SMALL_REFUND), after(dispute))
    assert dispute.remaining_payouts() == [refund(50_000), release(150_000)]
    park(dispute, "refund_to_buyer", dispute.payout_key(refund(50_000)))
    assert dispute.attention[0].key == "d-1:refund_to_buyer:1"
    dispute.apply(redecide(RELEASE), after(dispute))
    assert dispute.decision_round == 2
    assert dispute.remaining_payouts() == [release(TOTAL)]
    assert dispute.payout_key(release(TOTAL)) == "d-1:release_to_seller:2"


@pytest.mark.parametrize(
    ("build", "solution", "field", "reason"),
    [
        (release_parked, SMALL_REFUND, "solution.amount", "150000 was already refunded to the buyer"),
        (release_parked, RELEASE, "solution.amount", "150000 was already refunded to the buyer"),
        (
            refund_parked,
            EXCHANGE,
            "solution.kind",
            "a replaced decision refunds or releases money; goods have moved",
        ),
        (
            refund_parked,
            SEND_REMAINING,
            "solution.kind",
            "a replaced decision refunds or releases money; goods have moved",
        ),
        (refund_parked, TOO_MUCH, "solution.amount", f"{TOTAL + 1} is above the order total {TOTAL}"),
    ],
    ids=["refund-below-refunded", "release-after-a-refund", "exchange", "send-remaining", "above-total"],
)
def test_a_redecision_that_cannot_be_carried_out_is_invalid_input(
    build: Callable[[], Dispute], solution: Solution, field: str, reason: str
) -> None:
    """What was paid stays paid and goods cannot be moved again: such a decision is InvalidInput,
    and nothing changes."""
    dispute = build()
    before = dispute.model_dump()
    with pytest.raises(InvalidInput) as refused:
        dispute.apply(redecide(solution), after(dispute))
    assert refused.value.details == {"errors": [{"field": field, "reason": reason}]}
    assert dispute.model_dump() == before


def test_a_redecision_may_not_release_less_than_was_released() -> None:
    """With 50,000 already released to the seller, a new decision must leave the seller at least
    that much: a full refund is refused, a refund of 150,000 is the most allowed."""
    dispute = drive(Accept(actor=SELLER))
    dispute.payout_made(release(50_000), after(dispute))  # as if the seller's share went out first
    park(dispute, "refund_to_buyer", REFUND_KEY)
    with pytest.raises(InvalidInput) as refused:
        dispute.check(redecide(FULL_REFUND), after(dispute))
    assert refused.value.details == {
        "errors": [{"field": "solution.amount", "reason": "50000 was already released to the seller"}]
    }
    dispute.apply(redecide(PARTIAL_REFUND), after(dispute))
    assert dispute.remaining_payouts() == [refund(150_000)]


@pytest.mark.parametrize("actor", [BUYER, SELLER, OPERATOR], ids=["buyer", "seller", "operator"])
def test_only_care_redecides(actor: Actor) -> None:
    """Neither a party nor an operator may replace a decision."""
    dispute = refund_parked()
    with pytest.raises(InvalidTransition):
        dispute.check(Redecide(actor=actor, solution=FULL_REFUND), after(dispute))


# -- the message limit -------------------------------------------------------------------------

LIMITED = DisputePolicy(
    buyer_inactivity=INACTIVITY, care_reply_target=TARGET, care_reply_warning=WARNING, max_messages=3
)


def test_messages_are_counted() -> None:
    """Only the parties' messages count; offers, appeals, help and care's words do not."""
    dispute = drive(message(BUYER), offer(SELLER), message(SELLER), ask_help(BUYER), command(REPLY, CARE))
    assert dispute.message_count == 2
    dispute.apply(message(BUYER), after(dispute))
    assert dispute.message_count == 3


def test_a_message_beyond_the_limit_is_refused_and_changes_nothing() -> None:
    """Once ``max_messages`` messages were accepted the next one is LimitReached, for either party."""
    dispute = drive(message(BUYER), message(SELLER), message(BUYER), policy=LIMITED)
    assert dispute.message_count == 3
    before = dispute.model_dump()
    for actor in (BUYER, SELLER):
        with pytest.raises(LimitReached) as refused:
            dispute.check(message(actor), after(dispute))
        assert refused.value.code == "LimitReached"
        assert refused.value.details == {"limit": 3}
        assert refused.value.message == "d-1 has reached its limit of 3 messages"
        with pytest.raises(LimitReached):
            dispute.apply(message(actor), after(dispute))
    assert dispute.model_dump() == before


def test_the_limit_leaves_every_other_action_open() -> None:
    """At the limit the dispute still moves on: offers, acceptance, help and care's words."""
    dispute = drive(message(BUYER), message(SELLER), message(BUYER), policy=LIMITED)
    for step in (offer(SELLER), ask_help(BUYER), command(REPLY, CARE), decide()):
        dispute.apply(step, after(dispute))
    assert dispute.status is DisputeStatus.AWAITING_FULFILMENT
    assert dispute.message_count == 3


def test_the_limit_is_checked_after_the_party_and_the_state() -> None:
    """A stranger is NotAParty and a closed dispute InvalidTransition, limit or not."""
    dispute = drive(message(BUYER), message(SELLER), message(BUYER), policy=LIMITED)
    with pytest.raises(NotAParty):
        dispute.check(message(Actor(role=Role.BUYER, id="b-2")), after(dispute))
    dispute.apply(command(CANCEL, BUYER), after(dispute))
    with pytest.raises(InvalidTransition):
        dispute.check(message(BUYER), after(dispute))


def test_the_default_limit_is_a_setting_of_at_least_one() -> None:
    """The policy carries the limit (2000 by default); zero is refused."""
    assert DisputePolicy().max_messages == 2000
    with pytest.raises(ValidationError, match="max_messages"):
        DisputePolicy(max_messages=0)


# -- what each change sets off (domain/reactions.py) -------------------------------------------


@dataclass(frozen=True)
class Reaction:
    """An action on a state, what it returns and what follows from it."""

    name: str
    build: Callable[[], Dispute]
    cmd: Command
    happened: list[DomainEvent]
    notices: list[Told]
    published: list[EventType]
    open_mediation: bool = False
    settle: bool = False


def _escalated() -> Dispute:
    return drive(offer(SELLER), ask_help(BUYER))


REACTIONS = [
    Reaction(
        "buyer-message",
        drive,
        message(BUYER),
        [Acted(actor=BUYER, action=MSG)],
        [to(SELLER, "The buyer sent a message on dispute d-1; it is now awaiting the seller.")],
        [EventType.DISPUTE_UPDATED],
    ),
    Reaction(
        "seller-offer",
        drive,
        offer(SELLER),
        [Acted(actor=SELLER, action=OFFER)],
        [to(BUYER, "The seller offered another solution on dispute d-1; it is now awaiting the buyer.")],
        [EventType.DISPUTE_UPDATED],
    ),
    Reaction(
        "seller-appeal",
        drive,
        appeal(),
        [Acted(actor=SELLER, action=APPEAL)],
        [to(BUYER, "The seller appealed the claim on dispute d-1; it is now awaiting the buyer.")],
        [EventType.DISPUTE_UPDATED],
    ),
    Reaction(
        "buyer-help",
        lambda: drive(offer(SELLER)),
        ask_help(BUYER),
        [Acted(actor=BUYER, action=HELP), Escalated(by="buyer")],
        to_both(
            "Dispute d-1 is now mediated by care (requested by the buyer); care replies within 24 hours."
        ),
        [EventType.DISPUTE_UPDATED, EventType.DISPUTE_ESCALATED],
        open_mediation=True,
    ),
    Reaction(
        "seller-help",
        lambda: drive(offer(SELLER), command(REJECT, BUYER)),
        ask_help(SELLER),
        [Acted(actor=SELLER, action=HELP), Escalated(by="seller")],
        to_both(
            "Dispute d-1 is now mediated by care (requested by the seller); care replies within 24 hours."
        ),
        [EventType.DISPUTE_UPDATED, EventType.DISPUTE_ESCALATED],
        open_mediation=True,
    ),
    Reaction(
        "buyer-cancel",
        drive,
        command(CANCEL, BUYER),
        [Acted(actor=BUYER, action=CANCEL), Cancelled()],
        [to(SELLER, "The buyer cancelled the dispute on dispute d-1; it is now cancelled.")],
        [EventType.DISPUTE_UPDATED, EventType.DISPUTE_CANCELLED],
    ),
    Reaction(
        "seller-accepts-refund",
        drive,
        Accept(actor=SELLER),
        [Acted(actor=SELLER, action=ACCEPT), SettlementDue()],
        [to(BUYER, "The seller accepted the solution on dispute d-1; it is now awaiting fulfilment.")],
        [EventType.DISPUTE_UPDATED],
        settle=True,
    ),
    Reaction(
        "seller-accepts-exchange",
        lambda: drive(solution=EXCHANGE),
        Accept(actor=SELLER),
        [Acted(actor=SELLER, action=ACCEPT)],
        [to(BUYER, "The seller accepted the solution on dispute d-1; it is now awaiting fulfilment.")],
        [EventType.DISPUTE_UPDATED],
    ),
    Reaction(
        "buyer-ships-return",
        lambda: drive(Accept(actor=SELLER), solution=EXCHANGE),
        ship(BUYER),
        [Acted(actor=BUYER, action=SHIP)],
        [
            to(
                SELLER,
                "The buyer shipped and sent the tracking number on dispute d-1; it is now awaiting"
                " fulfilment.",
            )
        ],
        [EventType.DISPUTE_UPDATED],
    ),
    Reaction(
        "buyer-confirms-receipt",
        lambda: drive(Accept(actor=SELLER), ship(SELLER), solution=SEND_REMAINING),
        ConfirmReceipt(actor=BUYER),
        [Acted(actor=BUYER, action=CONFIRM), SettlementDue()],
        [to(SELLER, "The buyer confirmed receipt on dispute d-1; it is now awaiting fulfilment.")],
        [EventType.DISPUTE_UPDATED],
        settle=True,
    ),
    Reaction(
        "care-reply",
        _escalated,
        CareReply(actor=CARE, text="please send the unboxing video"),
        [Acted(actor=CARE, action=REPLY), CareSpoke(text="please send the unboxing video")],
        to_both("Care replied on dispute d-1: please send the unboxing video", NoticeCategory.CARE_REPLY),
        [EventType.DISPUTE_UPDATED],
    ),
    Reaction(
        "care-decides-refund",
        _escalated,
        decide(),
        [
            Acted(actor=CARE, action=DECIDE),
            Decided(solution=PARTIAL_REFUND, note="evidence supports the buyer"),
            SettlementDue(),
        ],
        to_both(
            "Care decided dispute d-1: a refund of Rp150,000 to the buyer. evidence supports the buyer",
            NoticeCategory.CARE_REPLY,
        ),
        [EventType.DISPUTE_UPDATED],
        settle=True,
    ),
    Reaction(
        "care-decides-exchange-without-note",
        _escalated,
        Decide(actor=CARE, solution=EXCHANGE),
        [Acted(actor=CARE, action=DECIDE), Decided(solution=EXCHANGE, note="")],
        to_both("Care decided dispute d-1: an exchange of the product.", NoticeCategory.CARE_REPLY),
        [EventType.DISPUTE_UPDATED],
    ),
    # an operator's repair tells nobody but goes out as an update (the snapshot's attention shrinks)
    Reaction(
        "operator-retries-a-payout",
        refund_parked,
        retry(REFUND_KEY),
        [Acted(actor=OPERATOR, action=RETRY), EffectRepaired(key=REFUND_KEY, reference=None)],
        [],
        [EventType.DISPUTE_UPDATED, EventType.CASE_REPAIRED],
    ),
    Reaction(
        "operator-pays-by-hand",
        release_parked,
        resolve(),
        [Acted(actor=OPERATOR, action=RESOLVE), EffectRepaired(key=RELEASE_KEY, reference=EXTERNAL_REF)],
        [],
        [EventType.DISPUTE_UPDATED, EventType.CASE_REPAIRED],
    ),
    Reaction(
        "operator-opens-mediation-by-hand",
        mediation_parked,
        resolve(),
        [Acted(actor=OPERATOR, action=RESOLVE), EffectRepaired(key=MEDIATION_KEY, reference=EXTERNAL_REF)],
        [],
        [EventType.DISPUTE_UPDATED, EventType.CASE_REPAIRED],
    ),
    Reaction(
        "care-redecides",
        release_parked,
        redecide(),
        [
            Acted(actor=CARE, action=REDECIDE),
            Decided(solution=FULL_REFUND, note="the seller's account is closed"),
        ],
        to_both(
            "Care decided dispute d-1: a refund of Rp200,000 to the buyer. the seller's account is closed",
            NoticeCategory.CARE_REPLY,
        ),
        [EventType.DISPUTE_UPDATED],
    ),
]


@pytest.mark.parametrize("case", REACTIONS, ids=lambda r: r.name)
def test_what_an_action_returns_and_sets_off(case: Reaction) -> None:
    """apply() returns what happened; consequences() says who is told what, which webhook events
    go out, and whether mediation opens or payouts start."""
    dispute = case.build()
    happened = dispute.apply(case.cmd, after(dispute))
    assert happened == case.happened
    follows = consequences(dispute, happened)
    assert said(follows.notices) == case.notices
    assert follows.published == case.published
    assert (EffectName.MEDIATION_OPENED in follows.effects) is case.open_mediation
    assert (SettlementDue() in happened) is case.settle
    assert follows.care_alerts == []


def test_opening_tells_the_seller() -> None:
    """The seller learns of the complaint (Pesanan Dikomplain); subscribers get dispute.opened."""
    follows = consequences(drive(), [Opened()])
    assert said(follows.notices) == [
        to(
            SELLER,
            "Buyer b-1 opened dispute d-1 on order o-1 (item damaged), asking for a refund of Rp150,000 to"
            " the buyer. In the Resolution Center you may accept the solution, offer another one, or appeal.",
        )
    ]
    assert follows.published == [EventType.DISPUTE_OPENED]
    assert not (follows.effects or follows.care_alerts)


@pytest.mark.parametrize(
    ("build", "due", "silent"),
    [
        (lambda: drive(offer(SELLER)), T0 + STEP + INACTIVITY, Role.BUYER),
        (lambda: drive(), T0 + INACTIVITY, Role.SELLER),
    ],
    ids=["buyer-silent", "seller-silent"],
)
def test_a_silent_party_lets_the_other_ask_for_help(
    build: Callable[[], Dispute], due: datetime, silent: Role
) -> None:
    """The other party learns that it may now ask care for help; subscribers get an update."""
    dispute = build()
    happened = dispute.tick(due)
    assert happened == [PartyInactive(party=silent)]
    follows = consequences(dispute, happened)
    assert said(follows.notices) == [
        to(
            other(silent),
            f"The {silent} has not responded on dispute d-1 for 3 days: you may now ask care for help"
            " (Minta Bantuan).",
        )
    ]
    assert follows.published == [EventType.DISPUTE_UPDATED]


def test_care_clock_events_alert_care_and_tell_subscribers() -> None:
    """The warning and the breach go to care (not to the parties) and out as webhook events, in order."""
    dispute, escalated = mediated()
    happened = dispute.tick(escalated + TARGET)
    follows = consequences(dispute, happened)
    assert follows.care_alerts == [warned(escalated), breached(escalated)]
    assert follows.published == [EventType.CARE_REPLY_WARNING, EventType.CARE_REPLY_BREACHED]
    assert said(follows.notices) == []
    assert not follows.effects


def test_resolution_tells_both_parties_the_amounts() -> None:
    """Both parties learn how the dispute was settled; subscribers get an update and dispute.resolved."""
    dispute = drive(Accept(actor=SELLER))
    settle(dispute)
    follows = consequences(dispute, [Resolved()])
    assert said(follows.notices) == to_both(
        "Dispute d-1 is resolved: refunded Rp150,000 to the buyer, released Rp50,000 to the seller."
    )
    assert follows.published == [EventType.DISPUTE_UPDATED, EventType.DISPUTE_RESOLVED]


@pytest.mark.parametrize(
    ("build", "effect", "key"),
    [
        (lambda: drive(Accept(actor=SELLER)), "refund_to_buyer", REFUND_KEY),
        (_escalated, "mediation", MEDIATION_KEY),
        (_resolved, "publish", PUBLISH_KEY),
    ],
    ids=["refund", "mediation", "publish-after-resolution"],
)
def test_a_park_tells_on_call_and_not_the_parties(
    build: Callable[[], Dispute], effect: str, key: str
) -> None:
    """A parked effect goes out as case.needs_attention and is counted by effect; the parties are
    not told (nothing changed for them), and no dispute.updated is sent for it."""
    dispute = build()
    follows = consequences(dispute, park(dispute, effect, key))
    assert follows.published == [EventType.CASE_NEEDS_ATTENTION]
    assert follows.parked == [effect]
    assert said(follows.notices) == []
    assert not (follows.effects or follows.care_alerts)
    assert follows


def test_parked_effects_add_up_in_order() -> None:
    """Several parks in one change are all counted and all published, in order."""
    dispute = mediation_parked()
    total = consequences(dispute, park(dispute, "care_reply_breached", BREACH_KEY))
    total += consequences(dispute, park(dispute, "publish", PUBLISH_KEY))
    assert total.parked == ["care_reply_breached", "publish"]
    assert total.published == [EventType.CASE_NEEDS_ATTENTION] * 2


def test_consequences_add_up_and_nothing_is_falsy() -> None:
    """No events ask nothing of the outside world; several add up in order."""
    dispute = drive()
    assert not consequences(dispute, [])
    total = Consequences()
    total += consequences(dispute, [Opened()])
    total += consequences(dispute, [Acted(actor=BUYER, action=MSG)])
    assert total
    assert total.published == [EventType.DISPUTE_OPENED, EventType.DISPUTE_UPDATED]
    assert [n.party for n in total.notices] == [Role.SELLER, Role.SELLER]


# -- what webhook events carry -----------------------------------------------------------------

#: What a webhook event may carry of a dispute (ids, status, solutions, deadlines), and what it
#: always carries.
SNAPSHOT_FIELDS = {
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
}
ALWAYS = {
    "id",
    "order_id",
    "buyer_id",
    "seller_id",
    "status",
    "requested_solution",
    "sla_breached",
    "attention",
}
SECRET_NOTE = "my-private-offer-note"
SECRET_REASON = "my-private-appeal-reason"
SECRET_MESSAGE = "my-private-message"


@pytest.mark.parametrize(
    "build",
    [
        lambda: drive(message(BUYER, SECRET_MESSAGE), offer(SELLER, note=SECRET_NOTE)),
        lambda: drive(message(SELLER, SECRET_MESSAGE), appeal(SECRET_REASON)),
        lambda: drive(offer(SELLER, note=SECRET_NOTE), ask_help(BUYER), decide(note=SECRET_NOTE)),
        lambda: drive(offer(SELLER, note=SECRET_NOTE), Accept(actor=BUYER), message(BUYER, SECRET_MESSAGE)),
    ],
    ids=["offer", "appeal", "decided", "agreed"],
)
def test_snapshot_carries_no_free_text(build: Callable[[], Dispute]) -> None:
    """A webhook event carries ids, status, solutions and deadlines: never the description, a
    message, an offer's note, an appeal's reason or a decision's note."""
    dispute = build()
    data = snapshot(dispute)
    assert ALWAYS <= set(data) <= SNAPSHOT_FIELDS
    text = json.dumps(data)
    for secret in (DESCRIPTION, SECRET_MESSAGE, SECRET_NOTE, SECRET_REASON):
        assert secret not in text
    assert (data["id"], data["order_id"], data["status"]) == ("d-1", "o-1", dispute.status.value)
    assert Solution.model_validate(data["requested_solution"]) == dispute.requested_solution


def test_snapshot_keeps_the_offer_without_its_note() -> None:
    """The current offer goes out with who made it and the solution, its note left out."""
    dispute = drive(appeal())
    offered = snapshot(dispute)["current_offer"]
    assert "note" not in offered
    assert (offered["by"], offered["appeal"]) == ("seller", True)
    assert Solution.model_validate(offered["solution"]) == RELEASE
    assert dispute.current_offer is not None
    assert dispute.current_offer.note == "item was intact when shipped"  # the state itself keeps it


def test_snapshot_carries_the_agreement_and_the_care_deadline() -> None:
    """What subscribers act on: the agreed solution, the outcome and care's reply deadline."""
    mediation, escalated = mediated()
    assert datetime.fromisoformat(snapshot(mediation)["care_reply_due_at"]) == escalated + TARGET
    dispute = drive(Accept(actor=SELLER))
    settle(dispute)
    data = snapshot(dispute)
    assert Solution.model_validate(data["agreed_solution"]) == PARTIAL_REFUND
    assert (data["outcome"]["refunded_to_buyer"], data["outcome"]["released_to_seller"]) == (150_000, 50_000)


def test_snapshot_carries_what_waits_for_an_operator() -> None:
    """Subscribers see each parked effect (what, which key, why, since when) until it is repaired."""
    dispute = drive(Accept(actor=SELLER))
    assert snapshot(dispute)["attention"] == []
    now = after(dispute)
    dispute.park("refund_to_buyer", REFUND_KEY, REFUSED, now)
    parked = snapshot(dispute)["attention"]
    assert [set(item) for item in parked] == [{"effect", "key", "reason", "since"}]
    assert [Attention.model_validate(item) for item in parked] == [
        Attention(effect="refund_to_buyer", key=REFUND_KEY, reason=REFUSED, since=now)
    ]
    dispute.apply(retry(), after(dispute))
    assert snapshot(dispute)["attention"] == []


def test_snapshot_names_the_linked_reports() -> None:
    """The help-center reports linked to the dispute go out with it, as before the restructuring."""
    dispute = drive()
    dispute.link_ticket("care-ticket-t-1", after(dispute))
    assert snapshot(dispute)["linked_tickets"] == ["care-ticket-t-1"]


# -- how the dispute is shown (domain/views.py) ------------------------------------------------


def test_the_offer_history_is_read_from_the_timeline() -> None:
    """Offers, revisions and appeals, with their author and note, in the order they were made."""
    dispute = drive(offer(SELLER), offer(BUYER, FULL_REFUND, note="all of it"), appeal(), message(BUYER))
    view = DisputeView.of(dispute, dispute.timeline)
    assert view.proposals == [
        Proposal(by=Role.SELLER, solution=SMALL_REFUND, note="how about this", at=T0 + STEP),
        Proposal(by=Role.BUYER, solution=FULL_REFUND, note="all of it", at=T0 + 2 * STEP),
        Proposal(
            by=Role.SELLER,
            solution=RELEASE,
            note="item was intact when shipped",
            appeal=True,
            at=T0 + 3 * STEP,
        ),
    ]
    assert view.timeline == dispute.timeline
    assert (view.status, view.allowed_actions) == (dispute.status, dispute.allowed_actions)
    assert "proposals" not in Dispute.model_fields


def test_the_view_reads_the_full_timeline_from_the_store_and_the_case() -> None:
    """Entries already stored and the ones the case still holds are merged by seq, once each."""
    dispute = drive(offer(SELLER), offer(BUYER, FULL_REFUND), appeal())
    stored = dispute.timeline[:2]
    dispute.forget_timeline(upto=2)
    assert [entry.seq for entry in dispute.timeline] == [3, 4]
    full = merge_timeline(stored, [*dispute.timeline, stored[1]])
    assert [entry.seq for entry in full] == [1, 2, 3, 4]
    assert [entry.event for entry in full] == ["opened", "offer", "offer", "appeal"]
    assert len(DisputeView.of(dispute, full).proposals) == 3
    assert len(DisputeView.of(dispute, dispute.timeline).proposals) == 2


def test_timeline_entries_are_numbered_from_one() -> None:
    """Every recorded entry gets the next seq, clock and effect records included."""
    dispute = drive(offer(SELLER))
    dispute.tick(T0 + STEP + INACTIVITY)
    dispute.record_failed_effect("d-1:notify", "410 Gone", T0 + 4 * INACTIVITY)
    dispute.record_rejected_event("ev-1", "dispute.accept", "not allowed", T0 + 4 * INACTIVITY)
    assert [(e.seq, e.event) for e in dispute.timeline] == [
        (1, "opened"),
        (2, "offer"),
        (3, "party_inactive"),
        (4, "effect_failed"),
        (5, "event_rejected"),
    ]
    assert isinstance(dispute.timeline[0], TimelineEntry)
    assert dispute.timeline_seq == 5


def test_summary_and_static_details() -> None:
    """The Temporal UI's summary line and the claim with its policy."""
    claim = dispute_request()
    assert dispute_summary(claim) == (
        "Dispute on order o-1: buyer b-1 vs seller s-1, DAMAGED, asks to refund 150000 to buyer"
    )
    assert dispute_details(claim).split("\n\n") == [
        "**Order** o-1 · total 200000",
        "**Buyer** b-1 · **Seller** s-1",
        f"**Reason** DAMAGED: {DESCRIPTION}",
        "**Requested** refund 150000 to buyer",
        "**Policy** inactivity 3d · care reply target 24h (warning at 20h)",
    ]


@pytest.mark.parametrize(
    ("build", "lines"),
    [
        (
            drive,
            [
                "**Waiting for:** the seller: accept, offer another solution or appeal",
                "**Next deadline:** 2026-01-04 00:00 UTC (seller inactivity 3d): the seller counts as"
                " inactive and the buyer may ask care for help",
            ],
        ),
        (
            lambda: drive(appeal()),
            [
                "**Current appeal:** release funds to seller",
                "**Waiting for:** the buyer: accept, reject or revise",
                "**Next deadline:** 2026-01-04 01:00 UTC (buyer inactivity 3d): the buyer counts as"
                " inactive and the seller may ask care for help",
            ],
        ),
        (
            _escalated,
            [
                "**Current offer:** refund 50000 to buyer",
                "**Waiting for:** care: reply to the parties and decide a solution",
                "**Next deadline:** 2026-01-01 22:00 UTC (care reply warning at 20h): care is warned that"
                " the reply target is near",
            ],
        ),
        (
            lambda: drive(Accept(actor=SELLER), solution=EXCHANGE),
            ["**Waiting for:** the buyer to ship the product back (tracking number)"],
        ),
        (
            lambda: drive(Accept(actor=SELLER), ship(BUYER), solution=EXCHANGE),
            ["**Waiting for:** the seller to ship the items (tracking number)"],
        ),
        (
            lambda: drive(Accept(actor=SELLER), ship(SELLER), solution=SEND_REMAINING),
            ["**Waiting for:** the buyer to confirm receipt"],
        ),
        (lambda: drive(Accept(actor=SELLER)), ["**Waiting for:** the payouts to complete"]),
        (_resolved, ["**Outcome:** agreement, refunded 150000 to buyer, released 50000 to seller"]),
        (lambda: drive(command(CANCEL, BUYER)), ["**Outcome:** buyer_cancelled, cancelled by the buyer"]),
    ],
    ids=[
        "awaiting-seller",
        "appealed",
        "mediation",
        "exchange-return",
        "exchange-replacement",
        "remaining-receipt",
        "payouts",
        "resolved",
        "cancelled",
    ],
)
def test_current_details_say_what_the_dispute_waits_for(
    build: Callable[[], Dispute], lines: list[str]
) -> None:
    """Status, the claim, whom it waits for, the next deadline with its effect, and the outcome."""
    dispute = build()
    shown = current_details(dispute).split("\n\n")
    assert shown[:3] == [
        f"**Status:** {dispute.status}",
        "**Order:** o-1 · buyer b-1 · seller s-1 · total 200000",
        f"**Requested:** {dispute.requested_solution.describe()}",
    ]
    assert shown[3:] == lines


def test_current_details_name_the_linked_reports() -> None:
    """A linked help-center report shows in the details, recorded once."""
    dispute = drive()
    dispute.link_ticket("care-ticket-t-1", after(dispute))
    dispute.link_ticket("care-ticket-t-1", after(dispute))
    assert dispute.linked_tickets == ["care-ticket-t-1"]
    assert [entry.event for entry in dispute.timeline] == ["opened", "ticket_linked"]
    assert current_details(dispute).endswith("**Help-center reports:** care-ticket-t-1")


def test_deadline_names_and_effects() -> None:
    """Each clock is named as the timer summary shows it, with what happens when it runs out."""
    dispute, _ = mediated()
    assert deadline_name(dispute, DeadlineEvent.CARE_REPLY_WARNING) == "care reply warning at 20h"
    assert deadline_name(dispute, DeadlineEvent.CARE_REPLY_BREACHED) == "care reply target 24h"
    assert deadline_effect(dispute, DeadlineEvent.CARE_REPLY_BREACHED) == (
        "the reply target is breached and escalated"
    )
    awaiting_buyer = drive(offer(SELLER))
    assert deadline_name(awaiting_buyer, DeadlineEvent.PARTY_INACTIVE) == "buyer inactivity 3d"
    assert deadline_effect(awaiting_buyer, DeadlineEvent.PARTY_INACTIVE) == (
        "the buyer counts as inactive and the seller may ask care for help"
    )


# -- the clocks that act by themselves (issue 11) ------------------------------------------------


def test_a_dispute_opened_before_the_clocks_existed_keeps_its_old_clocks() -> None:
    """A stored policy without the new durations (every case opened before them) runs no new
    clock: the same deadlines, no window, no reminder, and care's decision is carried out at once."""
    stored = DisputePolicy.model_validate(DISPUTE_POLICY.model_dump(mode="json", exclude=set(CLOCKS)))
    assert all(getattr(stored, name) is None for name in CLOCKS)
    dispute = drive(offer(SELLER), ask_help(BUYER), policy=stored)
    assert (dispute.window, dispute.decision_clock, dispute.next_reminder()) == (None, None, None)
    assert dispute.next_deadline() == (T0 + 2 * STEP + WARNING, DeadlineEvent.CARE_REPLY_WARNING)
    dispute.apply(decide(EXCHANGE), after(dispute))
    assert dispute.status is DisputeStatus.AWAITING_FULFILMENT
    assert (dispute.window, dispute.next_deadline()) == (None, None)


def seller_response_due() -> datetime:
    return T0 + SELLER_RESPONSE


def test_the_seller_response_window_runs_from_the_sellers_turn() -> None:
    """The seller's window opens with its turn and restarts with each new turn or revision; a
    seller's message does not stop it (only an answer does)."""
    dispute = drive_clocked(message(SELLER))
    assert dispute.window is not None and dispute.window.kind is WindowKind.SELLER_RESPONSE
    assert dispute.next_deadline() == (seller_response_due() - LEAD, DeadlineEvent.REMINDER)
    assert dispute.deadlines == [
        Deadline(party=Role.SELLER, action="respond", due_at=seller_response_due(), then=Then.ESCALATED),
        Deadline(
            party=Role.SELLER, action="respond", due_at=T0 + STEP + INACTIVITY, then=Then.HELP_AVAILABLE
        ),
    ]
    assert dispute.next_deadline_at == seller_response_due()
    dispute.apply(offer(SELLER), T0 + 2 * STEP)
    assert dispute.window is None  # the buyer's turn has its inactivity clock only
    dispute.apply(command(REJECT, BUYER), T0 + 3 * STEP)
    assert dispute.window is not None and dispute.window.due_at == T0 + 3 * STEP + SELLER_RESPONSE
    dispute.apply(offer(BUYER, FULL_REFUND), T0 + 4 * STEP)
    assert dispute.window is not None and dispute.window.due_at == T0 + 4 * STEP + SELLER_RESPONSE


def test_a_silent_seller_is_escalated_by_the_system() -> None:
    """When the window passes, care takes over: escalated by the system, with the reason on the
    timeline, the mediation to open, the reply target and the decision target running."""
    dispute = drive_clocked()
    due = seller_response_due()
    assert [type(e) for e in dispute.tick(due - timedelta(seconds=1))] == [Reminded]  # not yet acted
    happened = dispute.tick(due)
    reason = "the seller did not respond within 2d"
    assert happened == [Escalated(by="system", reason=reason, window="seller_response")]
    assert dispute.status is DisputeStatus.IN_MEDIATION
    assert (dispute.escalated_by, dispute.escalated_at, dispute.escalation_reason) == ("system", due, reason)
    entry = dispute.timeline[-1]
    assert (entry.event, entry.actor, entry.detail) == ("escalated", None, {"by": "system", "reason": reason})
    assert dispute.care_reply_due_at == due + TARGET
    assert dispute.care_decision_due_at == due + DECISION_TARGET
    follows = consequences(dispute, happened)
    assert follows.effects == [EffectName.MEDIATION_OPENED]
    assert follows.published == [EventType.DISPUTE_ESCALATED]
    assert said(follows.notices) == to_both(
        "Dispute d-1 is now mediated by care: the seller did not respond within 2 days; care replies within"
        " 24 hours."
    )
    assert dispute.model_dump(mode="json")["escalated_by"] == "system"
    assert dispute.tick(due + STEP) == []


@pytest.mark.parametrize(
    "answer", [Accept(actor=SELLER), offer(SELLER), appeal()], ids=["accept", "offer", "appeal"]
)
def test_a_seller_answer_just_before_or_as_the_window_closes_wins(answer: Command) -> None:
    """An answer a second before the deadline, or in the same instant before the timer is handled,
    stops the window: the system does nothing."""
    for at in (seller_response_due() - timedelta(seconds=1), seller_response_due()):
        dispute = drive_clocked()
        dispute.apply(answer, at)
        assert dispute.status is not DisputeStatus.IN_MEDIATION
        assert [e for e in dispute.tick(at) if isinstance(e, Escalated)] == []
        assert dispute.escalated_by is None


def test_a_seller_message_does_not_hold_off_the_system() -> None:
    """A message is no answer to the claim: the window keeps its deadline."""
    dispute = drive_clocked()
    dispute.apply(message(SELLER), seller_response_due() - timedelta(minutes=1))
    assert [type(e) for e in dispute.tick(seller_response_due())] == [Escalated]


def exchange_agreed() -> Dispute:
    return drive_clocked(Accept(actor=SELLER), solution=EXCHANGE)


def test_shipment_windows_follow_whoever_must_ship() -> None:
    """The buyer's return window opens at the agreement, the seller's at the return, then the
    buyer's receipt window at the replacement's shipment."""
    dispute = exchange_agreed()
    agreed = T0 + STEP
    assert dispute.deadlines == [
        Deadline(party=Role.BUYER, action="ship", due_at=agreed + SHIPMENT, then=Then.ESCALATED)
    ]
    dispute.apply(ship(BUYER), agreed + timedelta(days=1))
    assert dispute.deadlines == [
        Deadline(
            party=Role.SELLER,
            action="ship",
            due_at=agreed + timedelta(days=1) + SHIPMENT,
            then=Then.ESCALATED,
        )
    ]
    shipped = agreed + timedelta(days=2)
    dispute.apply(ship(SELLER), shipped)
    assert dispute.deadlines == [
        Deadline(
            party=Role.BUYER, action="confirm_receipt", due_at=shipped + RECEIPT, then=Then.RECEIPT_CONFIRMED
        )
    ]
    dispute.apply(ConfirmReceipt(actor=BUYER), shipped + STEP)
    assert dispute.window is None


@pytest.mark.parametrize(
    ("steps", "shipper"), [((), "buyer"), ((ship(BUYER),), "seller")], ids=["return", "replacement"]
)
def test_a_shipment_not_made_in_time_goes_to_care(steps: tuple[Command, ...], shipper: str) -> None:
    """When the shipment window passes, care takes over (escalated by the system)."""
    dispute = exchange_agreed()
    for step in steps:
        dispute.apply(step, after(dispute))
    assert dispute.window is not None
    happened = dispute.tick(dispute.window.due_at)
    assert happened == [
        Escalated(by="system", reason=f"the {shipper} did not ship within 3d", window="shipment")
    ]
    assert dispute.status is DisputeStatus.IN_MEDIATION


def remaining_shipped() -> Dispute:
    return drive_clocked(Accept(actor=SELLER), ship(SELLER), solution=SEND_REMAINING)


def test_receipt_not_confirmed_in_time_is_confirmed_by_the_system() -> None:
    """The buyer neither confirms nor raises a problem: receipt is confirmed for it and the order
    total is released, exactly as the buyer's own confirmation would."""
    dispute = remaining_shipped()
    assert dispute.window is not None
    due = dispute.window.due_at
    assert [type(e) for e in dispute.tick(due - timedelta(seconds=1))] == [Reminded]
    happened = dispute.tick(due)
    reason = "the buyer neither confirmed receipt nor raised a problem within 3d"
    assert happened == [ReceiptConfirmed(reason=reason), SettlementDue()]
    assert (dispute.received_at, dispute.settling, dispute.deadlines) == (due, True, [])
    assert dispute.settlement() == [release(TOTAL)]
    assert dispute.timeline[-1].event == "receipt_confirmed"
    follows = consequences(dispute, happened)
    assert said(follows.notices) == to_both(
        f"Receipt on dispute d-1 was confirmed by the system: {reason.replace('3d', '3 days')}. The funds are"
        " released to the"
        " seller as agreed."
    )
    assert follows.published == [EventType.DISPUTE_UPDATED]
    assert dispute.tick(due + STEP) == []  # once


def test_a_buyer_message_about_the_delivery_sends_it_to_care_instead() -> None:
    """A buyer who writes while its receipt is awaited has raised a problem: when the window
    passes care takes over instead of the funds being released; ``help`` takes it there at once."""
    dispute = remaining_shipped()
    dispute.apply(message(BUYER, "only half of it arrived"), after(dispute))
    assert dispute.receipt_problem
    assert dispute.deadlines[0].then is Then.ESCALATED
    assert dispute.window is not None
    happened = dispute.tick(dispute.window.due_at)
    assert happened == [
        Escalated(by="system", reason="the buyer raised a problem with the delivery", window="receipt")
    ]
    assert dispute.received_at is None and not dispute.settling
    helped = remaining_shipped()
    assert HELP in helped.allowed_actions[Role.BUYER]
    assert helped.apply(ask_help(BUYER), after(helped))[1] == Escalated(by="buyer")
    assert helped.status is DisputeStatus.IN_MEDIATION


def test_a_confirmation_racing_the_receipt_timer_is_the_buyers() -> None:
    """The buyer's confirmation in the same instant as the window closing is recorded as the
    buyer's, and the system confirms nothing."""
    dispute = remaining_shipped()
    assert dispute.window is not None
    due = dispute.window.due_at
    assert dispute.apply(ConfirmReceipt(actor=BUYER), due)[-1] == SettlementDue()
    assert dispute.tick(due) == []
    assert dispute.timeline[-1].event == CONFIRM


# -- the care decision target --------------------------------------------------------------------


def clocked_mediation() -> tuple[Dispute, datetime]:
    dispute = drive_clocked(offer(SELLER), ask_help(BUYER))
    assert dispute.escalated_at is not None
    return dispute, dispute.escalated_at


def test_escalation_starts_the_decision_target() -> None:
    """Care owes a decision by the target, warned before; both targets show as deadlines."""
    dispute, escalated = clocked_mediation()
    assert dispute.decision_clock is not None
    assert dispute.decision_clock.target is CareTarget.DECISION
    assert dispute.care_decision_due_at == escalated + DECISION_TARGET
    assert dispute.deadlines == [
        Deadline(party=Role.CARE, action="reply", due_at=escalated + TARGET, then=Then.TARGET_BREACHED),
        Deadline(
            party=Role.CARE, action="decide", due_at=escalated + DECISION_TARGET, then=Then.TARGET_BREACHED
        ),
    ]
    dispute.apply(CareReply(actor=CARE, text="looking"), escalated + STEP)
    assert dispute.next_deadline() == (escalated + DECISION_WARNING, DeadlineEvent.CARE_DECISION_WARNING)
    assert "**Care decision due** 2026-01-04 02:00 UTC" in current_details(dispute)


def test_a_missed_decision_target_warns_then_breaches_like_the_reply_target() -> None:
    """The decision target warns once, then its breach is recorded (SlaBreached) and escalated."""
    dispute, escalated = clocked_mediation()
    dispute.apply(CareReply(actor=CARE, text="looking"), escalated + STEP)
    due = escalated + DECISION_TARGET
    warning = CareReplyDue(due_at=due, started_at=escalated, breached=False, target=CareTarget.DECISION)
    assert dispute.tick(escalated + DECISION_WARNING) == [warning]
    assert dispute.tick(escalated + DECISION_WARNING + STEP) == []
    breach = CareReplyDue(due_at=due, started_at=escalated, breached=True, target=CareTarget.DECISION)
    assert dispute.tick(due) == [breach]
    assert (dispute.sla_breached, dispute.sla_breaches) == (True, 1)
    assert [e.event for e in dispute.timeline[-2:]] == ["care_decision_warning", "care_decision_breached"]
    follows = consequences(dispute, [warning, breach])
    assert follows.care_alerts == [warning, breach]
    assert follows.published == [EventType.CARE_DECISION_WARNING, EventType.CARE_DECISION_BREACHED]
    assert dispute.deadlines == []  # both targets passed; care can still decide
    assert "**Care decision overdue since** 2026-01-04 02:00 UTC" in current_details(dispute)
    dispute.apply(decide(), due + STEP)
    assert (dispute.decision_clock, dispute.status) == (None, DisputeStatus.DECIDED)


# -- one appeal of care's decision ---------------------------------------------------------------


def decided() -> tuple[Dispute, datetime]:
    dispute, escalated = clocked_mediation()
    at = escalated + STEP
    happened = dispute.apply(decide(), at)
    assert happened == [
        Acted(actor=CARE, action=DECIDE),
        Decided(solution=PARTIAL_REFUND, note="evidence supports the buyer", appeal_until=at + APPEAL_WINDOW),
    ]
    return dispute, at


def test_a_decision_waits_for_its_appeal_window() -> None:
    """Care's decision is recorded but nothing is paid while either party may still appeal it."""
    dispute, at = decided()
    assert dispute.status is DisputeStatus.DECIDED
    assert (dispute.agreed_solution, dispute.decided_by, dispute.settling) == (PARTIAL_REFUND, "care", False)
    assert dispute.settlement() is None
    assert (dispute.care_clock, dispute.decision_clock) == (None, None)
    due = at + APPEAL_WINDOW
    assert dispute.deadlines == [
        Deadline(party=Role.BUYER, action="appeal_decision", due_at=due, then=Then.DECISION_CARRIED_OUT),
        Deadline(party=Role.SELLER, action="appeal_decision", due_at=due, then=Then.DECISION_CARRIED_OUT),
    ]
    assert dispute.next_deadline() == (due, DeadlineEvent.DECISION_APPEAL_OVER)  # no reminder: a choice
    notice = consequences(dispute, [Decided(solution=PARTIAL_REFUND, note="", appeal_until=due)]).notices[0]
    assert render(notice.template, notice.params, Locale.EN) == (
        "Care decided dispute d-1: a refund of Rp150,000 to the buyer. Either party may appeal this decision"
        " once until 3 Jan 2026, 03:00 UTC; it is carried out then unless appealed, or as soon as both"
        " parties accept it."
    )
    assert notice.text == (  # what the parties read: Indonesian, as they named no locale
        "Tokopedia Care memutuskan solusi untuk komplain d-1: pengembalian dana Rp150.000 ke pembeli. Kamu"
        " bisa Ajukan Banding atas keputusan ini satu kali sampai 3 Jan 2026 pukul 03.00 UTC. Setelah itu"
        " keputusan dijalankan, kecuali ada banding, atau lebih cepat jika kedua pihak sudah menerimanya."
    )


def test_the_window_passing_carries_the_decision_out() -> None:
    """No appeal in the window: the decision is final and settles."""
    dispute, at = decided()
    assert dispute.tick(at + APPEAL_WINDOW - timedelta(seconds=1)) == []
    happened = dispute.tick(at + APPEAL_WINDOW)
    assert happened == [DecisionFinal(reason="no appeal within 2d"), SettlementDue()]
    assert (dispute.status, dispute.settling) == (DisputeStatus.AWAITING_FULFILMENT, True)
    assert dispute.timeline[-1].event == "decision_final"
    with pytest.raises(InvalidTransition):
        dispute.check(appeal_decision(SELLER), at + APPEAL_WINDOW + STEP)
    assert said(consequences(dispute, happened).notices) == to_both(
        "Care's decision on dispute d-1 is final (no appeal within 2 days): a refund of Rp150,000 to the"
        " buyer."
    )
    settle(dispute)
    assert dispute.outcome is not None and dispute.outcome.decided_by == "care"


def test_both_parties_accepting_settles_at_once() -> None:
    """When both parties accept the decision it is carried out without waiting for the window."""
    dispute, at = decided()
    assert dispute.apply(Accept(actor=SELLER), at + STEP) == [Acted(actor=SELLER, action=ACCEPT)]
    assert dispute.decision_accepted_by == [Role.SELLER]
    assert [d.party for d in dispute.deadlines] == [Role.BUYER]
    happened = dispute.apply(Accept(actor=BUYER), at + 2 * STEP)
    assert happened == [
        Acted(actor=BUYER, action=ACCEPT),
        DecisionFinal(reason="both parties accepted it"),
        SettlementDue(),
    ]
    assert dispute.status is DisputeStatus.AWAITING_FULFILMENT
    assert consequences(dispute, happened).published == [EventType.DISPUTE_UPDATED]


@pytest.mark.parametrize("party", [BUYER, SELLER], ids=["buyer", "seller"])
def test_either_party_may_appeal_once_within_the_window(party: Actor) -> None:
    """An appeal goes to a supervisor with its own reply target; nobody may appeal again."""
    dispute, at = decided()
    appealed = at + APPEAL_WINDOW - timedelta(seconds=1)
    happened = dispute.apply(appeal_decision(party), appealed)
    review_due = appealed + TARGET
    assert happened == [
        Acted(actor=party, action=APPEAL_DECISION),
        DecisionAppealed(by=party.role, review_due_at=review_due),
    ]
    assert dispute.status is DisputeStatus.DECISION_APPEALED
    assert (
        dispute.decision_appeal is not None and dispute.decision_appeal.reason == "the photos show the damage"
    )
    assert dispute.care_clock is not None and dispute.care_clock.target is CareTarget.REVIEW
    assert dispute.deadlines == [
        Deadline(
            party=Role.SUPERVISOR, action="review_decision", due_at=review_due, then=Then.TARGET_BREACHED
        )
    ]
    assert dispute.tick(at + APPEAL_WINDOW) == []  # the window no longer runs
    follows = consequences(dispute, happened)
    assert follows.published == [EventType.DISPUTE_UPDATED, EventType.DISPUTE_DECISION_APPEALED]
    assert said(follows.notices)[-2:] == to_both(
        f"The {party.role.value} appealed care's decision on dispute d-1; a care supervisor confirms or"
        " replaces it by 4 Jan 2026, 02:59 UTC."
    )
    for anyone in (BUYER, SELLER):
        with pytest.raises(InvalidTransition):
            dispute.check(appeal_decision(anyone), appealed + STEP)


def test_a_party_who_accepted_may_not_appeal() -> None:
    """Accepting the decision gives up the appeal."""
    dispute, at = decided()
    dispute.apply(Accept(actor=BUYER), at + STEP)
    with pytest.raises(InvalidTransition):
        dispute.check(appeal_decision(BUYER), at + 2 * STEP)


def test_the_supervisor_confirms_or_replaces_the_decision() -> None:
    """Confirmed, the decision is carried out as care's; replaced, the new one as the supervisor's."""
    dispute, at = decided()
    dispute.apply(appeal_decision(SELLER), at + STEP)
    confirmed = dispute.apply(confirm_decision(), at + 2 * STEP)
    assert confirmed == [
        Acted(actor=SUPERVISOR, action=CONFIRM_DECISION),
        DecisionReviewed(confirmed=True, solution=PARTIAL_REFUND, note="the decision stands"),
        SettlementDue(),
    ]
    assert (dispute.decided_by, dispute.care_clock, dispute.status) == (
        "care",
        None,
        DisputeStatus.AWAITING_FULFILMENT,
    )
    assert said(consequences(dispute, confirmed).notices)[-2:] == to_both(
        "A care supervisor confirmed the decision on dispute d-1: a refund of Rp150,000 to the buyer."
        " the decision stands",
        NoticeCategory.CARE_REPLY,
    )
    replaced, at = decided()
    replaced.apply(appeal_decision(BUYER), at + STEP)
    happened = replaced.apply(replace_decision(), at + 2 * STEP)
    assert happened[1] == DecisionReviewed(confirmed=False, solution=FULL_REFUND, note="the courier lost it")
    assert (replaced.agreed_solution, replaced.decided_by) == (FULL_REFUND, "supervisor")
    assert settle(replaced) == [refund(TOTAL)]
    assert replaced.outcome is not None and replaced.outcome.decided_by == "supervisor"


def test_a_missed_review_target_is_breached_like_a_reply() -> None:
    """The supervisor's review has a reply target of its own, with warning and breach."""
    dispute, at = decided()
    appealed = at + STEP
    dispute.apply(appeal_decision(SELLER), appealed)
    due = appealed + TARGET
    happened = dispute.tick(due)
    assert happened == [
        CareReplyDue(due_at=due, started_at=appealed, breached=False, target=CareTarget.REVIEW),
        CareReplyDue(due_at=due, started_at=appealed, breached=True, target=CareTarget.REVIEW),
    ]
    assert dispute.sla_breached
    assert [e.event for e in dispute.timeline[-2:]] == ["appeal_review_warning", "appeal_review_breached"]
    dispute.check(confirm_decision(), due + STEP)  # a breach never loses the case


def test_a_later_decision_after_an_appeal_is_final_at_once() -> None:
    """One appeal per dispute: once used, a later decision (after care takes over again) settles."""
    dispute, at = decided()
    dispute.apply(appeal_decision(BUYER), at + STEP)
    dispute.apply(replace_decision(SEND_REMAINING), at + 2 * STEP)
    assert dispute.window is not None and dispute.window.kind is WindowKind.SHIPMENT
    dispute.tick(dispute.window.due_at)
    assert dispute.status is DisputeStatus.IN_MEDIATION
    happened = dispute.apply(decide(FULL_REFUND), after(dispute))
    assert happened[1] == Decided(solution=FULL_REFUND, note="evidence supports the buyer")
    assert (dispute.status, dispute.settling) == (DisputeStatus.AWAITING_FULFILMENT, True)


# -- reminders -----------------------------------------------------------------------------------


def test_the_seller_is_reminded_once_before_its_window_closes() -> None:
    """One notice, ``reminder_lead`` before the window closes; not again for the same window."""
    dispute = drive_clocked()
    at = seller_response_due() - LEAD
    assert dispute.tick(at - timedelta(seconds=1)) == []
    deadline = Deadline(
        party=Role.SELLER, action="respond", due_at=seller_response_due(), then=Then.ESCALATED
    )
    happened = dispute.tick(at)
    assert happened == [Reminded(deadline=deadline)]
    assert dispute.reminded_for == seller_response_due()
    assert dispute.timeline[-1].event == "reminder_sent"
    assert dispute.tick(at + STEP) == []
    assert dispute.next_deadline() == (seller_response_due(), DeadlineEvent.SELLER_RESPONSE_DUE)
    follows = consequences(dispute, happened)
    assert said(follows.notices) == [
        to(
            SELLER,
            "Please respond (accept, offer another solution or appeal) on dispute d-1 by"
            " 3 Jan 2026, 00:00 UTC, or care takes over.",
        )
    ]
    assert follows.published == []


@pytest.mark.parametrize(
    ("build", "party", "text"),
    [
        (
            lambda: drive_clocked(offer(SELLER)),
            BUYER,
            "Please respond on dispute d-1 by 4 Jan 2026, 01:00 UTC, or the seller may ask care to mediate.",
        ),
        (
            exchange_agreed,
            BUYER,
            "Please ship and send the tracking number on dispute d-1 by 4 Jan 2026, 01:00 UTC,"
            " or care takes over.",
        ),
        (
            remaining_shipped,
            BUYER,
            "Please confirm receipt on dispute d-1, or raise a problem, by 4 Jan 2026, 02:00 UTC; after that"
            " receipt is confirmed for you and the funds are released to the seller.",
        ),
    ],
    ids=["buyer-turn", "return-shipment", "receipt"],
)
def test_each_partys_window_has_its_reminder(build: Callable[[], Dispute], party: Actor, text: str) -> None:
    """The party whose window runs is told by when, and what happens otherwise."""
    dispute = build()
    reminder = dispute.next_reminder()
    assert reminder is not None
    happened = dispute.tick(reminder[0])
    assert [type(e) for e in happened] == [Reminded]
    assert said(consequences(dispute, happened).notices) == [to(party, text)]


def test_a_restarted_window_is_reminded_again_and_a_short_one_not_at_all() -> None:
    """A buyer message restarts its turn: a new window, a new reminder. A window no longer than
    the lead has no reminder."""
    dispute = drive_clocked(offer(SELLER))
    reminder = dispute.next_reminder()
    assert reminder is not None
    dispute.tick(reminder[0])
    dispute.apply(message(BUYER), reminder[0] + STEP)
    again = dispute.next_reminder()
    assert again is not None and again[0] == reminder[0] + STEP + INACTIVITY - LEAD
    short = drive_dispute_with(reminder_lead=SELLER_RESPONSE)
    assert short.next_reminder() is None


def test_a_window_that_closes_before_its_reminder_is_looked_at_only_acts() -> None:
    """A late tick does not remind a party whose window has already closed."""
    dispute = drive_clocked()
    assert [type(e) for e in dispute.tick(seller_response_due() + STEP)] == [Escalated]


def drive_dispute_with(**policy: Any) -> Dispute:
    """A dispute opened under the clocked policy with ``policy`` changed."""
    return drive(policy=CLOCKED_POLICY.model_copy(update=policy))


def test_deadline_words_for_the_new_clocks() -> None:
    """Timer summaries and on-call's words for the clocks that act."""
    dispute = drive_clocked()
    assert deadline_name(dispute, DeadlineEvent.SELLER_RESPONSE_DUE) == "seller response window 2d"
    assert deadline_effect(dispute, DeadlineEvent.SELLER_RESPONSE_DUE) == (
        "care takes over (escalated by the system)"
    )
    assert deadline_name(dispute, DeadlineEvent.REMINDER) == "reminder to the seller"
    assert deadline_effect(dispute, DeadlineEvent.REMINDER) == (
        "the seller is reminded to respond by 2026-01-03 00:00 UTC"
    )
    shown = current_details(dispute).split("\n\n")
    assert shown[-1] == (
        "**Next deadline:** 2026-01-02 00:00 UTC (reminder to the seller): the seller is reminded to"
        " respond by 2026-01-03 00:00 UTC"
    )
    appealed, at = decided()
    assert current_details(appealed).split("\n\n")[4:] == [
        "**Waiting for:** the parties: accept care's decision or appeal it once",
        "**Next deadline:** 2026-01-03 03:00 UTC (decision appeal window 2d): care's decision is final and"
        " carried out",
    ]
    appealed.apply(appeal_decision(BUYER), at + STEP)
    assert deadline_name(appealed, DeadlineEvent.APPEAL_REVIEW_BREACHED) == "supervisor review target"
    assert "a care supervisor: confirm or replace" in current_details(appealed)
    assert dispute_details(dispute_request(policy=CLOCKED_POLICY)).endswith(
        "· seller response 2d · shipment 3d · receipt 3d · care decision target 3d"
        " · decision appeal window 2d · reminders 24h"
    )


def test_the_decision_warning_comes_before_the_decision_target() -> None:
    """A policy whose decision warning is not before its target is refused."""
    with pytest.raises(ValidationError, match="care_decision_warning must be positive"):
        DisputePolicy(care_decision_target=timedelta(days=1), care_decision_warning=timedelta(days=2))


# -- input validation --------------------------------------------------------------------------


def test_valid_request_opens_a_dispute() -> None:
    """A valid request opens AWAITING_SELLER with the request's fields and policy."""
    dispute = Dispute.open("d-1", dispute_request(), T0)
    assert dispute.status is DisputeStatus.AWAITING_SELLER
    assert (dispute.order_id, dispute.buyer_id, dispute.seller_id) == ("o-1", "b-1", "s-1")
    assert dispute.requested_solution == PARTIAL_REFUND
    assert dispute.policy == DISPUTE_POLICY
    assert (dispute.opened_at, dispute.message_count, dispute.settling) == (T0, 0, False)
    opened = dispute.timeline[0]
    assert [entry.event for entry in dispute.timeline] == ["opened"]
    assert (opened.seq, opened.actor, opened.at) == (1, BUYER, T0)
    assert opened.detail["description"] == DESCRIPTION


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"kind": SolutionKind.REFUND_TO_BUYER}, "amount is required for REFUND_TO_BUYER"),
        ({"kind": SolutionKind.EXCHANGE, "amount": 1}, "amount is only allowed for REFUND_TO_BUYER"),
        ({"kind": SolutionKind.RELEASE_TO_SELLER, "amount": 1}, "amount is only allowed"),
        ({"kind": SolutionKind.REFUND_TO_BUYER, "amount": 0}, "greater than 0"),
        ({"kind": "VOUCHER"}, "kind"),
    ],
    ids=["refund-without-amount", "amount-on-exchange", "amount-on-release", "zero-amount", "unknown-kind"],
)
def test_invalid_solution(fields: dict[str, Any], error: str) -> None:
    """Only a refund carries an amount, and it is positive."""
    with pytest.raises(ValidationError, match=error):
        Solution(**fields)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"requested_solution": TOO_MUCH}, "above order_total"),
        ({"seller_id": BUYER.id}, "buyer_id and seller_id must differ"),
        ({"order_total": 0}, "greater than 0"),
        ({"order_total": 10**15 + 1}, "less than or equal to"),
        ({"order_id": "o 1"}, "order_id"),
        ({"buyer_id": "b/1"}, "buyer_id"),
        ({"seller_id": "-s"}, "seller_id"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "o" * 65}, "order_id"),
        ({"description": ""}, "description"),
        ({"status": "RESOLVED"}, "Extra inputs are not permitted"),
    ],
    ids=[
        "refund-above-total",
        "buyer-is-seller",
        "zero-total",
        "total-too-large",
        "space-in-id",
        "slash-in-id",
        "leading-dash",
        "empty-id",
        "id-too-long",
        "empty-description",
        "unknown-field",
    ],
)
def test_invalid_open_request(overrides: dict[str, Any], error: str) -> None:
    """OpenDisputeInput refuses what no dispute may be opened with."""
    with pytest.raises(ValidationError, match=error):
        dispute_request(**overrides)


def test_refund_of_exactly_the_total_may_be_requested() -> None:
    """The order total itself is a valid requested refund; a 64-character id is valid."""
    assert dispute_request(FULL_REFUND, order_id="o" * 64).requested_solution.amount == TOTAL


@pytest.mark.parametrize(
    "build",
    [
        lambda: Actor(role=Role.BUYER, id="b 1"),
        lambda: Ship(actor=SELLER, tracking_number="JNE 0001", carrier="jne"),
        lambda: Ship(actor=SELLER, tracking_number="JNE-0001", carrier="jne/express"),
    ],
    ids=["actor-id", "tracking-number", "carrier"],
)
def test_bad_identifier_characters_in_commands(build: Callable[[], object]) -> None:
    """Actor ids and tracking numbers follow the same identifier rule."""
    with pytest.raises(ValidationError, match="should match pattern"):
        build()


def test_commands_refuse_unknown_fields() -> None:
    """A command with a field it does not have is refused, not ignored."""
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        SendMessage.model_validate({"actor": BUYER.model_dump(), "text": "hi", "amount": 5})


@pytest.mark.parametrize(
    ("warning", "target"),
    [(TARGET, TARGET), (TARGET + STEP, TARGET), (timedelta(0), TARGET)],
    ids=["warning-equals-target", "warning-after-target", "zero-warning"],
)
def test_policy_warning_must_come_before_target(warning: timedelta, target: timedelta) -> None:
    """DisputePolicy refuses a warning that is not strictly between zero and the target."""
    with pytest.raises(ValidationError, match="care_reply_warning must be positive and shorter"):
        DisputePolicy(care_reply_warning=warning, care_reply_target=target)


def test_default_policy_is_the_seed() -> None:
    """The defaults are the seed's 3 days and 1x24 hours."""
    policy = DisputePolicy()
    assert policy.turn_inactivity == timedelta(days=3)
    assert policy.care_reply_target == timedelta(hours=24)
    assert policy.care_reply_warning < policy.care_reply_target


# -- refused commands change nothing -----------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "refused", "error"),
    [
        ((), Accept(actor=BUYER), InvalidTransition),
        ((), RequestHelp(actor=SELLER), InvalidTransition),
        ((offer(SELLER),), RequestHelp(actor=SELLER), InvalidTransition),
        ((offer(SELLER), ask_help(BUYER)), Cancel(actor=BUYER), InvalidTransition),
        ((command(CANCEL, BUYER),), message(BUYER), InvalidTransition),
        ((), message(Actor(role=Role.SELLER, id="s-2")), NotAParty),
        ((), UserMessage(actor=HELP_CENTER_USER, text="hi"), NotAParty),
        ((), offer(SELLER, TOO_MUCH), InvalidInput),
        ((offer(SELLER), ask_help(BUYER)), decide(TOO_MUCH), InvalidInput),
    ],
    ids=[
        "buyer-accepts-own",
        "seller-help-early",
        "seller-help-awaiting-buyer",
        "cancel-in-mediation",
        "message-after-cancel",
        "stranger",
        "help-center-user",
        "offer-above-total",
        "decision-above-total",
    ],
)
def test_refused_command_changes_nothing(
    steps: tuple[Command, ...], refused: Command, error: type[Exception]
) -> None:
    """apply() of a refused command raises and leaves the whole state as it was."""
    dispute = drive(*steps)
    before = dispute.model_dump()
    with pytest.raises(error):
        dispute.apply(refused, after(dispute))
    assert dispute.model_dump() == before


# -- issue 20: return and refund, deliveries ---------------------------------------------------


def test_a_dispute_opened_before_returns_refuses_a_return_and_refund() -> None:
    """A policy without the inspection window is a dispute opened before returns: it keeps its rules."""
    dispute = drive()
    with pytest.raises(InvalidInput, match="opened before RETURN_AND_REFUND existed"):
        dispute.check(offer(SELLER, RETURN_AND_REFUND), after(dispute))
    returns = drive_returns(solution=PARTIAL_REFUND)
    returns.check(offer(SELLER, RETURN_AND_REFUND), after(returns))


def test_a_return_and_refund_is_at_most_the_order_total_and_needs_an_amount() -> None:
    with pytest.raises(ValidationError, match="amount is required"):
        Solution(kind=SolutionKind.RETURN_AND_REFUND)
    dispute = drive_returns(solution=PARTIAL_REFUND)
    too_much = Solution(kind=SolutionKind.RETURN_AND_REFUND, amount=TOTAL + 1)
    with pytest.raises(InvalidInput, match="above the order total"):
        dispute.check(offer(SELLER, too_much), after(dispute))


def test_a_confirmed_return_settles_as_a_refund_and_the_rest_released() -> None:
    dispute = drive_returns(Accept(actor=SELLER), ship(BUYER))
    assert dispute.settlement() is None  # in transit
    delivered(dispute)
    assert dispute.settlement() is None  # being inspected
    happened = dispute.apply(confirm_return(), after(dispute))
    assert SettlementDue() in happened
    assert settle(dispute) == [refund(180_000), release(20_000)]


def test_a_delivery_is_recorded_once_and_an_unknown_or_future_one_refused() -> None:
    dispute = drive_returns(Accept(actor=SELLER), ship(BUYER))
    seq = dispute.timeline_seq
    with pytest.raises(UnknownShipment):
        delivered(dispute, "JNE-NOPE")
    with pytest.raises(InvalidInput, match="delivered_at"):
        delivered(dispute, at=after(dispute) + timedelta(hours=1))
    assert dispute.timeline_seq == seq
    assert delivered(dispute) != []
    assert delivered(dispute) == []
    assert [e.event for e in dispute.timeline].count("delivered") == 1


def test_the_inspection_window_counts_from_delivery_not_from_its_report() -> None:
    dispute = drive_returns(Accept(actor=SELLER), ship(BUYER))
    reported = after(dispute) + timedelta(hours=6)
    delivered_at = reported - timedelta(hours=5)
    dispute.record_delivery(Delivered(tracking_number="JNE-0001", delivered_at=delivered_at), reported)
    [inspection] = dispute.deadlines
    assert (inspection.due_at, inspection.then) == (delivered_at + INSPECTION, Then.RETURN_CONFIRMED)


def test_a_return_in_transit_goes_to_care_when_no_delivery_comes() -> None:
    """Every waiting state has a clock: a return shipped back and never reported delivered goes to
    care (escalated by the system) once the transit window closes; nobody is reminded of it."""
    dispute = drive_returns(Accept(actor=SELLER), ship(BUYER))
    shipped_at = dispute.shipments[-1].at
    due = shipped_at + TRANSIT
    assert dispute.deadlines == [
        Deadline(party=Role.BUYER, action="return_delivered", due_at=due, then=Then.ESCALATED)
    ]
    assert dispute.next_deadline() == (due, DeadlineEvent.RETURN_TRANSIT_DUE)
    assert dispute.next_reminder() is None
    assert deadline_name(dispute, DeadlineEvent.RETURN_TRANSIT_DUE) == "return transit window 14d"
    assert (
        deadline_effect(dispute, DeadlineEvent.RETURN_TRANSIT_DUE)
        == "care takes over (escalated by the system)"
    )
    assert dispute.tick(due - timedelta(seconds=1)) == []
    reason = "the returned item was not delivered within 14d"
    happened = dispute.tick(due)
    assert happened == [Escalated(by="system", reason=reason, window="return_transit")]
    assert (dispute.status, dispute.escalated_by, dispute.window) == (
        DisputeStatus.IN_MEDIATION,
        "system",
        None,
    )
    assert (dispute.timeline[-1].event, dispute.timeline[-1].detail) == (
        "escalated",
        {"by": "system", "reason": reason},
    )
    told = consequences(dispute, happened)
    assert told.published == [EventType.DISPUTE_ESCALATED] and told.effects == [EffectName.MEDIATION_OPENED]
    assert [(n.party, n.template, n.params["waited"]) for n in told.notices] == [
        (Role.BUYER, "dispute.escalated.return_transit", "P14D"),
        (Role.SELLER, "dispute.escalated.return_transit", "P14D"),
    ]
    assert told.notices[0].text.startswith(
        "Barang retur untuk komplain d-1 belum sampai di penjual dalam 14 hari"
    )
    assert said(told.notices)[0].text == (
        "Dispute d-1 is now mediated by care: the returned item was not delivered within 14 days of its"
        " shipping; care replies within 24 hours."
    )


def test_a_delivery_ends_the_transit_clock_and_starts_the_inspection() -> None:
    dispute = drive_returns(Accept(actor=SELLER), ship(BUYER))
    delivered(dispute)
    [inspection] = dispute.deadlines
    assert (inspection.action, inspection.then) == ("confirm_return", Then.RETURN_CONFIRMED)
    assert inspection.due_at is not None
    assert dispute.next_deadline() == (inspection.due_at - LEAD, DeadlineEvent.REMINDER)  # the seller's


def test_a_dispute_opened_before_the_transit_window_keeps_its_return_without_a_clock() -> None:
    old = RETURNS_POLICY.model_copy(update={"return_transit_window": None})
    dispute = drive(Accept(actor=SELLER), ship(BUYER), solution=RETURN_AND_REFUND, policy=old)
    assert dispute.return_in_transit()
    assert (dispute.deadlines, dispute.next_deadline()) == ([], None)
    assert DisputePolicy.model_validate(old.model_dump(exclude={"return_transit_window"})) == old


def test_a_replaced_decision_is_no_return() -> None:
    dispute = drive_returns(Accept(actor=SELLER), solution=PARTIAL_REFUND)
    park(dispute, "refund_to_buyer", REFUND_KEY)
    with pytest.raises(InvalidInput, match="goods have moved"):
        dispute.check(redecide(RETURN_AND_REFUND), after(dispute))
