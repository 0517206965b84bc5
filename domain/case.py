"""What every care case shares: actions through a registry, the care targets (the reply within
1x24 hours and the others) and their breaches, the parties' windows and their reminders, the
deadlines as data, and the audit timeline."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import BaseModel, Field, computed_field

from domain.calendar import BusinessCalendar, business_add, business_between
from domain.care import to_supervisors
from domain.commands import Command, RequestInfo, ResolveEffect, RetryEffect
from domain.effects import EffectName, EffectRegistry, Repair
from domain.errors import InvalidInput, InvalidTransition, LimitReached, NotAParty
from domain.events import (
    Acted,
    CareReplyDue,
    DomainEvent,
    EffectParked,
    EffectRepaired,
    PauseEnded,
    Reminded,
)
from domain.registry import ActionRegistry
from domain.types import (
    Actor,
    CareTarget,
    CasePolicy,
    Deadline,
    EvidenceType,
    PausedDeadline,
    ReplyPolicy,
    Role,
    Then,
    short_duration,
)


class DeadlineEvent(StrEnum):
    """What happens when one of a case's clocks runs out."""

    PARTY_INACTIVE = "party_inactive"
    CARE_REPLY_WARNING = "care_reply_warning"
    CARE_REPLY_BREACHED = "care_reply_breached"
    QUIET_PERIOD_OVER = "quiet_period_over"
    CARE_DECISION_WARNING = "care_decision_warning"
    CARE_DECISION_BREACHED = "care_decision_breached"
    APPEAL_REVIEW_WARNING = "appeal_review_warning"
    APPEAL_REVIEW_BREACHED = "appeal_review_breached"
    REMINDER = "reminder"
    SELLER_RESPONSE_DUE = "seller_response_due"
    SHIPMENT_DUE = "shipment_due"
    RECEIPT_DUE = "receipt_due"
    RETURN_INSPECTION_DUE = "return_inspection_due"
    RETURN_TRANSIT_DUE = "return_transit_due"
    DECISION_APPEAL_OVER = "decision_appeal_over"
    USER_REPLY_DUE = "user_reply_due"
    INFO_REQUEST_DUE = "info_request_due"


class WindowKind(StrEnum):
    """A party's turn that the system acts on when it closes (see ``Window``)."""

    SELLER_RESPONSE = "seller_response"
    SHIPMENT = "shipment"
    RECEIPT = "receipt"
    RETURN_INSPECTION = "return_inspection"
    RETURN_TRANSIT = "return_transit"
    DECISION_APPEAL = "decision_appeal"
    USER_REPLY = "user_reply"

    @property
    def closes(self) -> DeadlineEvent:
        """The deadline event of this kind of window closing."""
        return {
            WindowKind.SELLER_RESPONSE: DeadlineEvent.SELLER_RESPONSE_DUE,
            WindowKind.SHIPMENT: DeadlineEvent.SHIPMENT_DUE,
            WindowKind.RECEIPT: DeadlineEvent.RECEIPT_DUE,
            WindowKind.RETURN_INSPECTION: DeadlineEvent.RETURN_INSPECTION_DUE,
            WindowKind.RETURN_TRANSIT: DeadlineEvent.RETURN_TRANSIT_DUE,
            WindowKind.DECISION_APPEAL: DeadlineEvent.DECISION_APPEAL_OVER,
            WindowKind.USER_REPLY: DeadlineEvent.USER_REPLY_DUE,
        }[self]


class Window(BaseModel):
    """A party's turn, opened at ``opened_at``: when ``due_at`` passes the system acts."""

    kind: WindowKind
    opened_at: datetime
    due_at: datetime

    @classmethod
    def open(cls, kind: WindowKind, now: datetime, length: timedelta | None) -> Window | None:
        """The window of ``length`` from ``now``; none when the policy turned it off."""
        return None if length is None else cls(kind=kind, opened_at=now, due_at=now + length)


class ReplyClock(BaseModel):
    """Care owes something by ``due_at`` (``target``: a reply, started by escalation or by the
    oldest unanswered message; a decision; a supervisor's review), warned at ``warn_at``; in
    business time when the case's policy has a calendar (``business_hours``). While paused (a
    party asked for information, a report on hold) it keeps the time it had left, not a due time."""

    target: CareTarget = CareTarget.REPLY
    started_at: datetime
    warn_at: datetime
    due_at: datetime
    warned: bool = False
    breached: bool = False
    business_hours: bool = Field(default=False, description="counts business time under the calendar")
    paused_at: datetime | None = None
    remaining: timedelta | None = Field(default=None, description="while paused: the time left to due_at")
    warn_remaining: timedelta | None = Field(
        default=None, description="while paused and not yet warned: the time left to warn_at"
    )

    @classmethod
    def start(cls, now: datetime, policy: ReplyPolicy, target: CareTarget = CareTarget.REPLY) -> ReplyClock:
        """Start a reply-target clock at ``now`` under ``policy`` (in its business hours, if any)."""
        calendar = policy.care_calendar
        return cls(
            target=target,
            started_at=now,
            warn_at=business_add(calendar, now, policy.care_reply_warning),
            due_at=business_add(calendar, now, policy.care_reply_target),
            business_hours=calendar is not None,
        )

    @classmethod
    def aimed(
        cls,
        target: CareTarget,
        now: datetime,
        due_in: timedelta,
        warn_in: timedelta | None,
        calendar: BusinessCalendar | None = None,
    ) -> ReplyClock:
        """Start a clock for ``target`` due ``due_in`` from now, warned ``warn_in`` from now (or not),
        in ``calendar``'s business time when given."""
        return cls(
            target=target,
            started_at=now,
            warn_at=business_add(calendar, now, warn_in or due_in),
            due_at=business_add(calendar, now, due_in),
            warned=warn_in is None,
            business_hours=calendar is not None,
        )

    @property
    def paused(self) -> bool:
        """Whether the clock waits (a party asked for information, a report on hold)."""
        return self.paused_at is not None

    def pause(self, now: datetime, calendar: BusinessCalendar | None) -> bool:
        """Stop counting at ``now``, keeping the time left; a missed target stays missed."""
        if self.paused or self.breached:
            return False
        counts = calendar if self.business_hours else None
        self.paused_at = now
        self.remaining = business_between(counts, now, self.due_at)
        self.warn_remaining = None if self.warned else business_between(counts, now, self.warn_at)
        return True

    def resume(self, now: datetime, calendar: BusinessCalendar | None) -> bool:
        """Count again from ``now`` with the time that was left."""
        if self.paused_at is None or self.remaining is None:
            return False
        counts = calendar if self.business_hours else None
        self.due_at = business_add(counts, now, self.remaining)
        if self.warn_remaining is not None:
            self.warn_at = business_add(counts, now, self.warn_remaining)
        self.paused_at = self.remaining = self.warn_remaining = None
        return True

    @property
    def warning(self) -> DeadlineEvent:
        """This clock's warning event."""
        return DeadlineEvent(f"{self.target.value}_warning")

    @property
    def breach(self) -> DeadlineEvent:
        """This clock's breach event."""
        return DeadlineEvent(f"{self.target.value}_breached")

    def next_deadline(self) -> tuple[datetime, DeadlineEvent] | None:
        """The next moment this clock must be looked at, and what happens then."""
        if self.paused:
            return None
        if not self.warned:
            return self.warn_at, self.warning
        if not self.breached:
            return self.due_at, self.breach
        return None

    def tick(self, now: datetime) -> list[DeadlineEvent]:
        """Mark every deadline that has passed by ``now``; return the ones newly passed."""
        passed: list[DeadlineEvent] = []
        if self.paused:
            return passed
        if not self.warned and now >= self.warn_at:
            self.warned = True
            passed.append(self.warning)
        if not self.breached and now >= self.due_at:
            self.breached = True
            passed.append(self.breach)
        return passed

    def deadline(self) -> Deadline | PausedDeadline | None:
        """The target as data while it can still be met."""
        if self.breached:
            return None
        party, action = {
            CareTarget.REPLY: (Role.CARE, "reply"),
            CareTarget.DECISION: (Role.CARE, "decide"),
            CareTarget.REVIEW: (Role.SUPERVISOR, "review_decision"),
        }[self.target]
        if self.paused:
            return PausedDeadline(
                party=party,
                action=action,
                then=Then.TARGET_BREACHED,
                business_hours=self.business_hours,
                remaining=self.remaining or timedelta(0),
            )
        return Deadline(
            party=party,
            action=action,
            due_at=self.due_at,
            then=Then.TARGET_BREACHED,
            business_hours=self.business_hours,
        )


class PauseKind(StrEnum):
    """Why care's targets wait."""

    INFO_REQUEST = "info_request"
    HOLD = "hold"


class Pause(BaseModel):
    """Care's targets wait: care asked a party for information (until that party acts or
    ``due_at`` passes), or put a report on hold (until the user writes or care resumes it).
    Either also ends when the case moves on to another status (care decided, replied, solved)."""

    kind: PauseKind
    party: Role = Field(description="whose next action ends it")
    text: str = Field(description="what care asked, or why the report is on hold")
    evidence_type: str | None = None
    since: datetime
    due_at: datetime | None = Field(default=None, description="when it ends by itself (a request only)")
    status: str = Field(description="the case's status when it began")


class TimelineEntry(BaseModel):
    """One line of a case's read-only audit trail; ``seq`` numbers a case's entries from 1."""

    seq: int
    at: datetime
    event: str
    actor: Actor | None = None
    status: str
    detail: dict[str, Any] = {}


class Attention(BaseModel):
    """An outside effect refused for good, or out of retries: the case waits for an operator."""

    effect: EffectName = Field(
        description="refund_to_buyer, release_to_seller, mediation, care_reply_warning, ..."
    )
    key: str = Field(description="the effect's idempotency key")
    reason: str
    since: datetime


class CareCase(BaseModel):
    """State and rules shared by disputes and help-center reports.

    ``timeline`` holds the entries recorded since the workflow last handed them to the store
    (all of them when the rules are used on their own); ``timeline_seq`` is the last one's number."""

    #: The actions of this kind of case (``domain/registry.py``).
    actions: ClassVar[ActionRegistry[Any]]
    #: The outside effects of this kind of case (``domain/effects.py``).
    effects: ClassVar[EffectRegistry]
    #: The roles that act on this kind of case, in the order ``allowed_actions`` lists them.
    roles: ClassVar[tuple[Role, ...]]

    id: str
    status: str
    care_clock: ReplyClock | None = None
    sla_breached: bool = False
    sla_breaches: int = 0
    message_count: int = 0
    timeline_seq: int = 0
    timeline: list[TimelineEntry] = []
    attention: list[Attention] = Field(default=[], description="parked effects waiting for an operator")
    done_by_hand: list[str] = Field(default=[], description="keys of effects an operator recorded as done")
    window: Window | None = Field(
        default=None, description="the party's turn the system acts on when it closes"
    )
    reminded_for: datetime | None = Field(
        default=None, description="the due time of the last window whose party was reminded"
    )
    pauses: list[Pause] = Field(
        default=[], description="requests for information and holds that pause care's targets"
    )
    assignee: str | None = Field(default=None, description="the care agent who owns the case, if any")
    care_group: str | None = Field(default=None, description="the care group the case is routed to, if any")
    evidence_types: dict[str, EvidenceType] = Field(
        default={}, description="the type of each evidence reference cited on the case, from its upload"
    )
    policy: CasePolicy
    opened_at: datetime

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, case_id: str, request: Any, now: datetime) -> Self:
        """Open a case of this kind for ``request`` (its kind's opening input) at ``now``: the
        state it starts in, its first clocks and the "opened" entry of its timeline."""
        case = cls.model_validate(
            request.model_dump(exclude={"policy", "opened_at"})
            | cls._initial(request)
            | {"id": case_id, "policy": request.policy, "opened_at": now}
        )
        case._opened(now)
        opener, detail = cls._opening(request)
        case._record(now, "opened", opener, **detail)
        case._after_opening(now)
        return case

    @classmethod
    def _initial(cls, request: Any) -> dict[str, Any]:
        """State the opening input gives besides its own fields (e.g. a priority it derives)."""
        return {}

    @classmethod
    @abstractmethod
    def _opening(cls, request: Any) -> tuple[Actor, dict[str, Any]]:
        """Who opened the case, and what its "opened" timeline entry says of the request."""

    def _opened(self, now: datetime) -> None:
        """The clocks a new case starts with."""

    def _after_opening(self, now: datetime) -> None:
        """What follows the "opened" entry (a report that waits for care from the start is routed)."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def care_reply_due_at(self) -> datetime | None:
        """When care's reply is due, while care owes one (none while it is paused)."""
        return self.care_clock.due_at if self.care_clock and not self.care_clock.paused else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def deadlines(self) -> list[Deadline | PausedDeadline]:
        """Every clock running now, the nearest first: who must do what by when, and what follows."""
        running = [clock.deadline() for clock in self._care_clocks()]
        found = [d for d in running if d] + self._party_deadlines() + self._pause_deadlines()
        return sorted(found, key=lambda d: (d.due_at is None, d.due_at or self.opened_at))

    @property
    def next_deadline_at(self) -> datetime | None:
        """When the nearest running clock closes (search attribute ``NextDeadlineAt``)."""
        deadlines = self.deadlines  # computed, and sorted, on each access (paused ones last)
        return deadlines[0].due_at if deadlines else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def allowed_actions(self) -> dict[Role, list[str]]:
        """What each role may do now (PayPal-style per-party allowed actions)."""
        return self.allowed_actions_at(None)

    def allowed_actions_at(self, now: datetime | None) -> dict[Role, list[str]]:
        """What each role may do at ``now`` (``None``: by the recorded state only)."""
        acting = [role for role in self.roles if self._open_to(role)]
        allowed: dict[Role, list[str]] = {role: [] for role in self.roles}
        allowed |= self.actions.allowed_actions(self, acting, now)
        if self.message_count >= self.policy.max_messages:  # no more messages: say so up front
            for role, names in allowed.items():
                allowed[role] = [name for name in names if not self._sends_message(name)]
        return allowed

    def _open_to(self, role: Role) -> bool:
        """A closed case takes no more actions, but an operator may still repair a parked effect."""
        return not self.closed or (role is Role.OPERATOR and bool(self.attention))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def needs_attention(self) -> bool:
        """Whether an outside effect is parked and the case waits for an operator."""
        return bool(self.attention)

    def _sends_message(self, name: str) -> bool:
        spec = self.actions.get(name)
        return spec is not None and spec.command.counts_as_message

    # -- what each kind of case adds ------------------------------------------------------------

    @property
    @abstractmethod
    def closed(self) -> bool:
        """True once nothing more can happen to the case."""

    @abstractmethod
    def is_party(self, actor: Actor) -> bool:
        """Whether ``actor`` may act on or read this case at all."""

    @abstractmethod
    def next_deadline(self) -> tuple[datetime, DeadlineEvent] | None:
        """The earliest clock that can still run out, and what happens when it does."""

    @abstractmethod
    def tick(self, now: datetime) -> list[DomainEvent]:
        """Mark every clock that ran out by ``now``; return what newly happened."""

    def _party_deadlines(self) -> list[Deadline]:
        """The parties' running clocks (the care targets are added by ``deadlines``)."""
        return []

    def _party_window(self) -> tuple[Deadline, datetime] | None:
        """The one window a party must act in now, and when it opened: what a reminder is about."""
        return None

    def _care_clocks(self) -> list[ReplyClock]:
        """The care targets running now."""
        return [self.care_clock] if self.care_clock else []

    def _check_rules(self, command: Command, now: datetime) -> None:
        """Refuse a command the general checks let through (e.g. an amount above the total)."""

    def _before(self, command: Command, now: datetime) -> None:
        """Whatever every action changes before its own rule runs (e.g. the turn clock)."""

    def _after(self, now: datetime) -> list[DomainEvent]:
        """What follows from the new state after any change (e.g. a settlement now due)."""
        return []

    # -- actions ------------------------------------------------------------------------------

    def check(self, command: Command, now: datetime) -> None:
        """Raise the error ``apply`` would raise at ``now``, without changing anything: not a
        party (403), not allowed now (409), the message limit reached (409), a rule of the case."""
        actor = command.actor
        if not self.is_party(actor):
            raise NotAParty(f"{actor.role.value} {actor.id} is not a party to {self.id}")
        spec = self.actions.get(command.action)
        by_rules = (
            []
            if not self._open_to(actor.role) or spec is None or not isinstance(command, spec.command)
            else self.actions.allowed_actions(self, [actor.role], now)[actor.role]
        )
        if command.action not in by_rules:
            allowed = self.allowed_actions_at(now)
            raise InvalidTransition(
                f"{actor.role.value} may not {command.action} while {self.id} is {self.status}",
                current_status=self.status,
                allowed_actions={role.value: list(names) for role, names in allowed.items()},
            )
        if self._at_message_limit(command):
            raise LimitReached(
                f"{self.id} has reached its limit of {self.policy.max_messages} messages",
                limit=self.policy.max_messages,
            )
        if isinstance(command, RetryEffect | ResolveEffect):
            self._check_repair(command)
        if isinstance(command, RequestInfo):
            self._check_info_request(command)
        if spec is not None and spec.check is not None:
            spec.check(self, command, now)
        self._check_rules(command, now)

    def _check_repair(self, command: RetryEffect | ResolveEffect) -> None:
        found = self._find_attention(command.key, by_hand=isinstance(command, ResolveEffect))
        if found is None:
            raise InvalidInput(
                "key", f"no parked effect {command.key}; parked: {[p.key for p in self.attention]}"
            )
        if isinstance(command, ResolveEffect) and not self.effects.repaired_by(found.effect, Repair.BY_HAND):
            raise InvalidInput(
                "key", f"{found.key} hands out the case's changes and cannot be done by hand: retry it"
            )

    def _at_message_limit(self, command: Command) -> bool:
        return command.counts_as_message and self.message_count >= self.policy.max_messages

    def apply(self, command: Command, now: datetime) -> list[DomainEvent]:
        """Check ``command`` and carry it out by its registered rule; record it on the timeline
        and return what happened."""
        self.check(command, now)
        spec = self.actions.get(command.action)
        assert spec is not None, "check() refuses an action the registry does not know"
        self._before(command, now)
        if command.counts_as_message:
            self.message_count += 1
        self.evidence_types |= command.evidence_types
        happened: list[DomainEvent] = [Acted(actor=command.actor, action=spec.name)]
        happened += spec.apply(self, command, now)
        happened += self._settle_pauses(command.actor, now)
        detail = command.model_dump(mode="json", exclude={"actor"}, exclude_defaults=True)
        self._record(now, spec.name, command.actor, **detail)
        return happened + self._after(now)

    # -- clocks and records shared by every case -----------------------------------------------

    def _shared_deadlines(self) -> list[tuple[datetime, DeadlineEvent]]:
        """The care targets' next moments, the reminder of the party whose window runs, and the
        end of a request for information."""
        pending = [clock.next_deadline() for clock in self._care_clocks()]
        reminder = self.next_reminder()
        requests = [(pause.due_at, DeadlineEvent.INFO_REQUEST_DUE) for pause in self.pauses if pause.due_at]
        return (
            [p for p in pending if p]
            + ([(reminder[0], DeadlineEvent.REMINDER)] if reminder else [])
            + requests
        )

    def _tick_care_clock(self, now: datetime) -> list[DomainEvent]:
        # A request for information that ran out ends first: the targets it paused resume now.
        happened: list[DomainEvent] = self._tick_pauses(now)
        for clock in self._care_clocks():
            for passed in clock.tick(now):
                breached = passed is clock.breach
                if breached:
                    self.sla_breached = True
                    self.sla_breaches += 1
                self._record(now, passed.value, None, due_at=clock.due_at.isoformat())
                happened.append(
                    CareReplyDue(
                        due_at=clock.due_at,
                        started_at=clock.started_at,
                        breached=breached,
                        target=clock.target,
                    )
                )
                if breached:  # a missed target goes to the supervisors' group (domain/care.py)
                    happened += to_supervisors(self, clock.target, now)
        return happened

    # -- paused targets: requests for information and holds -------------------------------------

    @property
    def calendar(self) -> BusinessCalendar | None:
        """The business hours care's targets count (the calendar in force when the case opened)."""
        return self.policy.care_calendar

    def _pause(self, pause: Pause, now: datetime) -> None:
        """Begin ``pause``: every care target running now stops counting and keeps its time left."""
        self.pauses.append(pause)
        for clock in self._care_clocks():
            if clock.pause(now, self.calendar):
                self._record(
                    now,
                    "target_paused",
                    None,
                    target=clock.target.value,
                    remaining=short_duration(clock.remaining or timedelta(0)),
                    business_hours=clock.business_hours,
                    by=pause.kind.value,
                )

    def _end_pause(self, pause: Pause, event: str, now: datetime, **detail: Any) -> list[DomainEvent]:
        """End ``pause`` (recorded as ``event``); once none is left the paused targets resume."""
        self.pauses.remove(pause)
        self._record(now, event, None, party=pause.party.value, **detail)
        if not self.pauses:
            for clock in self._care_clocks():
                if clock.resume(now, self.calendar):
                    self._record(
                        now,
                        "target_resumed",
                        None,
                        target=clock.target.value,
                        due_at=clock.due_at.isoformat(),
                        business_hours=clock.business_hours,
                    )
        return [PauseEnded(kind=pause.kind.value, party=pause.party, reason=event)]

    def _settle_pauses(self, actor: Actor, now: datetime) -> list[DomainEvent]:
        """After an action: the party a pause waits for has acted (its answer), or the case moved
        to another status (care decided, replied or solved): the pause ends."""
        happened: list[DomainEvent] = []
        for pause in list(self.pauses):
            if actor.role is pause.party:
                event = "info_request_answered" if pause.kind is PauseKind.INFO_REQUEST else "hold_ended"
                happened += self._end_pause(pause, event, now, by=actor.id)
            elif pause.status != self.status:
                event = "info_request_closed" if pause.kind is PauseKind.INFO_REQUEST else "hold_ended"
                happened += self._end_pause(pause, event, now, because=f"the case is now {self.status}")
        return happened

    def _tick_pauses(self, now: datetime) -> list[DomainEvent]:
        """A request for information whose party did not answer in time ends; the targets resume."""
        happened: list[DomainEvent] = []
        for pause in list(self.pauses):
            if pause.due_at is not None and pause.due_at <= now:
                expired = pause.due_at.isoformat()
                happened += self._end_pause(pause, "info_request_expired", now, due_at=expired)
        return happened

    def _pause_deadlines(self) -> list[Deadline]:
        """The parties asked for information, as data: they answer with a message by its due time."""
        return [
            Deadline(party=pause.party, action="message", due_at=pause.due_at, then=Then.TARGET_RESUMES)
            for pause in self.pauses
            if pause.due_at is not None
        ]

    def open_request(self, party: Role) -> Pause | None:
        """The open request for information to ``party``, if any."""
        return next((p for p in self.pauses if p.kind is PauseKind.INFO_REQUEST and p.party is party), None)

    @property
    def on_hold(self) -> Pause | None:
        """The hold the case is on, if any."""
        return next((pause for pause in self.pauses if pause.kind is PauseKind.HOLD), None)

    def _check_info_request(self, command: RequestInfo) -> None:
        """A party is asked once at a time, and given no longer than the policy allows."""
        if self.open_request(command.party) is not None:
            raise InvalidInput("party", f"the {command.party.value} already has an open request")
        longest = self.policy.info_request_max_window
        if command.due_in is not None and command.due_in > longest:
            raise InvalidInput(
                "due_in", f"at most {short_duration(longest)} (DISPUTES_INFO_REQUEST_MAX_WINDOW)"
            )

    def _request_info(self, command: RequestInfo, now: datetime) -> datetime:
        """Ask ``command.party`` for information: care's targets wait until it answers or the
        request's due time passes (calendar time: the party's window). Returns the due time."""
        due_at = now + (command.due_in or self.policy.info_request_window)
        pause = Pause(
            kind=PauseKind.INFO_REQUEST,
            party=command.party,
            text=command.text,
            evidence_type=command.evidence_type,
            since=now,
            due_at=due_at,
            status=self.status,
        )
        self._pause(pause, now)
        return due_at

    def next_reminder(self) -> tuple[datetime, Deadline] | None:
        """When the party whose window runs is reminded, once per window, ``reminder_lead`` before
        it closes; no reminder for a window shorter than the lead."""
        lead = self.policy.reminder_lead
        found = self._party_window()
        if lead is None or found is None:
            return None
        deadline, opened_at = found
        at = deadline.due_at - lead
        if self.reminded_for == deadline.due_at or at <= opened_at:
            return None
        return at, deadline

    def _tick_reminder(self, now: datetime) -> list[DomainEvent]:
        """Remind the party if its reminder is due and its window is still open."""
        reminder = self.next_reminder()
        if reminder is None or now < reminder[0]:
            return []
        deadline = reminder[1]
        self.reminded_for = deadline.due_at
        if now >= deadline.due_at:
            return []  # looked at only as the window closed: the window's own rule acts now
        self._record(now, "reminder_sent", None, **deadline.model_dump(mode="json"))
        return [Reminded(deadline=deadline)]

    def _care_owes_reply(self, now: datetime) -> None:
        """Start the reply clock unless one runs: the target counts from the oldest unanswered message."""
        if self.care_clock is None:
            self.care_clock = ReplyClock.start(now, self.policy)

    def record_rejected_event(self, event_id: str, event_type: str, reason: str, now: datetime) -> None:
        """An action that came as an event but that the case does not allow stays on the record."""
        self._record(now, "event_rejected", None, event_id=event_id, type=event_type, reason=reason)

    def record_failed_effect(self, idempotency_key: str, reason: str, now: datetime) -> None:
        """An outside effect the receiving system refused for good (e.g. a notification)."""
        self._record(now, "effect_failed", None, idempotency_key=idempotency_key, reason=reason)

    def park(self, effect: EffectName | str, key: str, reason: str, now: datetime) -> list[DomainEvent]:
        """Hold an effect that was refused for good or ran out of retries until an operator acts
        (retry it, or record it as done by hand); the case itself goes on."""
        effect = EffectName(effect)
        if any(parked.key == key for parked in self.attention):
            return []
        self.attention.append(Attention(effect=effect, key=key, reason=reason[:500], since=now))
        self._record(now, "needs_attention", None, effect=effect, idempotency_key=key, reason=reason[:500])
        return [EffectParked(effect=effect, key=key, reason=reason[:500])]

    def parked(self, key: str) -> bool:
        """Whether the effect with ``key`` waits for an operator."""
        return any(parked.key == key for parked in self.attention)

    def _find_attention(self, key: str | None, *, by_hand: bool) -> Attention | None:
        """The parked effect an operator names; unnamed, the first one (the first that can be done
        by hand, for a resolve: a publish step can only be retried)."""
        if key is not None:
            return next((parked for parked in self.attention if parked.key == key), None)
        candidates = [
            p for p in self.attention if not by_hand or self.effects.repaired_by(p.effect, Repair.BY_HAND)
        ] or self.attention
        return candidates[0] if candidates else None

    def _take_attention(self, key: str | None, *, by_hand: bool) -> Attention:
        """The parked effect an operator repairs; it is no longer parked."""
        found = self._find_attention(key, by_hand=by_hand)
        assert found is not None, "_check_repair refuses an unknown key"
        self.attention.remove(found)
        return found

    def _done_by_hand(self, parked: Attention, reference: str, now: datetime) -> None:
        """What recording a parked effect as done means for this kind of case (e.g. a payout made)."""

    def forget_timeline(self, upto: int) -> None:
        """Drop the entries up to ``upto`` once the store holds them (the workflow's history stays
        bounded; readers merge the store's entries with the ones still here)."""
        self.timeline = [entry for entry in self.timeline if entry.seq > upto]

    def _record(self, now: datetime, event: str, actor: Actor | None, **detail: Any) -> TimelineEntry:
        self.timeline_seq += 1
        entry = TimelineEntry(
            seq=self.timeline_seq, at=now, event=event, actor=actor, status=self.status, detail=detail
        )
        self.timeline.append(entry)
        return entry


def register_operator_actions(actions: ActionRegistry[Any]) -> None:
    """The repairs of a parked effect, the same on every kind of case (for admin API keys)."""

    def parked(case: CareCase, role: Role, now: datetime | None) -> bool:
        return bool(case.attention)

    def resolvable(case: CareCase, role: Role, now: datetime | None) -> bool:
        return any(case.effects.repaired_by(p.effect, Repair.BY_HAND) for p in case.attention)

    @actions.action(RetryEffect, roles={Role.OPERATOR}, path="operator/retry", allowed=parked)
    def _retry(case: CareCase, command: RetryEffect, now: datetime) -> list[DomainEvent]:
        repaired = case._take_attention(command.key, by_hand=False)
        return [EffectRepaired(key=repaired.key, reference=None)]

    @actions.action(ResolveEffect, roles={Role.OPERATOR}, path="operator/resolve", allowed=resolvable)
    def _resolve(case: CareCase, command: ResolveEffect, now: datetime) -> list[DomainEvent]:
        repaired = case._take_attention(command.key, by_hand=True)
        case.done_by_hand.append(repaired.key)
        case._done_by_hand(repaired, command.external_ref, now)
        return [EffectRepaired(key=repaired.key, reference=command.external_ref)]
