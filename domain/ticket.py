"""Help-center reports (Pusat Bantuan): a user's report to care, answered within 1x24 hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field

from domain.case import CareCase, DeadlineEvent
from domain.commands import Action, Command
from domain.errors import InvalidTransition, NotAParty
from domain.types import (
    Actor,
    CasePolicy,
    EvidenceList,
    Identifier,
    Role,
    Text,
    short_duration,
)


class TicketTopic(StrEnum):
    """The help-center topics of the seed."""

    ACCOUNT = "ACCOUNT"
    ORDERS = "ORDERS"
    PAYMENT = "PAYMENT"
    SHIPPING = "SHIPPING"
    REFUNDS = "REFUNDS"
    BALANCE_WITHDRAWAL = "BALANCE_WITHDRAWAL"
    SALES = "SALES"
    PROMOTIONS = "PROMOTIONS"
    ACCOUNT_SECURITY = "ACCOUNT_SECURITY"


class TicketStatus(StrEnum):
    """Where a report stands; the search attribute ``TicketStatus`` holds the same value."""

    AWAITING_CARE = "AWAITING_CARE"
    AWAITING_USER = "AWAITING_USER"
    SOLVED = "SOLVED"
    CLOSED = "CLOSED"


class Priority(StrEnum):
    """Queue priority: account-security reports are raised."""

    NORMAL = "NORMAL"
    HIGH = "HIGH"


class ReporterRole(StrEnum):
    """The marketplace role of the user who files the report."""

    BUYER = "buyer"
    SELLER = "seller"


class TicketPolicy(CasePolicy):
    """Every duration a report runs under; copied into the workflow input when it is filed."""

    solved_quiet_period: timedelta = Field(
        default=timedelta(days=3), description="a solved report closes after this long without a user message"
    )


class TicketReport(BaseModel):
    """What the user files: topic, details and attachment references."""

    model_config = ConfigDict(extra="forbid")

    user_id: Identifier
    role: ReporterRole
    topic: TicketTopic
    order_id: Identifier | None = None
    details: Text
    attachments: EvidenceList = []

    @property
    def priority(self) -> Priority:
        """Account-security reports go first."""
        return Priority.HIGH if self.topic is TicketTopic.ACCOUNT_SECURITY else Priority.NORMAL

    def summary(self) -> str:
        """One line for the Temporal UI's static summary."""
        about = f" about order {self.order_id}" if self.order_id else ""
        raised = " [priority]" if self.priority is Priority.HIGH else ""
        return f"Help-center report{raised}: {self.topic.value} from {self.role.value} {self.user_id}{about}"


class OpenTicketInput(TicketReport):
    """The workflow input: the report, the linked dispute if any, and the policy in force."""

    model_config = ConfigDict(extra="forbid")

    dispute_id: str | None = None
    policy: TicketPolicy = TicketPolicy()

    def details_markdown(self) -> str:
        """Markdown for the Temporal UI's static details."""
        policy = self.policy
        lines = [
            f"**Topic** {self.topic.value} · **Priority** {self.priority.value}",
            f"**User** {self.user_id} ({self.role.value})",
            f"**Details** {self.details}",
        ]
        if self.order_id:
            lines.append(f"**Order** {self.order_id}")
        if self.dispute_id:
            lines.append(f"**Linked dispute** {self.dispute_id}")
        lines.append(
            f"**Policy** care reply target {short_duration(policy.care_reply_target)} (warning at"
            f" {short_duration(policy.care_reply_warning)}) · solved reports close after"
            f" {short_duration(policy.solved_quiet_period)} of quiet"
        )
        return "\n\n".join(lines)


class TicketMessage(BaseModel):
    """One message in a report's conversation."""

    author: Role
    author_id: str
    text: str
    at: datetime


class UserMessage(Command):
    """The reporting user writes (and reopens a solved report)."""

    action = Action.MESSAGE
    text: Text


class TicketReply(Command):
    """Care replies to the user; the reply goes to the user's inbox."""

    action = Action.REPLY
    text: Text


class Solve(Command):
    """Care marks the report solved; it closes after the quiet period."""

    action = Action.SOLVE


class Ticket(CareCase):
    """A help-center report's whole state; every change goes through ``apply`` or ``tick``."""

    user_id: str
    role: ReporterRole
    topic: TicketTopic
    priority: Priority
    order_id: str | None
    dispute_id: str | None
    attachments: list[str]
    policy: TicketPolicy
    opened_at: datetime
    status: TicketStatus = TicketStatus.AWAITING_CARE
    messages: list[TicketMessage] = []
    solved_at: datetime | None = None
    closes_at: datetime | None = None

    @classmethod
    def open(cls, ticket_id: str, request: OpenTicketInput, now: datetime) -> Ticket:
        """File the report; care owes the first reply from now."""
        ticket = cls(
            id=ticket_id,
            user_id=request.user_id,
            role=request.role,
            topic=request.topic,
            priority=request.priority,
            order_id=request.order_id,
            dispute_id=request.dispute_id,
            attachments=list(request.attachments),
            policy=request.policy,
            opened_at=now,
        )
        ticket._say(Actor(role=Role.USER, id=request.user_id), request.details, now)
        ticket._care_owes_reply(now, request.policy)
        ticket._record(
            now,
            "opened",
            Actor(role=Role.USER, id=request.user_id),
            topic=request.topic.value,
            order_id=request.order_id,
            dispute_id=request.dispute_id,
            attachments=list(request.attachments),
        )
        return ticket

    @property
    def closed(self) -> bool:
        """True once the quiet period after solving has passed."""
        return self.status is TicketStatus.CLOSED

    @computed_field  # type: ignore[prop-decorator]
    @property
    def allowed_actions(self) -> dict[Role, list[Action]]:
        """What the user and care may do now."""
        if self.closed:
            return {Role.USER: [], Role.CARE: []}
        care = [] if self.status is TicketStatus.SOLVED else [Action.REPLY, Action.SOLVE]
        return {Role.USER: [Action.MESSAGE], Role.CARE: care}

    def is_party(self, actor: Actor) -> bool:
        """Whether ``actor`` is the reporting user; care acts on any report."""
        return (actor.role is Role.USER and actor.id == self.user_id) or actor.role is Role.CARE

    def check(self, command: Command, now: datetime) -> None:
        """Raise the error ``apply`` would raise, without changing anything."""
        actor = command.actor
        if not self.is_party(actor):
            raise NotAParty(f"{actor.role.value} {actor.id} is not the reporter of {self.id} nor care")
        allowed = self.allowed_actions
        if (
            not isinstance(command, UserMessage | TicketReply | Solve)
            or command.action not in allowed[actor.role]
        ):
            raise InvalidTransition(
                f"{actor.role.value} may not {command.action.value} while the report is {self.status.value}",
                current_status=self.status.value,
                allowed_actions={role.value: [a.value for a in acts] for role, acts in allowed.items()},
            )

    def apply(self, command: Command, now: datetime) -> None:
        """Check ``command`` and carry it out, recording it on the timeline."""
        self.check(command, now)
        actor = command.actor
        match command:
            case UserMessage():
                self._say(actor, command.text, now)
                reopened = self.status is TicketStatus.SOLVED
                self.status = TicketStatus.AWAITING_CARE
                self.solved_at = self.closes_at = None
                self._care_owes_reply(now, self.policy)
                if reopened:
                    self._record(now, "reopened", actor)
            case TicketReply():
                self._say(actor, command.text, now)
                self.status = TicketStatus.AWAITING_USER
                self.care_clock = None
            case Solve():
                self.status = TicketStatus.SOLVED
                self.care_clock = None
                self.solved_at = now
                self.closes_at = now + self.policy.solved_quiet_period
        self._record(now, command.action.value, actor, **command.model_dump(mode="json", exclude={"actor"}))

    def _say(self, author: Actor, text: str, now: datetime) -> None:
        self.messages.append(TicketMessage(author=author.role, author_id=author.id, text=text, at=now))

    def next_deadline(self) -> tuple[datetime, DeadlineEvent] | None:
        """The earliest clock that can still run out, and what happens when it does."""
        candidates = self._care_deadline()
        if self.status is TicketStatus.SOLVED and self.closes_at:
            candidates.append((self.closes_at, DeadlineEvent.QUIET_PERIOD_OVER))
        return min(candidates, default=None)

    def tick(self, now: datetime) -> list[DeadlineEvent]:
        """Mark every clock that ran out by ``now``; return what newly happened."""
        events = self._tick_care_clock(now)
        if self.status is TicketStatus.SOLVED and self.closes_at and self.closes_at <= now:
            self.status = TicketStatus.CLOSED
            events.append(DeadlineEvent.QUIET_PERIOD_OVER)
            self._record(
                now, "closed", None, solved_at=self.solved_at.isoformat() if self.solved_at else None
            )
        return events

    def describe_deadline(self, event: DeadlineEvent) -> str:
        """Name a clock the way the timer summary and on-call see it."""
        if event is DeadlineEvent.QUIET_PERIOD_OVER:
            return f"close after quiet period {short_duration(self.policy.solved_quiet_period)}"
        return super().describe_deadline(event)

    def deadline_effect(self, event: DeadlineEvent) -> str:
        """What happens when the clock for ``event`` runs out, in words."""
        if event is DeadlineEvent.QUIET_PERIOD_OVER:
            return "the report closes"
        return super().deadline_effect(event)

    def current_details(self) -> str:
        """Markdown for the Temporal UI: status, who it waits for, the next deadline and its effect."""
        waiting = {
            TicketStatus.AWAITING_CARE: "care: reply to the user",
            TicketStatus.AWAITING_USER: "the user (care has replied)",
            TicketStatus.SOLVED: "nothing: solved; a user message reopens it",
        }.get(self.status)
        lines = [
            f"**Status:** {self.status.value} · **Priority:** {self.priority.value}",
            f"**Topic:** {self.topic.value} · user {self.user_id} ({self.role.value})",
        ]
        if self.dispute_id:
            lines.append(f"**Linked dispute:** {self.dispute_id}")
        if waiting:
            lines.append(f"**Waiting for:** {waiting}")
        lines += self.clock_lines()
        return "\n\n".join(lines)


TICKET_COMMANDS: dict[Action, type[Command]] = {
    command.action: command for command in (UserMessage, TicketReply, Solve)
}
