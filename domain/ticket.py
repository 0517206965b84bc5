"""Help-center reports (Pusat Bantuan): a user's report to care, answered within 1x24 hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from domain.care import register_care_actions, route
from domain.case import (
    CareCase,
    DeadlineEvent,
    Pause,
    PauseKind,
    Window,
    WindowKind,
    register_operator_actions,
)
from domain.commands import Action, Command
from domain.effects import CASE_EFFECTS
from domain.events import CareSpoke, Closed, DomainEvent, Solved
from domain.registry import ActionRegistry
from domain.types import (
    DEFAULT_LOCALE,
    Actor,
    ArticleList,
    CasePolicy,
    Deadline,
    EvidenceList,
    EvidenceTypes,
    Identifier,
    Locale,
    MacroId,
    OptionalDuration,
    Role,
    Text,
    Then,
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
    user_wait: OptionalDuration = Field(
        default=None,
        description="a report waiting on the user is solved by the system after this long; None: never",
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
    viewed_articles: list[Identifier] = Field(
        default=[], max_length=50, description="Help Center articles the user read before writing"
    )
    locale: Locale = Field(default=DEFAULT_LOCALE, description="the language of the user's notices")
    evidence_types: EvidenceTypes = {}

    @property
    def priority(self) -> Priority:
        """Account-security reports go first."""
        return Priority.HIGH if self.topic is TicketTopic.ACCOUNT_SECURITY else Priority.NORMAL


class OpenTicketInput(TicketReport):
    """The workflow input: the report, the linked dispute if any, and the policy in force."""

    model_config = ConfigDict(extra="forbid")

    dispute_id: str | None = None
    policy: TicketPolicy = TicketPolicy()
    opened_at: datetime | None = Field(
        default=None, description="when the API accepted the report; the workflow's start time if unset"
    )


class TicketMessage(BaseModel):
    """One message in a report's conversation (read from its timeline)."""

    author: Role
    author_id: str
    text: str
    at: datetime


class UserMessage(Command):
    """The reporting user writes (and reopens a solved report)."""

    action = Action.MESSAGE
    counts_as_message = True
    text: Text


class TicketReply(Command):
    """Care replies to the user, citing Help Center articles if useful; the reply goes to the user's inbox."""

    action = Action.REPLY
    text: Text
    articles: ArticleList = []
    macro_id: MacroId = None


class Solve(Command):
    """Care marks the report solved; it closes after the quiet period."""

    action = Action.SOLVE


class Ticket(CareCase):
    """A help-center report's whole state; every change goes through ``apply`` or ``tick``."""

    roles: ClassVar[tuple[Role, ...]] = (Role.USER, Role.CARE, Role.SUPERVISOR, Role.OPERATOR)

    user_id: str
    role: ReporterRole
    topic: TicketTopic
    priority: Priority
    order_id: str | None
    dispute_id: str | None
    attachments: list[str]
    policy: TicketPolicy
    viewed_articles: list[str] = []
    status: TicketStatus = TicketStatus.AWAITING_CARE
    solved_at: datetime | None = None
    closes_at: datetime | None = None
    locale: Locale = Field(default=DEFAULT_LOCALE, description="the language of the user's notices")

    @classmethod
    def _initial(cls, request: OpenTicketInput) -> dict[str, Any]:
        return {"priority": request.priority}

    @classmethod
    def _opening(cls, request: OpenTicketInput) -> tuple[Actor, dict[str, Any]]:
        """The user files the report: its topic, order and dispute, text and attachments."""
        report = request.model_dump(mode="json", include={"topic", "order_id", "dispute_id", "attachments"})
        return Actor(role=Role.USER, id=request.user_id), report | {"text": request.details}

    def _opened(self, now: datetime) -> None:
        """Care owes the first reply from now."""
        self._care_owes_reply(now)

    def _after_opening(self, now: datetime) -> None:
        """The report waits for care from the start: it goes to the care group of its topic."""
        route(self, self.topic.value, now)

    @property
    def closed(self) -> bool:
        """True once the quiet period after solving has passed."""
        return self.status is TicketStatus.CLOSED

    def is_party(self, actor: Actor) -> bool:
        """Whether ``actor`` is the reporting user; care acts on any report."""
        return (actor.role is Role.USER and actor.id == self.user_id) or actor.role in (
            Role.CARE,
            Role.SUPERVISOR,
            Role.OPERATOR,
        )

    def next_deadline(self) -> tuple[datetime, DeadlineEvent] | None:
        """The earliest clock that can still run out, and what happens when it does."""
        candidates = self._shared_deadlines()
        if self.status is TicketStatus.SOLVED and self.closes_at:
            candidates.append((self.closes_at, DeadlineEvent.QUIET_PERIOD_OVER))
        if self.window is not None:
            candidates.append((self.window.due_at, self.window.kind.closes))
        return min(candidates, default=None)

    def _party_deadlines(self) -> list[Deadline]:
        found = []
        if self.window is not None:
            found.append(
                Deadline(party=Role.USER, action="message", due_at=self.window.due_at, then=Then.SOLVED)
            )
        if self.status is TicketStatus.SOLVED and self.closes_at:
            found.append(Deadline(party=Role.USER, action="message", due_at=self.closes_at, then=Then.CLOSED))
        return found

    def _party_window(self) -> tuple[Deadline, datetime] | None:
        if self.window is None:
            return None
        return self._party_deadlines()[0], self.window.opened_at

    def _solved(self, now: datetime) -> None:
        """Solved now (by care, or by the system for a silent user): closes after the quiet period."""
        self.status = TicketStatus.SOLVED
        self.care_clock = None
        self.window = None
        self.solved_at = now
        self.closes_at = now + self.policy.solved_quiet_period

    def tick(self, now: datetime) -> list[DomainEvent]:
        """Mark every clock that ran out by ``now``; return what newly happened."""
        happened = self._tick_care_clock(now) + self._tick_reminder(now)
        window = self.window
        if window is not None and window.due_at <= now:
            # The user did not answer care's reply: the report is solved for it, and closes after
            # the quiet period unless the user writes again, as a report care solved does.
            waited = short_duration(window.due_at - window.opened_at)
            self._solved(now)
            happened.append(Solved(by_system=True))
            self._record(now, "solved", None, by="system", reason=f"no answer from the user within {waited}")
        if self.status is TicketStatus.SOLVED and self.closes_at and self.closes_at <= now:
            self.status = TicketStatus.CLOSED
            happened.append(Closed())
            self._record(
                now, "closed", None, solved_at=self.solved_at.isoformat() if self.solved_at else None
            )
        return happened


# -- the actions: who may take each one when, and what it does ---------------------------------

TICKET_ACTIONS: ActionRegistry[Ticket] = ActionRegistry("ticket")
Ticket.actions = TICKET_ACTIONS
#: A report causes what every case causes: its changes handed out, its archive, care's alerts.
TICKET_EFFECTS = CASE_EFFECTS.extended("ticket")
Ticket.effects = TICKET_EFFECTS


@TICKET_ACTIONS.action(UserMessage, roles={Role.USER}, path="messages", allowed=lambda t, role, now: True)
def _user_message(ticket: Ticket, command: UserMessage, now: datetime) -> list[DomainEvent]:
    reopened = ticket.status is TicketStatus.SOLVED
    ticket.status = TicketStatus.AWAITING_CARE
    ticket.solved_at = ticket.closes_at = None
    ticket.window = None
    ticket._care_owes_reply(now)
    if reopened:
        ticket._record(now, "reopened", command.actor)
    return []


def _care_may_act(ticket: Ticket, role: Role, now: datetime | None) -> bool:
    return ticket.status is not TicketStatus.SOLVED


@TICKET_ACTIONS.action(TicketReply, roles={Role.CARE}, path="care/replies", allowed=_care_may_act)
def _reply(ticket: Ticket, command: TicketReply, now: datetime) -> list[DomainEvent]:
    ticket.status = TicketStatus.AWAITING_USER
    ticket.care_clock = None
    ticket.window = Window.open(WindowKind.USER_REPLY, now, ticket.policy.user_wait)
    return [CareSpoke(text=command.text, articles=tuple(command.articles))]


@TICKET_ACTIONS.action(Solve, roles={Role.CARE}, path="solve", allowed=_care_may_act)
def _solve(ticket: Ticket, command: Solve, now: datetime) -> list[DomainEvent]:
    ticket._solved(now)
    return [Solved()]


# -- a report on hold (issue 18): its reply target waits until the user writes or care resumes -----


class Hold(Command):
    """Care puts the report on hold with a reason; its reply target waits for the user or care."""

    action = "hold"
    reason: Text


class Resume(Command):
    """Care takes the report off hold; its reply target counts again with the time it had left."""

    action = "resume"


@TICKET_ACTIONS.action(
    Hold,
    roles={Role.CARE},
    path="care/hold",
    allowed=lambda t, role, now: t.status is TicketStatus.AWAITING_CARE and t.on_hold is None,
)
def _hold(ticket: Ticket, command: Hold, now: datetime) -> list[DomainEvent]:
    hold = Pause(kind=PauseKind.HOLD, party=Role.USER, text=command.reason, since=now, status=ticket.status)
    ticket._pause(hold, now)
    return []


@TICKET_ACTIONS.action(
    Resume, roles={Role.CARE}, path="care/resume", allowed=lambda t, role, now: t.on_hold is not None
)
def _resume(ticket: Ticket, command: Resume, now: datetime) -> list[DomainEvent]:
    hold = ticket.on_hold
    assert hold is not None, "allowed only on hold"
    return ticket._end_pause(hold, "hold_ended", now, by=command.actor.id)


register_operator_actions(TICKET_ACTIONS)
#: Ownership (domain/care.py): while the report waits for care.
register_care_actions(
    TICKET_ACTIONS,
    lambda t, role, now: t.status is TicketStatus.AWAITING_CARE and role is not Role.USER,
)
