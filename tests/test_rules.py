"""The pure dispute rules with plain objects: transitions, help, clocks, settlement, validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.case import DeadlineEvent
from domain.commands import (
    Accept,
    Action,
    Appeal,
    Cancel,
    CareReply,
    Command,
    ConfirmReceipt,
    Decide,
    MakeOffer,
    Reject,
    RequestHelp,
    SendMessage,
    Ship,
)
from domain.dispute import (
    Dispute,
    DisputeStatus,
    OpenDisputeInput,
    Payout,
    Reason,
)
from domain.errors import InvalidInput, InvalidTransition, NotAParty
from domain.types import Actor, DisputePolicy, Role, Solution, SolutionKind

# -- fixtures as plain values -----------------------------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(hours=1)
TOTAL = 200_000
INACTIVITY = timedelta(days=3)
TARGET = timedelta(hours=24)
WARNING = timedelta(hours=20)
POLICY = DisputePolicy(buyer_inactivity=INACTIVITY, care_reply_target=TARGET, care_reply_warning=WARNING)

BUYER = Actor(role=Role.BUYER, id="b-1")
SELLER = Actor(role=Role.SELLER, id="s-1")
CARE = Actor(role=Role.CARE, id="agent-7")
ACTORS = {Role.BUYER: BUYER, Role.SELLER: SELLER, Role.CARE: CARE}

FULL_REFUND = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=TOTAL)
PARTIAL_REFUND = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=150_000)
SMALL_REFUND = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=50_000)
RELEASE = Solution(kind=SolutionKind.RELEASE_TO_SELLER)
EXCHANGE = Solution(kind=SolutionKind.EXCHANGE)
SEND_REMAINING = Solution(kind=SolutionKind.SEND_REMAINING)
DISPUTE_ACTIONS = [action for action in Action if action is not Action.SOLVE]  # solve is a ticket's
TOO_MUCH = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=TOTAL + 1)


def request(solution: Solution = PARTIAL_REFUND, **overrides: Any) -> OpenDisputeInput:
    """A valid complaint for order o-1 (total 200,000) unless ``overrides`` say otherwise."""
    fields: dict[str, Any] = {
        "order_id": "o-1",
        "buyer_id": BUYER.id,
        "seller_id": SELLER.id,
        "order_total": TOTAL,
        "reason": Reason.DAMAGED,
        "requested_solution": solution,
        "description": "the screen arrived cracked",
        "evidence": ["blob:photo-1"],
        "policy": POLICY,
    }
    fields.update(overrides)
    return OpenDisputeInput(**fields)


def drive(*steps: Command, solution: Solution = PARTIAL_REFUND) -> Dispute:
    """Open a dispute at T0 asking for ``solution`` and apply ``steps`` one hour apart."""
    dispute = Dispute.open("d-1", request(solution), T0)
    for index, step in enumerate(steps, start=1):
        dispute.apply(step, T0 + index * STEP)
    return dispute


def after(dispute: Dispute) -> datetime:
    """A moment one minute after the dispute's last recorded event (before any deadline)."""
    return dispute.timeline[-1].at + timedelta(minutes=1)


def settle(dispute: Dispute) -> list[Payout]:
    """Carry out the dispute's settlement as the workflow does, and return the payouts."""
    payouts = dispute.settlement()
    assert payouts is not None
    dispute.settled(payouts, after(dispute))
    return payouts


def message(actor: Actor) -> SendMessage:
    return SendMessage(actor=actor, text="see the photo", evidence=["blob:photo-2"])


def offer(actor: Actor, solution: Solution = SMALL_REFUND) -> MakeOffer:
    return MakeOffer(actor=actor, solution=solution, note="how about this")


def ship(actor: Actor) -> Ship:
    return Ship(actor=actor, tracking_number="JNE-0001", carrier="jne")


def decide(solution: Solution = PARTIAL_REFUND) -> Decide:
    return Decide(actor=CARE, solution=solution, note="evidence supports the buyer")


COMMANDS: dict[Action, Callable[[Actor], Command]] = {
    Action.MESSAGE: message,
    Action.OFFER: offer,
    Action.ACCEPT: lambda actor: Accept(actor=actor),
    Action.REJECT: lambda actor: Reject(actor=actor, note="no"),
    Action.APPEAL: lambda actor: Appeal(actor=actor, reason="item was intact when shipped"),
    Action.HELP: lambda actor: RequestHelp(actor=actor, note="we cannot agree"),
    Action.CANCEL: lambda actor: Cancel(actor=actor, note="sorted it out"),
    Action.REPLY: lambda actor: CareReply(actor=actor, text="please send the unboxing video"),
    Action.DECIDE: lambda actor: Decide(actor=actor, solution=PARTIAL_REFUND),
    Action.SHIP: ship,
    Action.CONFIRM_RECEIPT: lambda actor: ConfirmReceipt(actor=actor),
}


def command(action: Action, actor: Actor) -> Command:
    """A valid command of ``action`` by ``actor`` (solutions within the order total)."""
    built = COMMANDS[action](actor)
    assert built.action is action
    return built


def allowed(
    buyer: list[Action] | None = None, seller: list[Action] | None = None, care: list[Action] | None = None
) -> dict[Role, list[Action]]:
    """An ``allowed_actions`` value, empty for every role not named."""
    return {Role.BUYER: buyer or [], Role.SELLER: seller or [], Role.CARE: care or []}


def as_details(expected: dict[Role, list[Action]]) -> dict[str, list[str]]:
    """``allowed_actions`` the way InvalidTransition reports it in its details."""
    return {role.value: [action.value for action in actions] for role, actions in expected.items()}


# -- the transition table (the spec) ----------------------------------------------------------

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


@dataclass(frozen=True)
class State:
    """A named state, how to reach it, and what each role may do there."""

    name: str
    status: DisputeStatus
    build: Callable[[], Dispute]
    allowed: dict[Role, list[Action]]


def _resolved() -> Dispute:
    dispute = drive(Accept(actor=SELLER))
    settle(dispute)
    return dispute


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
        lambda: drive(command(APPEAL, SELLER)),
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
        lambda: drive(offer(SELLER), command(HELP, BUYER)),
        allowed(buyer=[MSG], seller=[MSG], care=[REPLY, DECIDE]),
    ),
    State(
        "in_mediation_after_care_reply",
        DisputeStatus.IN_MEDIATION,
        lambda: drive(offer(SELLER), command(HELP, BUYER), command(REPLY, CARE)),
        allowed(buyer=[MSG], seller=[MSG], care=[REPLY, DECIDE]),
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
        lambda: drive(command(APPEAL, SELLER), Accept(actor=BUYER)),
        allowed(buyer=[MSG], seller=[MSG]),
    ),
    State(
        "fulfilment_decided_by_care",
        DisputeStatus.AWAITING_FULFILMENT,
        lambda: drive(offer(SELLER), command(HELP, BUYER), decide()),
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
    State("resolved", DisputeStatus.RESOLVED, _resolved, allowed()),
    State("cancelled", DisputeStatus.CANCELLED, lambda: drive(command(CANCEL, BUYER)), allowed()),
]


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.name)
def test_allowed_actions_per_state(state: State) -> None:
    """Each state reports exactly the allowed actions of the table."""
    dispute = state.build()
    assert dispute.status is state.status
    assert dispute.allowed_actions == state.allowed
    assert dispute.allowed_actions_at(after(dispute)) == state.allowed


@pytest.mark.parametrize("action", DISPUTE_ACTIONS, ids=str)
@pytest.mark.parametrize("role", [Role.BUYER, Role.SELLER, Role.CARE], ids=str)
@pytest.mark.parametrize("state", STATES, ids=lambda s: s.name)
def test_check_accepts_exactly_the_allowed_actions(state: State, role: Role, action: Action) -> None:
    """check() passes for an allowed action (and apply carries it out), else InvalidTransition."""
    dispute = state.build()
    cmd = command(action, ACTORS[role])
    now = after(dispute)
    if action in state.allowed[role]:
        dispute.check(cmd, now)
        dispute.apply(cmd, now)
        assert dispute.timeline[-1].event == action.value
        assert dispute.timeline[-1].actor == ACTORS[role]
        return
    with pytest.raises(InvalidTransition) as refused:
        dispute.check(cmd, now)
    assert refused.value.code == "InvalidTransition"
    assert refused.value.details["allowed_actions"] == as_details(state.allowed)
    assert state.status.value in refused.value.details.values()
    assert f"{role.value} may not {action.value}" in refused.value.message


@pytest.mark.parametrize("action", DISPUTE_ACTIONS, ids=str)
def test_a_help_center_user_is_no_party_to_a_dispute(action: Action) -> None:
    """The help-center ``user`` role cannot act on a dispute, even with the buyer's id."""
    with pytest.raises(NotAParty):
        drive().check(command(action, Actor(role=Role.USER, id=BUYER.id)), T0 + STEP)


def test_the_table_covers_every_status() -> None:
    """The table reaches every status and every solution kind in fulfilment."""
    assert {state.status for state in STATES} == set(DisputeStatus)
    fulfilled = {s.build().agreed_solution for s in STATES if s.status is DisputeStatus.AWAITING_FULFILMENT}
    assert {solution.kind for solution in fulfilled if solution} == set(SolutionKind)


# -- parties and amounts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "stranger",
    [
        Actor(role=Role.BUYER, id="b-2"),
        Actor(role=Role.SELLER, id="s-2"),
        Actor(role=Role.BUYER, id=SELLER.id),
        Actor(role=Role.SELLER, id=BUYER.id),
    ],
    ids=["other-buyer", "other-seller", "seller-as-buyer", "buyer-as-seller"],
)
@pytest.mark.parametrize("action", [MSG, OFFER, ACCEPT, CANCEL, HELP], ids=str)
def test_not_a_party(stranger: Actor, action: Action) -> None:
    """A buyer or seller id that is not the dispute's own is refused as NotAParty."""
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
    dispute = drive(offer(SELLER), command(HELP, BUYER))
    dispute.check(CareReply(actor=Actor(role=Role.CARE, id="agent-99"), text="hello"), after(dispute))


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        ((), offer(SELLER, TOO_MUCH)),
        ((), offer(BUYER, TOO_MUCH)),
        ((offer(SELLER),), offer(BUYER, TOO_MUCH)),
        ((offer(SELLER), command(HELP, BUYER)), decide(TOO_MUCH)),
    ],
    ids=["seller-offer", "buyer-revision", "buyer-counter", "care-decision"],
)
def test_solution_above_order_total_is_invalid_input(steps: tuple[Command, ...], refused: Command) -> None:
    """An offer or a decision refunding more than the order total is InvalidInput."""
    dispute = drive(*steps)
    with pytest.raises(InvalidInput) as error:
        dispute.check(refused, after(dispute))
    assert error.value.details == {
        "errors": [{"field": "solution.amount", "reason": f"{TOTAL + 1} is above the order total {TOTAL}"}]
    }


def test_solution_of_exactly_the_order_total_is_accepted() -> None:
    """A refund of the whole order total is within the limit (offer and decision)."""
    dispute = drive(offer(SELLER, FULL_REFUND), command(HELP, BUYER))
    dispute.apply(decide(FULL_REFUND), after(dispute))
    assert dispute.agreed_solution == FULL_REFUND


# -- the help rule and the turn clock ----------------------------------------------------------


def test_buyer_may_ask_help_after_seller_offer_or_appeal() -> None:
    """A seller offer or appeal earns the buyer the right to ask for help."""
    for step in (offer(SELLER), command(APPEAL, SELLER)):
        dispute = drive(step)
        assert dispute.help_earned == [Role.BUYER]
        assert dispute.may_request_help(Role.BUYER)
        assert not dispute.may_request_help(Role.SELLER)
        dispute.apply(RequestHelp(actor=BUYER), after(dispute))
        assert dispute.status is DisputeStatus.IN_MEDIATION
        assert dispute.escalated_by is Role.BUYER


def test_seller_may_ask_help_after_buyer_rejects_or_revises() -> None:
    """A buyer rejection or revision of a seller offer earns the seller the right to ask for help."""
    for step in (command(REJECT, BUYER), offer(BUYER, FULL_REFUND)):
        dispute = drive(offer(SELLER), step)
        assert dispute.status is DisputeStatus.AWAITING_SELLER
        assert Role.SELLER in dispute.help_earned
        assert dispute.may_request_help(Role.SELLER)
        dispute.apply(RequestHelp(actor=SELLER), after(dispute))
        assert dispute.escalated_by is Role.SELLER


def test_buyer_revision_before_any_offer_earns_seller_nothing() -> None:
    """A buyer changing the request on the seller's turn does not let the seller escalate."""
    dispute = drive(offer(BUYER, FULL_REFUND))
    assert dispute.help_earned == []
    assert HELP not in dispute.allowed_actions[Role.SELLER]


def test_turn_clock_starts_at_open_and_at_each_turn() -> None:
    """response_due_at is the turn start plus policy.buyer_inactivity."""
    dispute = drive()
    assert dispute.response_due_at == T0 + INACTIVITY
    assert dispute.buyer_inactive_at is None  # the seller's turn
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
    """tick() at the deadline reports PARTY_INACTIVE once and lets the seller ask for help."""
    dispute = drive(offer(SELLER))
    due = T0 + STEP + INACTIVITY
    assert dispute.tick(due - timedelta(seconds=1)) == []
    assert dispute.tick(due) == [DeadlineEvent.PARTY_INACTIVE]
    assert dispute.inactive_party is Role.BUYER
    assert dispute.timeline[-1].event == "party_inactive"
    assert dispute.allowed_actions[Role.SELLER] == [MSG, OFFER, HELP]
    assert dispute.tick(due + timedelta(days=1)) == []
    assert dispute.next_deadline() is None
    dispute.check(RequestHelp(actor=SELLER), due + timedelta(hours=1))


def test_buyer_may_ask_help_when_seller_is_silent() -> None:
    """The seller's own turn has the same clock: once it runs out the buyer may escalate."""
    dispute = drive()
    assert dispute.tick(T0 + INACTIVITY) == [DeadlineEvent.PARTY_INACTIVE]
    assert dispute.inactive_party is Role.SELLER
    assert dispute.allowed_actions[Role.BUYER] == [MSG, OFFER, CANCEL, HELP]


@pytest.mark.parametrize("handled", [False, True], ids=["timer-pending", "timer-handled"])
@pytest.mark.parametrize("late", [timedelta(0), timedelta(hours=5)], ids=["at-deadline", "after-deadline"])
def test_buyer_action_restarts_the_clock(handled: bool, late: timedelta) -> None:
    """A buyer action at or after the deadline counts as activity; the seller is refused again."""
    dispute = drive(offer(SELLER))
    now = T0 + STEP + INACTIVITY + late
    if handled:
        assert dispute.tick(now) == [DeadlineEvent.PARTY_INACTIVE]
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


# -- the care reply clock ----------------------------------------------------------------------


def mediated() -> tuple[Dispute, datetime]:
    """A dispute the buyer escalated, and the escalation time."""
    dispute = drive(offer(SELLER), command(HELP, BUYER))
    assert dispute.escalated_at is not None
    return dispute, dispute.escalated_at


def test_escalation_starts_the_care_clock() -> None:
    """care_reply_due_at is escalated_at + care_reply_target; the warning comes first."""
    dispute, escalated = mediated()
    assert escalated == T0 + 2 * STEP
    assert dispute.care_reply_due_at == escalated + TARGET
    assert dispute.next_deadline() == (escalated + WARNING, DeadlineEvent.CARE_REPLY_WARNING)
    assert not dispute.sla_breached


def test_care_clock_warns_once_then_breaches_once() -> None:
    """tick() reports the warning at warn time and the breach at due time, each once."""
    dispute, escalated = mediated()
    assert dispute.tick(escalated + WARNING - timedelta(seconds=1)) == []
    assert dispute.tick(escalated + WARNING) == [DeadlineEvent.CARE_REPLY_WARNING]
    assert dispute.tick(escalated + WARNING + STEP) == []
    assert not dispute.sla_breached
    assert dispute.next_deadline() == (escalated + TARGET, DeadlineEvent.CARE_REPLY_BREACHED)
    assert dispute.tick(escalated + TARGET) == [DeadlineEvent.CARE_REPLY_BREACHED]
    assert dispute.sla_breached
    assert dispute.sla_breaches == 1
    assert dispute.tick(escalated + 2 * TARGET) == []
    assert dispute.sla_breaches == 1
    assert dispute.next_deadline() is None
    assert dispute.timeline[-1].event == "care_reply_breached"
    # no timer is left to show it, so the UI's details say since when the reply is owed
    assert "**Care reply overdue** since" in dispute.current_details()
    dispute.apply(command(Action.REPLY, CARE), escalated + 2 * TARGET)
    assert "overdue" not in dispute.current_details()


def test_late_tick_reports_warning_and_breach_together() -> None:
    """A tick past the due time reports both events in order."""
    dispute, escalated = mediated()
    assert dispute.tick(escalated + TARGET + STEP) == [
        DeadlineEvent.CARE_REPLY_WARNING,
        DeadlineEvent.CARE_REPLY_BREACHED,
    ]
    assert dispute.sla_breaches == 1


def test_breach_never_loses_the_case() -> None:
    """After a breach care may still reply and decide."""
    dispute, escalated = mediated()
    dispute.tick(escalated + TARGET)
    assert dispute.status is DisputeStatus.IN_MEDIATION
    assert dispute.allowed_actions[Role.CARE] == [REPLY, DECIDE]


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
    assert dispute.tick(asked + TARGET) == [
        DeadlineEvent.CARE_REPLY_WARNING,
        DeadlineEvent.CARE_REPLY_BREACHED,
    ]
    assert dispute.sla_breached
    assert dispute.sla_breaches == 2


def test_messages_outside_mediation_start_no_care_clock() -> None:
    """Care owes nothing while the parties negotiate."""
    dispute = drive(message(BUYER), message(SELLER))
    assert dispute.care_clock is None
    assert dispute.care_reply_due_at is None


# -- settlement and closing --------------------------------------------------------------------


def refund(amount: int) -> Payout:
    return Payout(kind=SolutionKind.REFUND_TO_BUYER, party=Role.BUYER, party_id=BUYER.id, amount=amount)


def release(amount: int) -> Payout:
    return Payout(kind=SolutionKind.RELEASE_TO_SELLER, party=Role.SELLER, party_id=SELLER.id, amount=amount)


def test_no_settlement_before_agreement() -> None:
    """Negotiation and mediation have nothing to pay out."""
    assert drive().settlement() is None
    assert drive(offer(SELLER)).settlement() is None
    assert mediated()[0].settlement() is None


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
    dispute = drive(command(APPEAL, SELLER), Accept(actor=BUYER))
    assert dispute.agreed_solution == RELEASE
    assert dispute.settlement() == [release(TOTAL)]


@pytest.mark.parametrize(
    ("solution", "shippers"),
    [(EXCHANGE, [BUYER, SELLER]), (SEND_REMAINING, [SELLER])],
    ids=["exchange", "send-remaining"],
)
def test_goods_settle_only_after_shipments_and_receipt(solution: Solution, shippers: list[Actor]) -> None:
    """Goods need every shipment and the buyer's receipt before the total is released."""
    dispute = drive(Accept(actor=SELLER), solution=solution)
    now = after(dispute)
    for shipper in shippers:
        assert dispute.settlement() is None
        dispute.apply(ship(shipper), now)
        now += STEP
    assert [s.by for s in dispute.shipments] == [s.role for s in shippers]
    assert dispute.shipments[-1].tracking_number == "JNE-0001"
    assert dispute.settlement() is None
    dispute.apply(ConfirmReceipt(actor=BUYER), now)
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
    dispute.settled([refund(150_000), release(50_000)], now)
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
    dispute.apply(decide(RELEASE), escalated + STEP)
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
    dispute.apply(Cancel(actor=BUYER, note="resolved by chat"), now)
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


# -- input validation --------------------------------------------------------------------------


def test_valid_request_opens_a_dispute() -> None:
    """A valid request opens AWAITING_SELLER with the request's fields and policy."""
    dispute = Dispute.open("d-1", request(), T0)
    assert dispute.status is DisputeStatus.AWAITING_SELLER
    assert (dispute.order_id, dispute.buyer_id, dispute.seller_id) == ("o-1", "b-1", "s-1")
    assert dispute.requested_solution == PARTIAL_REFUND
    assert dispute.policy == POLICY
    assert [entry.event for entry in dispute.timeline] == ["opened"]


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
        ({"order_id": "o 1"}, "order_id"),
        ({"buyer_id": "b/1"}, "buyer_id"),
        ({"seller_id": "-s"}, "seller_id"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "o" * 65}, "order_id"),
        ({"description": ""}, "description"),
    ],
    ids=[
        "refund-above-total",
        "buyer-is-seller",
        "zero-total",
        "space-in-id",
        "slash-in-id",
        "leading-dash",
        "empty-id",
        "id-too-long",
        "empty-description",
    ],
)
def test_invalid_open_request(overrides: dict[str, Any], error: str) -> None:
    """OpenDisputeInput refuses what no dispute may be opened with."""
    with pytest.raises(ValidationError, match=error):
        request(**overrides)


def test_refund_of_exactly_the_total_may_be_requested() -> None:
    """The order total itself is a valid requested refund; a 64-character id is valid."""
    assert request(FULL_REFUND, order_id="o" * 64).requested_solution.amount == TOTAL


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
    assert policy.buyer_inactivity == timedelta(days=3)
    assert policy.care_reply_target == timedelta(hours=24)
    assert policy.care_reply_warning < policy.care_reply_target


# -- refused commands change nothing -----------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "refused", "error"),
    [
        ((), Accept(actor=BUYER), InvalidTransition),
        ((), RequestHelp(actor=SELLER), InvalidTransition),
        ((offer(SELLER),), RequestHelp(actor=SELLER), InvalidTransition),
        ((offer(SELLER), command(HELP, BUYER)), Cancel(actor=BUYER), InvalidTransition),
        ((command(CANCEL, BUYER),), message(BUYER), InvalidTransition),
        ((), message(Actor(role=Role.SELLER, id="s-2")), NotAParty),
        ((), offer(SELLER, TOO_MUCH), InvalidInput),
        ((offer(SELLER), command(HELP, BUYER)), decide(TOO_MUCH), InvalidInput),
    ],
    ids=[
        "buyer-accepts-own",
        "seller-help-early",
        "seller-help-awaiting-buyer",
        "cancel-in-mediation",
        "message-after-cancel",
        "stranger",
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
