"""The dispute rules (Pusat Resolusi): who may do what in which state, and what follows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from domain.case import CareCase, DeadlineEvent, ReplyClock
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
from domain.errors import InvalidInput, InvalidTransition, NotAParty
from domain.types import (
    Actor,
    DisputePolicy,
    EvidenceList,
    Identifier,
    Role,
    Solution,
    SolutionKind,
    Text,
    short_duration,
)


class DisputeStatus(StrEnum):
    """Where a dispute stands; the search attribute ``DisputeStatus`` holds the same value."""

    AWAITING_SELLER = "AWAITING_SELLER"
    AWAITING_BUYER = "AWAITING_BUYER"
    IN_MEDIATION = "IN_MEDIATION"
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
    order_total: int = Field(gt=0, description="integer rupiah")
    reason: Reason
    requested_solution: Solution
    description: Text
    evidence: EvidenceList = []

    @model_validator(mode="after")
    def _refund_within_total(self) -> Self:
        amount = self.requested_solution.amount
        if amount is not None and amount > self.order_total:
            raise ValueError(f"requested_solution.amount {amount} is above order_total {self.order_total}")
        if self.buyer_id == self.seller_id:
            raise ValueError("buyer_id and seller_id must differ")
        return self

    def summary(self) -> str:
        """One line for the Temporal UI's static summary."""
        return (
            f"Dispute on order {self.order_id}: buyer {self.buyer_id} vs seller {self.seller_id},"
            f" {self.reason.value}, asks to {self.requested_solution.describe()}"
        )


class OpenDisputeInput(DisputeClaim):
    """The workflow input: the claim plus the policy in force when it was opened."""

    policy: DisputePolicy = DisputePolicy()

    def details(self) -> str:
        """Markdown for the Temporal UI's static details: the claim and the policy it runs under."""
        policy = self.policy
        return "\n\n".join(
            [
                f"**Order** {self.order_id} · total {self.order_total}",
                f"**Buyer** {self.buyer_id} · **Seller** {self.seller_id}",
                f"**Reason** {self.reason.value}: {self.description}",
                f"**Requested** {self.requested_solution.describe()}",
                f"**Policy** inactivity {short_duration(policy.buyer_inactivity)} · care reply target"
                f" {short_duration(policy.care_reply_target)} (warning at"
                f" {short_duration(policy.care_reply_warning)})",
            ]
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


class Shipment(BaseModel):
    """A shipment with its tracking number (resi)."""

    by: Role
    tracking_number: str
    carrier: str
    at: datetime


class Payout(BaseModel):
    """Money the service moves when a dispute is settled."""

    kind: SolutionKind
    party: Role
    party_id: str
    amount: int


class Outcome(BaseModel):
    """How a dispute ended."""

    status: DisputeStatus
    solution: Solution | None = None
    decided_by: str = Field(description="'agreement', 'care' or 'buyer_cancelled'")
    refunded_to_buyer: int = 0
    released_to_seller: int = 0
    at: datetime


def _other(role: Role) -> Role:
    return Role.SELLER if role is Role.BUYER else Role.BUYER


class Dispute(CareCase):
    """A dispute's whole state; every change goes through ``apply`` or a clock method."""

    order_id: str
    buyer_id: str
    seller_id: str
    order_total: int
    reason: Reason
    description: str
    evidence: list[str]
    policy: DisputePolicy
    opened_at: datetime
    status: DisputeStatus = DisputeStatus.AWAITING_SELLER
    requested_solution: Solution
    current_offer: Proposal | None = None
    proposals: list[Proposal] = []
    response_due_at: datetime | None = Field(
        default=None, description="when the party whose turn it is counts as inactive"
    )
    inactive_party: Role | None = None
    help_earned: list[Role] = Field(
        default=[], description="parties whose solution the other declined, countered or contested"
    )
    escalated_at: datetime | None = None
    escalated_by: Role | None = None
    mediation_case_ref: str | None = None
    agreed_solution: Solution | None = None
    decided_by: str | None = None
    shipments: list[Shipment] = []
    received_at: datetime | None = None
    outcome: Outcome | None = None
    linked_tickets: list[str] = Field(default=[], description="help-center reports about this order")

    # -- creation -----------------------------------------------------------------------------

    @classmethod
    def open(cls, dispute_id: str, request: OpenDisputeInput, now: datetime) -> Dispute:
        """Open a dispute for the buyer's complaint; it is the seller's turn first."""
        dispute = cls(
            id=dispute_id,
            order_id=request.order_id,
            buyer_id=request.buyer_id,
            seller_id=request.seller_id,
            order_total=request.order_total,
            reason=request.reason,
            description=request.description,
            evidence=list(request.evidence),
            policy=request.policy,
            opened_at=now,
            requested_solution=request.requested_solution,
            response_due_at=now + request.policy.buyer_inactivity,
        )
        dispute._record(
            now,
            "opened",
            Actor(role=Role.BUYER, id=request.buyer_id),
            reason=request.reason.value,
            solution=request.requested_solution.model_dump(mode="json"),
            description=request.description,
            evidence=list(request.evidence),
        )
        return dispute

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
    def buyer_inactive_at(self) -> datetime | None:
        """When the buyer's silence lets the seller ask for help (only while it is the buyer's turn)."""
        return self.response_due_at if self.status is DisputeStatus.AWAITING_BUYER else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def allowed_actions(self) -> dict[Role, list[Action]]:
        """What each role may do now (PayPal-style per-party allowed actions)."""
        return self.allowed_actions_at(None)

    def allowed_actions_at(self, now: datetime | None) -> dict[Role, list[Action]]:
        """What each role may do at ``now``, counting a turn clock that ran out but whose timer
        the workflow has not handled yet; ``None`` reads the recorded state only."""
        allowed: dict[Role, list[Action]] = {Role.BUYER: [], Role.SELLER: [], Role.CARE: []}
        if self.closed:
            return allowed
        buyer, seller, care = allowed[Role.BUYER], allowed[Role.SELLER], allowed[Role.CARE]
        buyer.append(Action.MESSAGE)
        seller.append(Action.MESSAGE)
        if self.status is DisputeStatus.AWAITING_SELLER:
            seller += [Action.ACCEPT, Action.OFFER, Action.APPEAL]
            buyer += [Action.OFFER, Action.CANCEL]
        elif self.status is DisputeStatus.AWAITING_BUYER:
            buyer += [Action.ACCEPT, Action.REJECT, Action.OFFER, Action.CANCEL]
            seller += [Action.OFFER]
        elif self.status is DisputeStatus.IN_MEDIATION:
            care += [Action.REPLY, Action.DECIDE]
        elif self.status is DisputeStatus.AWAITING_FULFILMENT:
            for role in (Role.BUYER, Role.SELLER):
                if self._next_shipper() is role:
                    allowed[role].append(Action.SHIP)
            if self._replacement_shipped() and self.received_at is None:
                buyer.append(Action.CONFIRM_RECEIPT)
        for role in (Role.BUYER, Role.SELLER):
            if self.may_request_help(role, now):
                allowed[role].append(Action.HELP)
        return allowed

    def may_request_help(self, role: Role, now: datetime | None = None) -> bool:
        """A party may escalate once its solution was declined or the other party went silent."""
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
        return actor.role is Role.CARE

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
        refund = solution.amount or 0
        payouts = [
            Payout(kind=SolutionKind.REFUND_TO_BUYER, party=Role.BUYER, party_id=self.buyer_id, amount=refund)
        ]
        if refund < self.order_total:
            payouts.append(self._release(self.order_total - refund))
        return payouts

    def next_deadline(self) -> tuple[datetime, DeadlineEvent] | None:
        """The earliest clock that can still run out, and what happens when it does."""
        candidates: list[tuple[datetime, DeadlineEvent]] = []
        if self.status in NEGOTIATING and self.response_due_at and self.inactive_party is None:
            candidates.append((self.response_due_at, DeadlineEvent.PARTY_INACTIVE))
        return min(candidates + self._care_deadline(), default=None)

    def describe_deadline(self, event: DeadlineEvent) -> str:
        """Name a clock the way the timer summary and on-call see it."""
        if event is DeadlineEvent.PARTY_INACTIVE:
            return f"{self.turn} inactivity {short_duration(self.policy.buyer_inactivity)}"
        return super().describe_deadline(event)

    def deadline_effect(self, event: DeadlineEvent) -> str:
        """What happens when the clock for ``event`` runs out, in words."""
        if event is DeadlineEvent.PARTY_INACTIVE:
            return (
                f"the {self.turn} counts as inactive and the {_other(self.turn or Role.BUYER)}"
                " may ask care for help"
            )
        return super().deadline_effect(event)

    def current_details(self) -> str:
        """Markdown for the Temporal UI: status, whose move it is, the next deadline and its effect."""
        lines = [
            f"**Status:** {self.status.value}",
            f"**Order:** {self.order_id} · buyer {self.buyer_id} · seller {self.seller_id}"
            f" · total {self.order_total}",
            f"**Requested:** {self.requested_solution.describe()}",
        ]
        if self.current_offer:
            kind = "appeal" if self.current_offer.appeal else "offer"
            lines.append(f"**Current {kind}:** {self.current_offer.solution.describe()}")
        waiting = {
            DisputeStatus.AWAITING_SELLER: "the seller: accept, offer another solution or appeal",
            DisputeStatus.AWAITING_BUYER: "the buyer: accept, reject or revise",
            DisputeStatus.IN_MEDIATION: "care: reply to the parties and decide a solution",
            DisputeStatus.AWAITING_FULFILMENT: self._fulfilment_waits_for(),
        }.get(self.status)
        if waiting:
            lines.append(f"**Waiting for:** {waiting}")
        lines += self.clock_lines()
        if self.linked_tickets:
            lines.append(f"**Help-center reports:** {', '.join(self.linked_tickets)}")
        if self.outcome:
            lines.append(f"**Outcome:** {self.outcome.decided_by}, {self._outcome_text()}")
        return "\n\n".join(lines)

    # -- commands -----------------------------------------------------------------------------

    def check(self, command: Command, now: datetime) -> None:
        """Raise the error ``apply`` would raise at ``now``, without changing anything."""
        actor = command.actor
        if not self.is_party(actor):
            raise NotAParty(f"{actor.role.value} {actor.id} is not a party to dispute {self.id}")
        allowed = self.allowed_actions_at(now)
        if command.action not in allowed[actor.role]:
            raise InvalidTransition(
                f"{actor.role.value} may not {command.action.value} while the dispute is {self.status.value}",
                current_status=self.status.value,
                allowed_actions={role.value: [a.value for a in acts] for role, acts in allowed.items()},
            )
        solution = getattr(command, "solution", None)
        if isinstance(solution, Solution) and (solution.amount or 0) > self.order_total:
            raise InvalidInput(
                "solution.amount", f"{solution.amount} is above the order total {self.order_total}"
            )

    def apply(self, command: Command, now: datetime) -> None:
        """Check ``command`` and carry it out, recording it on the timeline."""
        self.check(command, now)
        actor = command.actor
        if actor.role is self.turn:
            # Any action by the party whose turn it is counts as activity, even one that
            # arrives in the same instant as the inactivity timer.
            self._restart_turn_clock(now)
        match command:
            case SendMessage():
                self._on_message(command, now)
            case MakeOffer():
                self._on_offer(command, now)
            case Accept():
                agreed = self.requested_solution if actor.role is Role.SELLER else self._offer_solution()
                self._agree(agreed, "agreement", now)
            case Reject():
                self._help_earned(Role.SELLER)
                self.current_offer = None
                self._set_status(DisputeStatus.AWAITING_SELLER, now)
            case Appeal():
                proposal = Proposal(
                    by=Role.SELLER,
                    solution=Solution(kind=SolutionKind.RELEASE_TO_SELLER),
                    note=command.reason,
                    appeal=True,
                    at=now,
                )
                self._propose(proposal, now)
            case RequestHelp():
                self._escalate(actor.role, now)
            case Cancel():
                self._close(
                    DisputeStatus.CANCELLED,
                    Outcome(status=DisputeStatus.CANCELLED, decided_by="buyer_cancelled", at=now),
                    now,
                )
            case CareReply():
                self.care_clock = None
            case Decide():
                self.care_clock = None
                self._agree(command.solution, "care", now)
            case Ship():
                self.shipments.append(
                    Shipment(
                        by=actor.role,
                        tracking_number=command.tracking_number,
                        carrier=command.carrier,
                        at=now,
                    )
                )
            case ConfirmReceipt():
                self.received_at = now
        detail = command.model_dump(mode="json", exclude={"actor"})
        self._record(now, command.action.value, actor, **detail)

    # -- clocks and effects reported back by the workflow -------------------------------------

    def tick(self, now: datetime) -> list[DeadlineEvent]:
        """Mark every clock that ran out by ``now``; return what newly happened."""
        events: list[DeadlineEvent] = []
        due = self.response_due_at
        if self.status in NEGOTIATING and due and due <= now and self.inactive_party is None:
            self.inactive_party = self.turn
            events.append(DeadlineEvent.PARTY_INACTIVE)
            self._record(now, "party_inactive", None, party=self.turn, since=due.isoformat())
        return events + self._tick_care_clock(now)

    def link_ticket(self, ticket_id: str, now: datetime) -> None:
        """Record a help-center report about this dispute's order (once)."""
        if ticket_id not in self.linked_tickets:
            self.linked_tickets.append(ticket_id)
            self._record(now, "ticket_linked", None, ticket_id=ticket_id)

    def mediation_opened(self, case_ref: str, assignee: str, now: datetime) -> None:
        """Record the care desk's mediation case once the activities have opened and assigned it."""
        self.mediation_case_ref = case_ref
        self._record(now, "mediation_opened", None, case_ref=case_ref, assignee=assignee)

    def settled(self, payouts: list[Payout], now: datetime) -> None:
        """Close the dispute after its payouts have been carried out."""
        solution = self.agreed_solution
        outcome = Outcome(
            status=DisputeStatus.RESOLVED,
            solution=solution,
            decided_by=self.decided_by or "agreement",
            refunded_to_buyer=sum(p.amount for p in payouts if p.party is Role.BUYER),
            released_to_seller=sum(p.amount for p in payouts if p.party is Role.SELLER),
            at=now,
        )
        self._close(DisputeStatus.RESOLVED, outcome, now)
        self._record(now, "resolved", None, **outcome.model_dump(mode="json", exclude={"at", "status"}))

    # -- internals ----------------------------------------------------------------------------

    def _on_message(self, command: SendMessage, now: datetime) -> None:
        if self.status is DisputeStatus.IN_MEDIATION:
            self._care_owes_reply(now, self.policy)

    def _on_offer(self, command: MakeOffer, now: datetime) -> None:
        if command.actor.role is Role.BUYER:
            if self.status is DisputeStatus.AWAITING_BUYER:
                self._help_earned(Role.SELLER)  # a revision counters the seller's solution
            self.requested_solution = command.solution
            self.current_offer = None
            self.proposals.append(
                Proposal(by=Role.BUYER, solution=command.solution, note=command.note, at=now)
            )
            self._set_status(DisputeStatus.AWAITING_SELLER, now, new_proposal=True)
            return
        self._propose(Proposal(by=Role.SELLER, solution=command.solution, note=command.note, at=now), now)

    def _propose(self, proposal: Proposal, now: datetime) -> None:
        self._help_earned(Role.BUYER)  # the seller countered or contested the buyer's solution
        self.current_offer = proposal
        self.proposals.append(proposal)
        self._set_status(DisputeStatus.AWAITING_BUYER, now, new_proposal=True)

    def _offer_solution(self) -> Solution:
        assert self.current_offer is not None, "AWAITING_BUYER always has a current offer"
        return self.current_offer.solution

    def _agree(self, solution: Solution, decided_by: str, now: datetime) -> None:
        self.agreed_solution = solution
        self.decided_by = decided_by
        self._set_status(DisputeStatus.AWAITING_FULFILMENT, now)

    def _escalate(self, by: Role, now: datetime) -> None:
        self.escalated_at = now
        self.escalated_by = by
        self.care_clock = ReplyClock.start(now, self.policy)
        self._set_status(DisputeStatus.IN_MEDIATION, now)

    def _close(self, status: DisputeStatus, outcome: Outcome, now: datetime) -> None:
        self.outcome = outcome
        self.care_clock = None
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

    def _restart_turn_clock(self, now: datetime) -> None:
        self.inactive_party = None
        self.response_due_at = now + self.policy.buyer_inactivity

    def _help_earned(self, role: Role) -> None:
        if role not in self.help_earned:
            self.help_earned.append(role)

    def _release(self, amount: int) -> Payout:
        return Payout(
            kind=SolutionKind.RELEASE_TO_SELLER, party=Role.SELLER, party_id=self.seller_id, amount=amount
        )

    def _next_shipper(self) -> Role | None:
        kind = self.agreed_solution.kind if self.agreed_solution else None
        shipped_by = [s.by for s in self.shipments]
        if kind is SolutionKind.EXCHANGE:
            if Role.BUYER not in shipped_by:
                return Role.BUYER  # the buyer returns the product first
            return None if Role.SELLER in shipped_by else Role.SELLER
        if kind is SolutionKind.SEND_REMAINING and Role.SELLER not in shipped_by:
            return Role.SELLER
        return None

    def _replacement_shipped(self) -> bool:
        return any(s.by is Role.SELLER for s in self.shipments)

    def _fulfilment_waits_for(self) -> str:
        shipper = self._next_shipper()
        if shipper is Role.BUYER:
            return "the buyer to ship the product back (tracking number)"
        if shipper is Role.SELLER:
            return "the seller to ship the items (tracking number)"
        if self._replacement_shipped() and self.received_at is None:
            return "the buyer to confirm receipt"
        return "the payouts to complete"

    def _outcome_text(self) -> str:
        assert self.outcome is not None
        if self.outcome.status is DisputeStatus.CANCELLED:
            return "cancelled by the buyer"
        return (
            f"refunded {self.outcome.refunded_to_buyer} to buyer,"
            f" released {self.outcome.released_to_seller} to seller"
        )
