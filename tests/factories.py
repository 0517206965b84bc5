"""Shared builders for the pure rule tests: the clock, actors, solutions, requests and commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.case import CareCase
from domain.commands import (
    Accept,
    Action,
    Appeal,
    AppealDecision,
    Cancel,
    CareReply,
    Command,
    ConfirmDecision,
    ConfirmReceipt,
    ConfirmReturn,
    Decide,
    Delivered,
    MakeOffer,
    Redecide,
    RefuseReturn,
    Reject,
    ReplaceDecision,
    RequestHelp,
    RequestInfo,
    ResolveEffect,
    RetryEffect,
    SendMessage,
    Ship,
)
from domain.dispute import Dispute, OpenDisputeInput, Reason
from domain.events import CareReplyDue, DomainEvent, EffectParked
from domain.ticket import (
    Hold,
    OpenTicketInput,
    ReporterRole,
    Resume,
    Solve,
    Ticket,
    TicketPolicy,
    TicketReply,
    TicketTopic,
    UserMessage,
)
from domain.types import Actor, DisputePolicy, EvidenceType, Role, Solution, SolutionKind

# -- the clock and the policy the rule tests run under ------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(hours=1)
INACTIVITY = timedelta(days=3)
TARGET = timedelta(hours=24)
WARNING = timedelta(hours=20)
QUIET = timedelta(days=3)
DISPUTE_POLICY = DisputePolicy(
    buyer_inactivity=INACTIVITY, care_reply_target=TARGET, care_reply_warning=WARNING
)
TICKET_POLICY = TicketPolicy(care_reply_target=TARGET, care_reply_warning=WARNING, solved_quiet_period=QUIET)
# The clocks that act by themselves (issue 11), as the settings turn them on by default.
SELLER_RESPONSE = timedelta(days=2)
SHIPMENT = timedelta(days=3)
RECEIPT = timedelta(days=3)
DECISION_TARGET = timedelta(days=3)
DECISION_WARNING = timedelta(days=2)
APPEAL_WINDOW = timedelta(days=2)
USER_WAIT = timedelta(days=7)
LEAD = timedelta(hours=24)
CLOCKS = {
    "seller_response": SELLER_RESPONSE,
    "shipment_window": SHIPMENT,
    "receipt_window": RECEIPT,
    "care_decision_target": DECISION_TARGET,
    "care_decision_warning": DECISION_WARNING,
    "decision_appeal_window": APPEAL_WINDOW,
    "reminder_lead": LEAD,
}
#: A dispute opened with every clock that acts turned on.
CLOCKED_POLICY = DISPUTE_POLICY.model_copy(update=CLOCKS)
#: Issue 20: a dispute opened with returns and delivery-driven windows, besides every clock.
INSPECTION = timedelta(days=2)
TRANSIT = timedelta(days=14)
RETURNS_POLICY = CLOCKED_POLICY.model_copy(
    update={
        "return_inspection_window": INSPECTION,
        "return_transit_window": TRANSIT,
        "windows_from_delivery": True,
    }
)
CLOCKED_TICKET_POLICY = TICKET_POLICY.model_copy(update={"user_wait": USER_WAIT, "reminder_lead": LEAD})

# -- who acts ---------------------------------------------------------------------------------

BUYER = Actor(role=Role.BUYER, id="b-1")
SELLER = Actor(role=Role.SELLER, id="s-1")
CARE = Actor(role=Role.CARE, id="agent-7")
USER = Actor(role=Role.USER, id="u-1")
OPERATOR = Actor(role=Role.OPERATOR, id="oncall-1")
SUPERVISOR = Actor(role=Role.SUPERVISOR, id="lead-3")
ACTORS = {
    Role.BUYER: BUYER,
    Role.SELLER: SELLER,
    Role.CARE: CARE,
    Role.USER: USER,
    Role.OPERATOR: OPERATOR,
    Role.SUPERVISOR: SUPERVISOR,
}


def sent(actor: Actor) -> dict[str, str]:
    """A party as the platform sends it in a JSON body (``{"role": ..., "id": ...}``)."""
    return actor.model_dump(mode="json")


# -- solutions on an order of 200,000 -----------------------------------------------------------

TOTAL = 200_000
FULL_REFUND = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=TOTAL)
PARTIAL_REFUND = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=150_000)
SMALL_REFUND = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=50_000)
TOO_MUCH = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=TOTAL + 1)
RELEASE = Solution(kind=SolutionKind.RELEASE_TO_SELLER)
EXCHANGE = Solution(kind=SolutionKind.EXCHANGE)
SEND_REMAINING = Solution(kind=SolutionKind.SEND_REMAINING)
RETURN_AND_REFUND = Solution(kind=SolutionKind.RETURN_AND_REFUND, amount=180_000)

# -- cases ------------------------------------------------------------------------------------

DISPUTE_ID = "d-1"
TICKET_ID = "t-1"
DESCRIPTION = "the screen arrived cracked"
DETAILS = "I cannot withdraw my balance"


def dispute_request(solution: Solution = PARTIAL_REFUND, **overrides: Any) -> OpenDisputeInput:
    """A valid complaint about order o-1 (total 200,000) unless ``overrides`` say otherwise."""
    fields: dict[str, Any] = {
        "order_id": "o-1",
        "buyer_id": BUYER.id,
        "seller_id": SELLER.id,
        "order_total": TOTAL,
        "reason": Reason.DAMAGED,
        "requested_solution": solution,
        "description": DESCRIPTION,
        "evidence": ["blob:photo-1"],
        "policy": DISPUTE_POLICY,
    }
    fields.update(overrides)
    return OpenDisputeInput(**fields)


def drive_dispute(*steps: Command, solution: Solution = PARTIAL_REFUND, **overrides: Any) -> Dispute:
    """Open a dispute at T0 asking for ``solution`` and apply ``steps`` one hour apart."""
    dispute = Dispute.open(DISPUTE_ID, dispute_request(solution, **overrides), T0)
    for index, step in enumerate(steps, start=1):
        dispute.apply(step, T0 + index * STEP)
    return dispute


def drive_clocked(*steps: Command, solution: Solution = PARTIAL_REFUND) -> Dispute:
    """``drive_dispute`` under the policy with every clock that acts turned on."""
    return drive_dispute(*steps, solution=solution, policy=CLOCKED_POLICY)


def drive_returns(*steps: Command, solution: Solution = RETURN_AND_REFUND) -> Dispute:
    """``drive_dispute`` under the policy with returns and delivery-driven windows (issue 20)."""
    return drive_dispute(*steps, solution=solution, policy=RETURNS_POLICY)


def delivered(
    dispute: Dispute, tracking_number: str = "JNE-0001", at: datetime | None = None
) -> list[DomainEvent]:
    """The marketplace reports ``tracking_number`` delivered one minute after the last entry,
    delivered then (or at ``at``)."""
    now = after(dispute)
    return dispute.record_delivery(Delivered(tracking_number=tracking_number, delivered_at=at or now), now)


def ticket_request(**overrides: Any) -> OpenTicketInput:
    """A valid report by user u-1 about order o-1 unless ``overrides`` say otherwise."""
    fields: dict[str, Any] = {
        "user_id": USER.id,
        "role": ReporterRole.BUYER,
        "topic": TicketTopic.BALANCE_WITHDRAWAL,
        "order_id": "o-1",
        "details": DETAILS,
        "attachments": ["blob:screenshot-1"],
        "policy": TICKET_POLICY,
    }
    fields.update(overrides)
    return OpenTicketInput(**fields)


def drive_ticket(*steps: Command, **overrides: Any) -> Ticket:
    """Open a report at T0 and apply ``steps`` one hour apart."""
    ticket = Ticket.open(TICKET_ID, ticket_request(**overrides), T0)
    for index, step in enumerate(steps, start=1):
        ticket.apply(step, T0 + index * STEP)
    return ticket


def warned(started: datetime) -> CareReplyDue:
    """The care reply warning of a clock started at ``started`` under the tests' policy."""
    return CareReplyDue(due_at=started + TARGET, started_at=started, breached=False)


def breached(started: datetime) -> CareReplyDue:
    """The care reply breach of a clock started at ``started`` under the tests' policy."""
    return CareReplyDue(due_at=started + TARGET, started_at=started, breached=True)


def after(case: CareCase) -> datetime:
    """A moment one minute after the case's last recorded event (before any deadline)."""
    return case.timeline[-1].at + timedelta(minutes=1)


# -- parked effects and their repair (any kind of case) ---------------------------------------

REFUSED = "422 Unprocessable Entity: account closed"
EXTERNAL_REF = "pay-77"


def park(case: CareCase, effect: str, key: str, reason: str = REFUSED) -> list[DomainEvent]:
    """Park ``effect`` as the workflow does when it is refused for good, one minute after the
    case's last entry; check that it parked and return what happened."""
    happened = case.park(effect, key, reason, after(case))
    assert happened == [EffectParked(effect=effect, key=key, reason=reason)]
    return happened


def retry(key: str | None = None, actor: Actor = OPERATOR) -> RetryEffect:
    """An operator has a parked effect tried again (the first one when ``key`` is unset)."""
    return RetryEffect(actor=actor, key=key)


def resolve(
    key: str | None = None, external_ref: str = EXTERNAL_REF, actor: Actor = OPERATOR
) -> ResolveEffect:
    """An operator records a parked effect as done by hand (the first one when ``key`` is unset)."""
    return ResolveEffect(actor=actor, key=key, external_ref=external_ref)


# -- dispute commands -------------------------------------------------------------------------


def message(actor: Actor, text: str = "see the photo") -> SendMessage:
    """A party's message with one piece of evidence."""
    return SendMessage(actor=actor, text=text, evidence=["blob:photo-2"])


def offer(actor: Actor, solution: Solution = SMALL_REFUND, note: str = "how about this") -> MakeOffer:
    """A seller's offer or a buyer's revised request."""
    return MakeOffer(actor=actor, solution=solution, note=note)


def appeal(reason: str = "item was intact when shipped") -> Appeal:
    """The seller contests the claim."""
    return Appeal(actor=SELLER, reason=reason)


def ask_help(actor: Actor) -> RequestHelp:
    """A party asks care to mediate."""
    return RequestHelp(actor=actor, note="we cannot agree")


def ship(actor: Actor) -> Ship:
    """A shipment with a tracking number."""
    return Ship(actor=actor, tracking_number="JNE-0001", carrier="jne")


def confirm_return(actor: Actor = SELLER) -> ConfirmReturn:
    """The seller confirms the returned item."""
    return ConfirmReturn(actor=actor)


def refuse_return(actor: Actor = SELLER, reason: str = "the item came back used") -> RefuseReturn:
    """The seller refuses the returned item with a reason and evidence."""
    return RefuseReturn(actor=actor, reason=reason, evidence=["blob:photo-4"])


def decide(solution: Solution = PARTIAL_REFUND, note: str = "evidence supports the buyer") -> Decide:
    """Care's decision."""
    return Decide(actor=CARE, solution=solution, note=note)


def redecide(solution: Solution = FULL_REFUND, note: str = "the seller's account is closed") -> Redecide:
    """Care replaces a decision whose payout was refused for good."""
    return Redecide(actor=CARE, solution=solution, note=note)


def appeal_decision(actor: Actor, reason: str = "the photos show the damage") -> AppealDecision:
    """A party appeals care's decision."""
    return AppealDecision(actor=actor, reason=reason, evidence=["blob:photo-3"])


def confirm_decision(note: str = "the decision stands") -> ConfirmDecision:
    """The supervisor confirms the appealed decision."""
    return ConfirmDecision(actor=SUPERVISOR, note=note)


def replace_decision(solution: Solution = FULL_REFUND, note: str = "the courier lost it") -> ReplaceDecision:
    """The supervisor replaces the appealed decision."""
    return ReplaceDecision(actor=SUPERVISOR, solution=solution, note=note)


def request_info(
    party: Role = Role.SELLER,
    text: str = "please send the proof of delivery",
    due_in: timedelta | None = None,
    actor: Actor = CARE,
) -> RequestInfo:
    """Care asks a party for information (by the policy's window unless ``due_in``)."""
    return RequestInfo(
        actor=actor, party=party, text=text, due_in=due_in, evidence_type=EvidenceType.PROOF_OF_DELIVERY
    )


#: One valid command per dispute action, by action name, for any actor (solutions within the total).
DISPUTE_COMMANDS: dict[str, Callable[[Actor], Command]] = {
    Action.MESSAGE: message,
    Action.ACCEPT: lambda actor: Accept(actor=actor),
    Action.REJECT: lambda actor: Reject(actor=actor, note="no"),
    Action.OFFER: offer,
    Action.APPEAL: lambda actor: Appeal(actor=actor, reason="item was intact when shipped"),
    Action.CANCEL: lambda actor: Cancel(actor=actor, note="sorted it out"),
    Action.HELP: ask_help,
    Action.REPLY: lambda actor: CareReply(actor=actor, text="please send the unboxing video"),
    Action.DECIDE: lambda actor: Decide(actor=actor, solution=PARTIAL_REFUND),
    Action.SHIP: ship,
    Action.CONFIRM_RECEIPT: lambda actor: ConfirmReceipt(actor=actor),
    Action.APPEAL_DECISION: appeal_decision,
    Action.CONFIRM_RETURN: confirm_return,
    Action.REFUSE_RETURN: refuse_return,
    Action.CONFIRM_DECISION: lambda actor: ConfirmDecision(actor=actor),
    Action.REPLACE_DECISION: lambda actor: ReplaceDecision(actor=actor, solution=FULL_REFUND),
    Redecide.action: lambda actor: Redecide(actor=actor, solution=FULL_REFUND),
    RequestInfo.action: lambda actor: request_info(actor=actor),
    RetryEffect.action: lambda actor: RetryEffect(actor=actor),
    ResolveEffect.action: lambda actor: ResolveEffect(actor=actor, external_ref=EXTERNAL_REF),
}

# -- ticket commands --------------------------------------------------------------------------


def write(text: str = "any news?") -> UserMessage:
    """The reporting user writes."""
    return UserMessage(actor=USER, text=text)


def reply(text: str = "we are checking your withdrawal") -> TicketReply:
    """Care replies to the user."""
    return TicketReply(actor=CARE, text=text)


def hold(reason: str = "waiting for the payment provider") -> Hold:
    """Care puts the report on hold."""
    return Hold(actor=CARE, reason=reason)


def resume() -> Resume:
    """Care takes the report off hold."""
    return Resume(actor=CARE)


def solve() -> Solve:
    """Care marks the report solved."""
    return Solve(actor=CARE)


#: One valid command per report action, by action name, for any actor.
TICKET_COMMANDS: dict[str, Callable[[Actor], Command]] = {
    Action.MESSAGE: lambda actor: UserMessage(actor=actor, text="hello"),
    Action.REPLY: lambda actor: TicketReply(actor=actor, text="hello from care"),
    Action.SOLVE: lambda actor: Solve(actor=actor),
    Hold.action: lambda actor: Hold(actor=actor, reason="waiting for the payment provider"),
    Resume.action: lambda actor: Resume(actor=actor),
    RetryEffect.action: lambda actor: RetryEffect(actor=actor),
    ResolveEffect.action: lambda actor: ResolveEffect(actor=actor, external_ref=EXTERNAL_REF),
}
