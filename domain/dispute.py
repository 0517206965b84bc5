"""The dispute rules (Pusat Resolusi): who may do what in which state, and what follows.

Each action is registered below with the rule that allows it and the rule that carries it out;
``domain/reactions.py`` says who is told what and which outside effects follow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from domain.care import register_care_actions, route
from domain.case import (
    Attention,
    CareCase,
    DeadlineEvent,
    ReplyClock,
    Window,
    WindowKind,
    register_operator_actions,
)
from domain.commands import (
    Accept,
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
    SendMessage,
    Ship,
)
from domain.effects import (
    BY_OPERATOR,
    CASE_EFFECTS,
    EffectName,
    Lane,
    Repair,
    care_desk_window,
    effect,
)
from domain.errors import InvalidInput, InvalidTransition, UnknownShipment
from domain.events import (
    Cancelled,
    CareSpoke,
    Decided,
    DecisionAppealed,
    DecisionFinal,
    DecisionReviewed,
    DomainEvent,
    Escalated,
    InfoRequested,
    PartyInactive,
    ReceiptConfirmed,
    Resolved,
    ReturnConfirmed,
    ReturnLapsed,
    ReturnRefused,
    SettlementDue,
    ShipmentDelivered,
)
from domain.registry import ActionRegistry
from domain.types import (
    DEFAULT_LOCALE,
    Actor,
    CareTarget,
    Deadline,
    DisputePolicy,
    EvidenceList,
    EvidenceTypes,
    Identifier,
    Locale,
    Role,
    Solution,
    SolutionKind,
    Text,
    Then,
    at_minute,
    short_duration,
)


class DisputeStatus(StrEnum):
    """Where a dispute stands; the search attribute ``DisputeStatus`` holds the same value."""

    AWAITING_SELLER = "AWAITING_SELLER"
    AWAITING_BUYER = "AWAITING_BUYER"
    IN_MEDIATION = "IN_MEDIATION"
    DECIDED = "DECIDED"
    DECISION_APPEALED = "DECISION_APPEALED"
    AWAITING_FULFILMENT = "AWAITING_FULFILMENT"
    RESOLVED = "RESOLVED"
    CANCELLED = "CANCELLED"


class Reason(StrEnum):
    """Why the buyer complains."""

    NOT_RECEIVED = "NOT_RECEIVED"
    DAMAGED = "DAMAGED"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    INCOMPLETE = "INCOMPLETE"
    OTHER = "OTHER"


NEGOTIATING = (DisputeStatus.AWAITING_SELLER, DisputeStatus.AWAITING_BUYER)
CLOSED = (DisputeStatus.RESOLVED, DisputeStatus.CANCELLED)
GOODS = (SolutionKind.EXCHANGE, SolutionKind.SEND_REMAINING)


class DisputeClaim(BaseModel):
    """What the buyer files (Komplain) about one order."""

    model_config = ConfigDict(extra="forbid")

    order_id: Identifier
    buyer_id: Identifier
    seller_id: Identifier
    order_total: int = Field(gt=0, le=10**15, description="integer rupiah")
    reason: Reason
    requested_solution: Solution
    description: Text
    evidence: EvidenceList = []
    buyer_locale: Locale = Field(default=DEFAULT_LOCALE, description="the buyer's notices' language")
    seller_locale: Locale = Field(default=DEFAULT_LOCALE, description="the seller's notices' language")
    evidence_types: EvidenceTypes = {}

    @model_validator(mode="after")
    def _refund_within_total(self) -> Self:
        amount = self.requested_solution.amount
        if amount is not None and amount > self.order_total:
            raise ValueError(f"requested_solution.amount {amount} is above order_total {self.order_total}")
        if self.buyer_id == self.seller_id:
            raise ValueError("buyer_id and seller_id must differ")
        return self


class OpenDisputeInput(DisputeClaim):
    """The claim plus the policy in force when it was opened, and the moment it was accepted."""

    model_config = ConfigDict(extra="forbid")

    policy: DisputePolicy = DisputePolicy()
    opened_at: datetime | None = Field(
        default=None, description="when the API accepted the claim; the workflow's start time if unset"
    )


class LinkTicket(BaseModel):
    """A help-center report filed about the dispute's order."""

    ticket_id: str


class Proposal(BaseModel):
    """A solution put forward by one party: an offer, a revised request or an appeal."""

    by: Role
    solution: Solution
    note: str = ""
    appeal: bool = False
    at: datetime


class DecisionAppealRecord(BaseModel):
    """A party's appeal of care's decision (one per dispute), reviewed by a care supervisor."""

    by: Role
    reason: str
    evidence: list[str] = []
    at: datetime


class Shipment(BaseModel):
    """A shipment with its tracking number (resi), and when the marketplace reported it delivered."""

    by: Role
    tracking_number: str
    carrier: str
    at: datetime
    delivered_at: datetime | None = None


class ReturnVerdict(StrEnum):
    """What became of the buyer's return (RETURN_AND_REFUND)."""

    CONFIRMED = "confirmed"
    REFUSED = "refused"
    NOT_SHIPPED = "not_shipped"


class ReturnResult(BaseModel):
    """The seller's inspection of a returned item, or the system's verdict when a window closed."""

    verdict: ReturnVerdict
    by: Role | Literal["system"]
    reason: str = ""
    evidence: list[str] = []
    at: datetime


class Payout(BaseModel):
    """Money the service moves when a dispute is settled."""

    kind: SolutionKind
    party: Role
    party_id: str
    amount: int


class Paid(BaseModel):
    """A payout carried out, by the money lane or recorded by hand (``reference``)."""

    kind: SolutionKind
    party: Role
    party_id: str
    amount: int
    idempotency_key: str
    reference: str | None = None
    at: datetime


PAYOUT_EFFECTS = {
    SolutionKind.REFUND_TO_BUYER: EffectName.REFUND_TO_BUYER,
    SolutionKind.RELEASE_TO_SELLER: EffectName.RELEASE_TO_SELLER,
}
#: The care desk's mediation (opened, then assigned) and the payouts, besides what every case causes.
#: A payout refused for good may also be mended by a new decision of care (``care/redecision``).
DISPUTE_EFFECTS = CASE_EFFECTS.extended(
    "dispute",
    effect(EffectName.MEDIATION_OPENED, Lane.CARE, "open_mediation_case", care_desk_window, BY_OPERATOR),
    effect(
        EffectName.CARE_ASSIGNED, Lane.CARE, "assign_to_care", care_desk_window, BY_OPERATOR, stem="assign"
    ),
    *(
        effect(
            name, Lane.MONEY, activity, lambda p: p.money_retry_window, {*BY_OPERATOR, Repair.NEW_DECISION}
        )
        for name, activity in (
            (EffectName.REFUND_TO_BUYER, "refund_buyer"),
            (EffectName.RELEASE_TO_SELLER, "release_to_seller"),
        )
    ),
)


class Outcome(BaseModel):
    """How a dispute ended."""

    status: DisputeStatus
    solution: Solution | None = None
    decided_by: str = Field(description="'agreement', 'care', 'supervisor' or 'buyer_cancelled'")
    refunded_to_buyer: int = 0
    released_to_seller: int = 0
    at: datetime


def _other(role: Role) -> Role:
    return Role.SELLER if role is Role.BUYER else Role.BUYER


class Dispute(CareCase):
    """A dispute's whole state; every change goes through ``apply``, ``tick`` or a reported effect."""

    roles: ClassVar[tuple[Role, ...]] = (Role.BUYER, Role.SELLER, Role.CARE, Role.SUPERVISOR, Role.OPERATOR)

    order_id: str
    buyer_id: str
    seller_id: str
    order_total: int
    reason: Reason
    description: str
    evidence: list[str]
    policy: DisputePolicy
    status: DisputeStatus = DisputeStatus.AWAITING_SELLER
    requested_solution: Solution
    current_offer: Proposal | None = None
    response_due_at: datetime | None = Field(
        default=None, description="when the party whose turn it is counts as inactive"
    )
    inactive_party: Role | None = None
    help_earned: list[Role] = Field(
        default=[], description="parties whose solution the other declined, countered or contested"
    )
    escalated_at: datetime | None = None
    escalated_by: Role | Literal["system"] | None = None
    escalation_reason: str | None = Field(default=None, description="why the system escalated")
    decision_clock: ReplyClock | None = Field(default=None, description="care owes a decision (mediation)")
    decision_accepted_by: list[Role] = Field(default=[], description="parties who accepted care's decision")
    decision_appeal: DecisionAppealRecord | None = None
    receipt_problem: bool = Field(
        default=False, description="the buyer wrote while its confirmation of receipt was awaited"
    )
    mediation_case_ref: str | None = None
    agreed_solution: Solution | None = None
    decided_by: str | None = None
    shipments: list[Shipment] = []
    received_at: datetime | None = None
    return_result: ReturnResult | None = Field(
        default=None, description="the seller's inspection of the returned item (RETURN_AND_REFUND)"
    )
    settling: bool = Field(default=False, description="the payouts are being carried out")
    payouts_made: list[Paid] = []
    decision_round: int = Field(
        default=0, description="how often care replaced a decision whose payout was refused"
    )
    outcome: Outcome | None = None
    linked_tickets: list[str] = Field(default=[], description="help-center reports about this order")
    buyer_locale: Locale = Field(default=DEFAULT_LOCALE, description="the buyer's notices' language")
    seller_locale: Locale = Field(default=DEFAULT_LOCALE, description="the seller's notices' language")

    # -- creation -----------------------------------------------------------------------------

    @classmethod
    def _opening(cls, request: OpenDisputeInput) -> tuple[Actor, dict[str, Any]]:
        """The buyer opens a dispute: its reason, the solution it asks for, its evidence."""
        claim = request.model_dump(mode="json", include={"reason", "description", "evidence"})
        asked = request.requested_solution.model_dump(mode="json")
        return Actor(role=Role.BUYER, id=request.buyer_id), {"solution": asked, **claim}

    def _opened(self, now: datetime) -> None:
        """It is the seller's turn first."""
        self.response_due_at = now + self.policy.turn_inactivity
        self.window = Window.open(WindowKind.SELLER_RESPONSE, now, self.policy.seller_response)

    # -- reading ------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once resolved or cancelled."""
        return self.status in CLOSED

    @property
    def turn(self) -> Role | None:
        """Whose move the negotiation waits for."""
        return {
            DisputeStatus.AWAITING_SELLER: Role.SELLER,
            DisputeStatus.AWAITING_BUYER: Role.BUYER,
        }.get(self.status)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def care_decision_due_at(self) -> datetime | None:
        """When care's decision is due, while care owes one (mediation with a decision target)."""
        clock = self.decision_clock
        return clock.due_at if clock and not clock.paused else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def buyer_inactive_at(self) -> datetime | None:
        """When the buyer's silence lets the seller ask for help (only while it is the buyer's turn)."""
        return self.response_due_at if self.status is DisputeStatus.AWAITING_BUYER else None

    def may_request_help(self, role: Role, now: datetime | None = None) -> bool:
        """A party may escalate once its solution was declined or the other party went silent,
        counting a turn clock that ran out but whose timer the workflow has not handled yet; the
        buyer may while its confirmation of receipt is awaited (a problem with the delivery)."""
        if self.status is DisputeStatus.AWAITING_FULFILMENT:
            if self.return_in_transit():  # a return lost on its way: either party asks care
                return True
            return role is Role.BUYER and self._window_is(WindowKind.RECEIPT)
        if self.status not in NEGOTIATING:
            return False
        other = _other(role)
        overdue = (
            now is not None
            and self.turn is other
            and self.response_due_at is not None
            and self.response_due_at <= now
        )
        return role in self.help_earned or self.inactive_party is other or overdue

    def is_party(self, actor: Actor) -> bool:
        """Whether ``actor`` is this dispute's buyer or seller; care acts on any dispute."""
        if actor.role is Role.BUYER:
            return actor.id == self.buyer_id
        if actor.role is Role.SELLER:
            return actor.id == self.seller_id
        return actor.role in (Role.CARE, Role.SUPERVISOR, Role.OPERATOR)

    def party_id(self, role: Role) -> str:
        """The buyer's or the seller's id."""
        return self.buyer_id if role is Role.BUYER else self.seller_id

    def settlement(self) -> list[Payout] | None:
        """The payouts that settle the dispute once it is ready to, else ``None``."""
        solution = self.agreed_solution
        if self.status is not DisputeStatus.AWAITING_FULFILMENT or solution is None:
            return None
        if solution.kind in GOODS:
            if self.received_at is None:
                return None
            return [self._release(self.order_total)]
        if solution.kind is SolutionKind.RELEASE_TO_SELLER:
            return [self._release(self.order_total)]
        if solution.kind is SolutionKind.RETURN_AND_REFUND:
            result = self.return_result
            if result is None or result.verdict is ReturnVerdict.REFUSED:
                return None
            if result.verdict is ReturnVerdict.NOT_SHIPPED:
                return [self._release(self.order_total)]
        refund = solution.amount or 0
        payouts = [
            Payout(kind=SolutionKind.REFUND_TO_BUYER, party=Role.BUYER, party_id=self.buyer_id, amount=refund)
        ]
        if refund < self.order_total:
            payouts.append(self._release(self.order_total - refund))
        return payouts

    def remaining_payouts(self) -> list[Payout]:
        """What of the settlement is still to be paid: the settlement less the payouts made."""
        made = {kind: sum(p.amount for p in self.payouts_made if p.kind is kind) for kind in PAYOUT_EFFECTS}
        remaining = []
        for payout in self.settlement() or []:
            rest = payout.amount - made[payout.kind]
            if rest > 0:
                remaining.append(payout.model_copy(update={"amount": rest}))
        return remaining

    def payout_key(self, payout: Payout) -> str:
        """The idempotency key of a payout: one per kind, and per decision care replaced."""
        key = f"{self.id}:{payout.kind.value.lower()}"
        return key if self.decision_round == 0 else f"{key}:{self.decision_round}"

    def payout_made(self, payout: Payout, now: datetime, reference: str | None = None) -> None:
        """Record a payout carried out (by the money lane, or by hand with its reference)."""
        paid = Paid(
            **payout.model_dump(), idempotency_key=self.payout_key(payout), reference=reference, at=now
        )
        self.payouts_made.append(paid)
        self._record(
            now, "paid", None, **paid.model_dump(mode="json", exclude={"at", "party"}, exclude_none=True)
        )

    def _done_by_hand(self, parked: Attention, reference: str, now: datetime) -> None:
        if parked.effect in (EffectName.MEDIATION_OPENED, EffectName.CARE_ASSIGNED):
            self.mediation_opened(reference, "by hand", now)
            return
        for payout in self.remaining_payouts():
            if PAYOUT_EFFECTS[payout.kind] == parked.effect:
                self.payout_made(payout, now, reference)

    def next_deadline(self) -> tuple[datetime, DeadlineEvent] | None:
        """The earliest clock that can still run out, and what happens when it does."""
        candidates: list[tuple[datetime, DeadlineEvent]] = []
        if self.status in NEGOTIATING and self.response_due_at and self.inactive_party is None:
            candidates.append((self.response_due_at, DeadlineEvent.PARTY_INACTIVE))
        if self.window is not None:
            candidates.append((self.window.due_at, self.window.kind.closes))
        return min(candidates + self._shared_deadlines(), default=None)

    def _care_clocks(self) -> list[ReplyClock]:
        return [clock for clock in (self.care_clock, self.decision_clock) if clock]

    def _turn_deadline(self) -> Deadline | None:
        """The inactivity clock of the party whose turn it is, as data."""
        if self.turn is None or self.response_due_at is None or self.inactive_party is not None:
            return None
        return Deadline(
            party=self.turn, action="respond", due_at=self.response_due_at, then=Then.HELP_AVAILABLE
        )

    def _window_deadlines(self) -> list[Deadline]:
        """The running window as data: who must act in it, and what the system does when it closes."""
        window = self.window
        if window is None:
            return []
        due = window.due_at
        if window.kind is WindowKind.SELLER_RESPONSE:
            return [Deadline(party=Role.SELLER, action="respond", due_at=due, then=Then.ESCALATED)]
        if window.kind is WindowKind.SHIPMENT:
            shipper = self.next_shipper() or Role.SELLER
            then = Then.CLAIM_LAPSED if self._agreed(SolutionKind.RETURN_AND_REFUND) else Then.ESCALATED
            return [Deadline(party=shipper, action="ship", due_at=due, then=then)]
        if window.kind is WindowKind.RETURN_INSPECTION:
            return [
                Deadline(party=Role.SELLER, action="confirm_return", due_at=due, then=Then.RETURN_CONFIRMED)
            ]
        if window.kind is WindowKind.RETURN_TRANSIT:
            # Only the marketplace's delivery stops it; either party may ask care sooner.
            return [Deadline(party=Role.BUYER, action="return_delivered", due_at=due, then=Then.ESCALATED)]
        if window.kind is WindowKind.RECEIPT:
            then = Then.ESCALATED if self.receipt_problem else Then.RECEIPT_CONFIRMED
            return [Deadline(party=Role.BUYER, action="confirm_receipt", due_at=due, then=then)]
        return [
            Deadline(party=role, action="appeal_decision", due_at=due, then=Then.DECISION_CARRIED_OUT)
            for role in (Role.BUYER, Role.SELLER)
            if role not in self.decision_accepted_by
        ]

    def _party_deadlines(self) -> list[Deadline]:
        turn = self._turn_deadline()
        return ([turn] if turn else []) + self._window_deadlines()

    def _party_window(self) -> tuple[Deadline, datetime] | None:
        window = self.window
        if window is not None and window.kind not in (WindowKind.DECISION_APPEAL, WindowKind.RETURN_TRANSIT):
            # Appealing is a choice, and no party can make a courier deliver: no reminder.
            return self._window_deadlines()[0], window.opened_at
        turn = self._turn_deadline()
        if window is None and turn is not None:
            return turn, turn.due_at - self.policy.turn_inactivity
        return None

    def _window_is(self, kind: WindowKind) -> bool:
        return self.window is not None and self.window.kind is kind

    def next_shipper(self) -> Role | None:
        """Who must ship next for an exchange (the buyer returns first) or the remaining items."""
        kind = self.agreed_solution.kind if self.agreed_solution else None
        shipped_by = [s.by for s in self.shipments]
        if kind is SolutionKind.EXCHANGE:
            if Role.BUYER not in shipped_by:
                return Role.BUYER
            return None if Role.SELLER in shipped_by else Role.SELLER
        if kind is SolutionKind.SEND_REMAINING and Role.SELLER not in shipped_by:
            return Role.SELLER
        if (
            kind is SolutionKind.RETURN_AND_REFUND
            and self.return_result is None
            and Role.BUYER not in shipped_by
        ):
            return Role.BUYER
        return None

    def _agreed(self, kind: SolutionKind) -> bool:
        return self.agreed_solution is not None and self.agreed_solution.kind is kind

    def return_shipment(self) -> Shipment | None:
        """The buyer's shipment of the item back, once a return and refund is agreed."""
        if not self._agreed(SolutionKind.RETURN_AND_REFUND):
            return None
        return next((s for s in reversed(self.shipments) if s.by is Role.BUYER), None)

    def awaiting_inspection(self) -> bool:
        """The buyer has shipped the item back and the seller has not yet confirmed or refused it."""
        return (
            self.status is DisputeStatus.AWAITING_FULFILMENT
            and self.return_result is None
            and self.return_shipment() is not None
        )

    def return_in_transit(self) -> bool:
        """The return is shipped and its delivery not yet known: the transit window runs (cases
        opened before it existed wait without a clock)."""
        shipment = self.return_shipment()
        return self.awaiting_inspection() and shipment is not None and shipment.delivered_at is None

    def replacement_shipped(self) -> bool:
        """Whether the seller has shipped the replacement or the remaining items."""
        return any(s.by is Role.SELLER for s in self.shipments)

    # -- what every action shares -------------------------------------------------------------

    def _check_rules(self, command: Command, now: datetime) -> None:
        solution = getattr(command, "solution", None)
        if isinstance(solution, Solution) and (solution.amount or 0) > self.order_total:
            raise InvalidInput(
                "solution.amount", f"{solution.amount} is above the order total {self.order_total}"
            )
        if isinstance(solution, Solution) and solution.kind is SolutionKind.RETURN_AND_REFUND:
            self._check_return(solution)
        if isinstance(command, Redecide):
            self._check_redecision(command.solution)

    def _check_return(self, solution: Solution) -> None:
        """A return needs a dispute opened under rules with an inspection window, and a return
        not already inspected (care then decides a refund or a release)."""
        if self.policy.return_inspection_window is None:
            raise InvalidInput(
                "solution.kind",
                "this dispute was opened before RETURN_AND_REFUND existed and keeps its rules:"
                " propose a refund, a release, an exchange or the remaining items",
            )
        if self.return_result is not None:
            raise InvalidInput(
                "solution.kind",
                f"the returned item was already {self.return_result.verdict.value}:"
                " decide a refund or a release",
            )

    def _check_redecision(self, solution: Solution) -> None:
        """A new decision moves money only, and never below what was already paid to either party."""
        if solution.kind in GOODS or solution.kind is SolutionKind.RETURN_AND_REFUND:
            raise InvalidInput(
                "solution.kind", "a replaced decision refunds or releases money; goods have moved"
            )
        refund = solution.amount or 0
        refunded = sum(p.amount for p in self.payouts_made if p.kind is SolutionKind.REFUND_TO_BUYER)
        released = sum(p.amount for p in self.payouts_made if p.kind is SolutionKind.RELEASE_TO_SELLER)
        if refund < refunded:
            raise InvalidInput("solution.amount", f"{refunded} was already refunded to the buyer")
        if self.order_total - refund < released:
            raise InvalidInput("solution.amount", f"{released} was already released to the seller")

    def _before(self, command: Command, now: datetime) -> None:
        if command.actor.role is self.turn:
            # Any action by the party whose turn it is counts as activity, even one that
            # arrives in the same instant as the inactivity timer.
            self._restart_turn_clock(now)

    def _after(self, now: datetime) -> list[DomainEvent]:
        if not self.settling and self.settlement() is not None:
            self.settling = True
            return [SettlementDue()]
        return []

    # -- clocks and effects reported back by the workflow -------------------------------------

    def tick(self, now: datetime) -> list[DomainEvent]:
        """Mark every clock that ran out by ``now``; return what newly happened."""
        happened: list[DomainEvent] = []
        due = self.response_due_at
        silent = self.turn
        if silent is not None and due and due <= now and self.inactive_party is None:
            self.inactive_party = silent
            happened.append(PartyInactive(party=silent))
            self._record(now, "party_inactive", None, party=silent, since=due.isoformat())
        happened += self._tick_reminder(now)
        happened += self._tick_window(now)
        happened += self._tick_care_clock(now)
        return happened + self._after(now)

    def _tick_window(self, now: datetime) -> list[DomainEvent]:
        """The system acts for the party whose window closed: care takes over, receipt is
        confirmed, or care's decision is carried out."""
        window = self.window
        if window is None or now < window.due_at:
            return []
        length = short_duration(window.due_at - window.opened_at)
        if window.kind is WindowKind.SELLER_RESPONSE:
            return self._escalate_by_system(f"the seller did not respond within {length}", now)
        if window.kind is WindowKind.SHIPMENT and self._agreed(SolutionKind.RETURN_AND_REFUND):
            reason = f"the buyer did not ship the item back within {length}"
            self._return_verdict(ReturnResult(verdict=ReturnVerdict.NOT_SHIPPED, by="system", at=now))
            self._record(now, "return_lapsed", None, by="system", reason=reason)
            return [ReturnLapsed(reason=reason)]
        if window.kind is WindowKind.SHIPMENT:
            shipper = self.next_shipper() or Role.SELLER
            return self._escalate_by_system(f"the {shipper.value} did not ship within {length}", now)
        if window.kind is WindowKind.RETURN_TRANSIT:
            return self._escalate_by_system(f"the returned item was not delivered within {length}", now)
        if window.kind is WindowKind.RETURN_INSPECTION:
            reason = f"the seller neither confirmed nor refused the returned item within {length}"
            self._return_verdict(ReturnResult(verdict=ReturnVerdict.CONFIRMED, by="system", at=now))
            self._record(now, "return_confirmed", None, by="system", reason=reason)
            return [ReturnConfirmed(by_system=True, reason=reason)]
        if window.kind is WindowKind.RECEIPT:
            if self.receipt_problem:
                return self._escalate_by_system("the buyer raised a problem with the delivery", now)
            reason = f"the buyer neither confirmed receipt nor raised a problem within {length}"
            self.received_at = now
            self.window = None
            self._record(now, "receipt_confirmed", None, by="system", reason=reason)
            return [ReceiptConfirmed(reason=reason)]
        reason = f"no appeal within {length}"
        self._carry_out_decision(now)
        self._record(now, "decision_final", None, reason=reason)
        return [DecisionFinal(reason=reason)]

    def link_ticket(self, ticket_id: str, now: datetime) -> None:
        """Record a help-center report about this dispute's order (once)."""
        if ticket_id not in self.linked_tickets:
            self.linked_tickets.append(ticket_id)
            self._record(now, "ticket_linked", None, ticket_id=ticket_id)

    def check_delivery(self, delivery: Delivered, now: datetime) -> None:
        """Raise what ``record_delivery`` would: a closed dispute (409), an unknown tracking number
        (404), a delivery in the future (422). A delivery already recorded passes (it is a no-op)."""
        if self.closed:
            raise InvalidTransition(
                f"{self.id} is {self.status}: no delivery is recorded on it",
                current_status=self.status,
                allowed_actions={role.value: names for role, names in self.allowed_actions_at(now).items()},
            )
        if not any(s.tracking_number == delivery.tracking_number for s in self.shipments):
            known = [s.tracking_number for s in self.shipments]
            raise UnknownShipment(
                f"{self.id} has no shipment {delivery.tracking_number}; its shipments: {known}",
                errors=[{"field": "tracking_number", "reason": "no shipment of this dispute has it"}],
            )
        if delivery.delivered_at > now + DELIVERY_CLOCK_SKEW:
            raise InvalidInput("delivered_at", f"{delivery.delivered_at.isoformat()} is in the future")

    def record_delivery(self, delivery: Delivered, now: datetime) -> list[DomainEvent]:
        """Record a shipment delivered, once: a return's inspection window starts from the delivery,
        and a receipt window that started at sending is moved to count from it (cases opened
        with ``windows_from_delivery``; older ones only record it). A repeat changes nothing."""
        self.check_delivery(delivery, now)
        shipment = next(
            (
                s
                for s in self.shipments
                if s.tracking_number == delivery.tracking_number and s.delivered_at is None
            ),
            None,
        )
        if shipment is None:
            return []  # delivered already: applied once
        shipment.delivered_at = delivery.delivered_at
        since = max(delivery.delivered_at, shipment.at)
        window = self.window
        until = None
        if self.policy.windows_from_delivery and self.status is DisputeStatus.AWAITING_FULFILMENT:
            if shipment is self.return_shipment() and self.return_result is None:
                self.window = Window.open(
                    WindowKind.RETURN_INSPECTION, since, self.policy.return_inspection_window
                )
            elif (
                window is not None
                and window.kind is WindowKind.RECEIPT
                and shipment.by is Role.SELLER
                and shipment is self.shipments[-1]
            ):
                self.window = Window.open(WindowKind.RECEIPT, since, window.due_at - window.opened_at)
            if self.window is not window and self.window is not None:
                until = self.window.due_at
        self._record(
            now,
            "delivered",
            None,
            tracking_number=delivery.tracking_number,
            by=shipment.by,
            delivered_at=delivery.delivered_at.isoformat(),
            reported_by=delivery.reported_by,
            **({"window_until": at_minute(until)} if until else {}),
        )
        return [ShipmentDelivered(by=shipment.by, tracking_number=delivery.tracking_number, until=until)]

    def mediation_opened(self, case_ref: str, assignee: str, now: datetime) -> None:
        """Record the care desk's mediation case once the activities have opened and assigned it."""
        self.mediation_case_ref = case_ref
        self._record(now, "mediation_opened", None, case_ref=case_ref, assignee=assignee)

    def settled(self, now: datetime) -> list[DomainEvent]:
        """Close the dispute once every payout of its settlement has been made."""
        outcome = Outcome(
            status=DisputeStatus.RESOLVED,
            solution=self.agreed_solution,
            decided_by=self.decided_by or "agreement",
            refunded_to_buyer=sum(p.amount for p in self.payouts_made if p.party is Role.BUYER),
            released_to_seller=sum(p.amount for p in self.payouts_made if p.party is Role.SELLER),
            at=now,
        )
        self._close(DisputeStatus.RESOLVED, outcome, now)
        self._record(now, "resolved", None, **outcome.model_dump(mode="json", exclude={"at", "status"}))
        return [Resolved()]

    # -- internals used by the action rules ---------------------------------------------------

    def _propose(self, proposal: Proposal, now: datetime) -> None:
        self._help_earned(Role.BUYER)  # the seller countered or contested the buyer's solution
        self.current_offer = proposal
        self._set_status(DisputeStatus.AWAITING_BUYER, now, new_proposal=True)

    def _carry_out_decision(self, now: datetime) -> Solution:
        """The decision recorded when care decided (and its appeal window opened) becomes the
        agreed outcome: no appeal came, both parties accepted it, or a supervisor confirmed it."""
        solution = self.agreed_solution
        assert solution is not None, "a decision is recorded when its appeal window opens"
        self._agree(solution, self.decided_by or "care", now)
        return solution

    def _agree(self, solution: Solution, decided_by: str, now: datetime) -> None:
        self.agreed_solution = solution
        self.decided_by = decided_by
        self._set_status(DisputeStatus.AWAITING_FULFILMENT, now)

    def _escalate(self, by: Role | Literal["system"], now: datetime, reason: str | None = None) -> None:
        self.escalated_at = now
        self.escalated_by = by
        self.escalation_reason = reason
        self.care_clock = ReplyClock.start(now, self.policy)
        target, warning = self.policy.care_decision_target, self.policy.care_decision_warning
        if target is not None:
            self.decision_clock = ReplyClock.aimed(CareTarget.DECISION, now, target, warning, self.calendar)
        self._set_status(DisputeStatus.IN_MEDIATION, now)
        route(self, self.reason.value, now)  # to the care group of its reason (domain/care.py)

    def _escalate_by_system(self, reason: str, now: datetime) -> list[DomainEvent]:
        closed = self.window.kind.value if self.window is not None else ""  # the notice says which
        self._escalate("system", now, reason)
        self._record(now, "escalated", None, by="system", reason=reason)
        return [Escalated(by="system", reason=reason, window=closed)]

    def _close(self, status: DisputeStatus, outcome: Outcome, now: datetime) -> None:
        self.outcome = outcome
        self.care_clock = None
        self.decision_clock = None
        self._set_status(status, now)

    def _set_status(self, status: DisputeStatus, now: datetime, *, new_proposal: bool = False) -> None:
        turn_before = self.turn
        self.status = status
        if status not in NEGOTIATING:
            self.response_due_at = None
            self.inactive_party = None
        elif new_proposal or self.turn is not turn_before:
            # The party who must answer gets the whole inactivity period for every new proposal.
            self._restart_turn_clock(now)
        # The party's window: the seller's response restarts with its turn (a message keeps it).
        if status is DisputeStatus.AWAITING_SELLER:
            if new_proposal or self.turn is not turn_before:
                self.window = Window.open(WindowKind.SELLER_RESPONSE, now, self.policy.seller_response)
        elif status is DisputeStatus.AWAITING_FULFILMENT:
            self._open_fulfilment_window(now)
        else:
            self.window = None

    def _open_fulfilment_window(self, now: datetime) -> None:
        """The window of whoever must ship next, or the buyer's to confirm receipt, from ``now``."""
        self.receipt_problem = False
        solution = self.agreed_solution
        if solution is not None and solution.kind is SolutionKind.RETURN_AND_REFUND:
            self.window = self._return_window(now)
        elif solution is None or solution.kind not in GOODS or self.received_at is not None:
            self.window = None
        elif self.next_shipper() is not None:
            self.window = Window.open(WindowKind.SHIPMENT, now, self.policy.shipment_window)
        else:
            self.window = Window.open(WindowKind.RECEIPT, now, self.policy.receipt_window)

    def _return_window(self, now: datetime) -> Window | None:
        """The buyer's window to ship the item back; while it is in transit, the time it may take
        to arrive; once it is delivered, the seller's inspection; none once the return has a verdict."""
        if self.return_result is not None:
            return None
        if self.next_shipper() is Role.BUYER:
            return Window.open(WindowKind.SHIPMENT, now, self.policy.shipment_window)
        shipment = self.return_shipment()
        if shipment is None:
            return None
        if shipment.delivered_at is None:
            return Window.open(WindowKind.RETURN_TRANSIT, now, self.policy.return_transit_window)
        return Window.open(WindowKind.RETURN_INSPECTION, now, self.policy.return_inspection_window)

    def _return_verdict(self, result: ReturnResult) -> None:
        self.return_result = result
        self.window = None

    def _restart_turn_clock(self, now: datetime) -> None:
        self.inactive_party = None
        self.response_due_at = now + self.policy.turn_inactivity

    def _help_earned(self, role: Role) -> None:
        if role not in self.help_earned:
            self.help_earned.append(role)

    def _release(self, amount: int) -> Payout:
        return Payout(
            kind=SolutionKind.RELEASE_TO_SELLER, party=Role.SELLER, party_id=self.seller_id, amount=amount
        )


# -- the actions: who may take each one when, and what it does ---------------------------------

DISPUTE_ACTIONS: ActionRegistry[Dispute] = ActionRegistry("dispute")
Dispute.actions = DISPUTE_ACTIONS
Dispute.effects = DISPUTE_EFFECTS


def _in(table: dict[DisputeStatus, set[Role]]) -> Callable[[Dispute, Role, datetime | None], bool]:
    """Allowed for the roles the table lists for the dispute's status."""
    return lambda dispute, role, now: role in table.get(dispute.status, set())


PARTIES = {Role.BUYER, Role.SELLER}
#: How far ahead of the case's clock a reported delivery may be (the platform's clock may run ahead).
DELIVERY_CLOCK_SKEW = timedelta(minutes=5)
NEGOTIATION = {DisputeStatus.AWAITING_SELLER: PARTIES, DisputeStatus.AWAITING_BUYER: PARTIES}


@DISPUTE_ACTIONS.action(SendMessage, roles=PARTIES, path="messages", allowed=lambda d, role, now: True)
def _message(dispute: Dispute, command: SendMessage, now: datetime) -> list[DomainEvent]:
    if dispute.status is DisputeStatus.IN_MEDIATION:
        dispute._care_owes_reply(now)
    if command.actor.role is Role.BUYER and dispute._window_is(WindowKind.RECEIPT):
        dispute.receipt_problem = True  # care takes over when the window closes, not the system
    return []


def _may_accept(dispute: Dispute, role: Role, now: datetime | None) -> bool:
    if dispute.status is DisputeStatus.DECIDED:
        return role not in dispute.decision_accepted_by
    return dispute.turn is role


@DISPUTE_ACTIONS.action(Accept, roles=PARTIES, path="accept", allowed=_may_accept)
def _accept(dispute: Dispute, command: Accept, now: datetime) -> list[DomainEvent]:
    if dispute.status is DisputeStatus.DECIDED:
        dispute.decision_accepted_by.append(command.actor.role)
        if set(dispute.decision_accepted_by) < PARTIES:
            return []
        dispute._carry_out_decision(now)
        return [DecisionFinal(reason="both parties accepted it")]
    if command.actor.role is Role.SELLER:
        agreed = dispute.requested_solution
    else:
        assert dispute.current_offer is not None, "AWAITING_BUYER always has a current offer"
        agreed = dispute.current_offer.solution
    dispute._agree(agreed, "agreement", now)
    return []


@DISPUTE_ACTIONS.action(
    Reject, roles={Role.BUYER}, path="reject", allowed=_in({DisputeStatus.AWAITING_BUYER: {Role.BUYER}})
)
def _reject(dispute: Dispute, command: Reject, now: datetime) -> list[DomainEvent]:
    dispute._help_earned(Role.SELLER)
    dispute.current_offer = None
    dispute._set_status(DisputeStatus.AWAITING_SELLER, now)
    return []


@DISPUTE_ACTIONS.action(MakeOffer, roles=PARTIES, path="offers", allowed=_in(NEGOTIATION))
def _offer(dispute: Dispute, command: MakeOffer, now: datetime) -> list[DomainEvent]:
    if command.actor.role is Role.BUYER:
        if dispute.status is DisputeStatus.AWAITING_BUYER:
            dispute._help_earned(Role.SELLER)  # a revision counters the seller's solution
        dispute.requested_solution = command.solution
        dispute.current_offer = None
        dispute._set_status(DisputeStatus.AWAITING_SELLER, now, new_proposal=True)
    else:
        dispute._propose(Proposal(by=Role.SELLER, solution=command.solution, note=command.note, at=now), now)
    return []


@DISPUTE_ACTIONS.action(
    Appeal, roles={Role.SELLER}, path="appeal", allowed=_in({DisputeStatus.AWAITING_SELLER: {Role.SELLER}})
)
def _appeal(dispute: Dispute, command: Appeal, now: datetime) -> list[DomainEvent]:
    release = Solution(kind=SolutionKind.RELEASE_TO_SELLER)
    dispute._propose(
        Proposal(by=Role.SELLER, solution=release, note=command.reason, appeal=True, at=now), now
    )
    return []


@DISPUTE_ACTIONS.action(
    Cancel, roles={Role.BUYER}, path="cancel", allowed=_in({status: {Role.BUYER} for status in NEGOTIATING})
)
def _cancel(dispute: Dispute, command: Cancel, now: datetime) -> list[DomainEvent]:
    outcome = Outcome(status=DisputeStatus.CANCELLED, decided_by="buyer_cancelled", at=now)
    dispute._close(DisputeStatus.CANCELLED, outcome, now)
    return [Cancelled()]


@DISPUTE_ACTIONS.action(
    RequestHelp, roles=PARTIES, path="help", allowed=lambda d, role, now: d.may_request_help(role, now)
)
def _help(dispute: Dispute, command: RequestHelp, now: datetime) -> list[DomainEvent]:
    dispute._escalate(command.actor.role, now)
    return [Escalated(by=command.actor.role.value)]


MEDIATION = {DisputeStatus.IN_MEDIATION: {Role.CARE}}


@DISPUTE_ACTIONS.action(CareReply, roles={Role.CARE}, path="care/replies", allowed=_in(MEDIATION))
def _care_reply(dispute: Dispute, command: CareReply, now: datetime) -> list[DomainEvent]:
    dispute.care_clock = None
    return [CareSpoke(text=command.text, articles=tuple(command.articles))]


@DISPUTE_ACTIONS.action(Decide, roles={Role.CARE}, path="care/decision", allowed=_in(MEDIATION))
def _decide(dispute: Dispute, command: Decide, now: datetime) -> list[DomainEvent]:
    dispute.care_clock = dispute.decision_clock = None
    window = None
    if dispute.decision_appeal is None:  # one appeal per dispute: a later decision is final at once
        window = Window.open(WindowKind.DECISION_APPEAL, now, dispute.policy.decision_appeal_window)
    if window is None:
        dispute._agree(command.solution, "care", now)
        return [Decided(solution=command.solution, note=command.note)]
    dispute.agreed_solution = command.solution
    dispute.decided_by = "care"
    dispute.decision_accepted_by = []
    dispute._set_status(DisputeStatus.DECIDED, now)
    dispute.window = window
    return [Decided(solution=command.solution, note=command.note, appeal_until=window.due_at)]


@DISPUTE_ACTIONS.action(
    AppealDecision,
    roles=PARTIES,
    path="decision/appeal",
    allowed=lambda d, role, now: d.status is DisputeStatus.DECIDED and role not in d.decision_accepted_by,
)
def _appeal_decision(dispute: Dispute, command: AppealDecision, now: datetime) -> list[DomainEvent]:
    dispute.decision_appeal = DecisionAppealRecord(
        by=command.actor.role, reason=command.reason, evidence=list(command.evidence), at=now
    )
    dispute._set_status(DisputeStatus.DECISION_APPEALED, now)
    review = ReplyClock.start(now, dispute.policy, CareTarget.REVIEW)
    dispute.care_clock = review
    return [DecisionAppealed(by=command.actor.role, review_due_at=review.due_at)]


REVIEW = {DisputeStatus.DECISION_APPEALED: {Role.SUPERVISOR}}


@DISPUTE_ACTIONS.action(
    ConfirmDecision, roles={Role.SUPERVISOR}, path="supervisor/confirm", allowed=_in(REVIEW)
)
def _confirm_decision(dispute: Dispute, command: ConfirmDecision, now: datetime) -> list[DomainEvent]:
    dispute.care_clock = None
    solution = dispute._carry_out_decision(now)
    return [DecisionReviewed(confirmed=True, solution=solution, note=command.note)]


@DISPUTE_ACTIONS.action(
    ReplaceDecision, roles={Role.SUPERVISOR}, path="supervisor/replace", allowed=_in(REVIEW)
)
def _replace_decision(dispute: Dispute, command: ReplaceDecision, now: datetime) -> list[DomainEvent]:
    dispute.care_clock = None
    dispute._agree(command.solution, "supervisor", now)
    return [DecisionReviewed(confirmed=False, solution=command.solution, note=command.note)]


@DISPUTE_ACTIONS.action(
    Ship,
    roles=PARTIES,
    path="shipments",
    allowed=lambda d, role, now: d.status is DisputeStatus.AWAITING_FULFILMENT and d.next_shipper() is role,
)
def _ship(dispute: Dispute, command: Ship, now: datetime) -> list[DomainEvent]:
    shipment = Shipment(
        by=command.actor.role, tracking_number=command.tracking_number, carrier=command.carrier, at=now
    )
    dispute.shipments.append(shipment)
    dispute._open_fulfilment_window(now)
    return []


@DISPUTE_ACTIONS.action(
    ConfirmReceipt,
    roles={Role.BUYER},
    path="confirm-receipt",
    allowed=lambda d, role, now: (
        d.status is DisputeStatus.AWAITING_FULFILMENT and d.replacement_shipped() and d.received_at is None
    ),
)
def _confirm_receipt(dispute: Dispute, command: ConfirmReceipt, now: datetime) -> list[DomainEvent]:
    dispute.received_at = now
    dispute.window = None
    return []


@DISPUTE_ACTIONS.action(
    ConfirmReturn,
    roles={Role.SELLER},
    path="return/confirm",
    allowed=lambda d, role, now: d.awaiting_inspection(),
)
def _confirm_return(dispute: Dispute, command: ConfirmReturn, now: datetime) -> list[DomainEvent]:
    dispute._return_verdict(ReturnResult(verdict=ReturnVerdict.CONFIRMED, by=Role.SELLER, at=now))
    return [ReturnConfirmed(by_system=False)]


@DISPUTE_ACTIONS.action(
    RefuseReturn,
    roles={Role.SELLER},
    path="return/refuse",
    allowed=lambda d, role, now: d.awaiting_inspection(),
)
def _refuse_return(dispute: Dispute, command: RefuseReturn, now: datetime) -> list[DomainEvent]:
    refused = ReturnResult(
        verdict=ReturnVerdict.REFUSED,
        by=Role.SELLER,
        reason=command.reason,
        evidence=list(command.evidence),
        at=now,
    )
    dispute._return_verdict(refused)
    dispute._escalate(Role.SELLER, now, reason="the seller refused the returned item")
    return [ReturnRefused(reason=command.reason), Escalated(by=Role.SELLER.value)]


def _payout_parked(dispute: Dispute, role: Role, now: datetime | None) -> bool:
    return any(_redecidable(parked.effect) for parked in dispute.attention)


def _redecidable(name: EffectName) -> bool:
    return DISPUTE_EFFECTS.repaired_by(name, Repair.NEW_DECISION)


@DISPUTE_ACTIONS.action(Redecide, roles={Role.CARE}, path="care/redecision", allowed=_payout_parked)
def _redecide(dispute: Dispute, command: Redecide, now: datetime) -> list[DomainEvent]:
    dispute.attention = [p for p in dispute.attention if not _redecidable(p.effect)]
    dispute.agreed_solution = command.solution
    dispute.decided_by = "care"
    dispute.decision_round += 1
    return [Decided(solution=command.solution, note=command.note)]


# -- asking a party for information (issue 18): care's targets wait for the answer ----------------


def _may_request_info(dispute: Dispute, role: Role, now: datetime | None) -> bool:
    asking = {DisputeStatus.IN_MEDIATION: Role.CARE, DisputeStatus.DECISION_APPEALED: Role.SUPERVISOR}
    unasked = [party for party in PARTIES if dispute.open_request(party) is None]
    return asking.get(dispute.status) is role and bool(unasked)


@DISPUTE_ACTIONS.action(
    RequestInfo, roles={Role.CARE, Role.SUPERVISOR}, path="care/request-info", allowed=_may_request_info
)
def _request_info(dispute: Dispute, command: RequestInfo, now: datetime) -> list[DomainEvent]:
    if dispute.care_clock is not None and dispute.care_clock.target is CareTarget.REPLY:
        dispute.care_clock = None  # asking a party is care's reply; its decision (or review) waits
    due_at = dispute._request_info(command, now)
    return [
        InfoRequested(
            party=command.party, text=command.text, due_at=due_at, evidence_type=command.evidence_type
        )
    ]


register_operator_actions(DISPUTE_ACTIONS)
#: Ownership (domain/care.py): care and supervisors in mediation, supervisors during their review.
register_care_actions(
    DISPUTE_ACTIONS,
    _in(
        {
            DisputeStatus.IN_MEDIATION: {Role.CARE, Role.SUPERVISOR, Role.OPERATOR},
            DisputeStatus.DECISION_APPEALED: {Role.SUPERVISOR, Role.OPERATOR},
        }
    ),
)
