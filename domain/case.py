"""What every care case shares: the care reply target (1x24 hours), its breaches, the timeline."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, computed_field

from domain.commands import Command
from domain.types import Actor, CasePolicy, ReplyPolicy, at_minute, short_duration


class DeadlineEvent(StrEnum):
    """What happens when one of a case's clocks runs out."""

    PARTY_INACTIVE = "party_inactive"
    CARE_REPLY_WARNING = "care_reply_warning"
    CARE_REPLY_BREACHED = "care_reply_breached"
    QUIET_PERIOD_OVER = "quiet_period_over"


class ReplyClock(BaseModel):
    """Care owes a reply by ``due_at``; started by escalation or by the oldest unanswered message."""

    started_at: datetime
    warn_at: datetime
    due_at: datetime
    warned: bool = False
    breached: bool = False

    @classmethod
    def start(cls, now: datetime, policy: ReplyPolicy) -> ReplyClock:
        """Start a clock at ``now`` under ``policy``."""
        return cls(
            started_at=now,
            warn_at=now + policy.care_reply_warning,
            due_at=now + policy.care_reply_target,
        )

    def next_deadline(self) -> tuple[datetime, DeadlineEvent] | None:
        """The next moment this clock must be looked at, and what happens then."""
        if not self.warned:
            return self.warn_at, DeadlineEvent.CARE_REPLY_WARNING
        if not self.breached:
            return self.due_at, DeadlineEvent.CARE_REPLY_BREACHED
        return None

    def tick(self, now: datetime) -> list[DeadlineEvent]:
        """Mark every deadline that has passed by ``now``; return the ones newly passed."""
        passed: list[DeadlineEvent] = []
        if not self.warned and now >= self.warn_at:
            self.warned = True
            passed.append(DeadlineEvent.CARE_REPLY_WARNING)
        if not self.breached and now >= self.due_at:
            self.breached = True
            passed.append(DeadlineEvent.CARE_REPLY_BREACHED)
        return passed


class TimelineEntry(BaseModel):
    """One line of a case's read-only audit trail."""

    at: datetime
    event: str
    actor: Actor | None = None
    status: str
    detail: dict[str, Any] = {}


class CareCase(BaseModel):
    """State and rules shared by disputes and help-center tickets."""

    id: str
    status: str
    care_clock: ReplyClock | None = None
    sla_breached: bool = False
    sla_breaches: int = 0
    timeline: list[TimelineEntry] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def care_reply_due_at(self) -> datetime | None:
        """When care's reply is due, while care owes one."""
        return self.care_clock.due_at if self.care_clock else None

    policy: ReplyPolicy

    # -- the case-specific clocks, which each kind of case adds to the care reply clock -----------

    def next_deadline(self) -> tuple[datetime, DeadlineEvent] | None:
        """The earliest clock that can still run out, and what happens when it does."""
        raise NotImplementedError

    def describe_deadline(self, event: DeadlineEvent) -> str:
        """Name a clock the way the timer summary and on-call see it."""
        if event is DeadlineEvent.CARE_REPLY_WARNING:
            return f"care reply warning at {short_duration(self.policy.care_reply_warning)}"
        return f"care reply target {short_duration(self.policy.care_reply_target)}"

    def deadline_effect(self, event: DeadlineEvent) -> str:
        """What happens when the clock for ``event`` runs out, in words."""
        return {
            DeadlineEvent.CARE_REPLY_WARNING: "care is warned that the reply target is near",
            DeadlineEvent.CARE_REPLY_BREACHED: "the reply target is breached and escalated",
        }.get(event, "")

    def clock_lines(self) -> list[str]:
        """Markdown lines for the UI's current details: the next deadline and what happens then,
        the breaches so far, and since when a breached reply is owed (no timer shows that)."""
        lines = []
        if deadline := self.next_deadline():
            at, event = deadline
            lines.append(
                f"**Next deadline:** {at_minute(at)} ({self.describe_deadline(event)}):"
                f" {self.deadline_effect(event)}"
            )
        if self.sla_breached:
            lines.append(f"**Care reply target breached** {self.sla_breaches} time(s)")
        if self.care_clock is not None and self.care_clock.breached:
            lines.append(f"**Care reply overdue** since {at_minute(self.care_clock.due_at)}")
        return lines

    def _care_deadline(self) -> list[tuple[datetime, DeadlineEvent]]:
        pending = self.care_clock.next_deadline() if self.care_clock else None
        return [pending] if pending else []

    def _tick_care_clock(self, now: datetime) -> list[DeadlineEvent]:
        if self.care_clock is None:
            return []
        passed = self.care_clock.tick(now)
        for event in passed:
            if event is DeadlineEvent.CARE_REPLY_BREACHED:
                self.sla_breached = True
                self.sla_breaches += 1
            self._record(now, event.value, None, due_at=self.care_clock.due_at.isoformat())
        return passed

    def _care_owes_reply(self, now: datetime, policy: ReplyPolicy) -> None:
        """Start the reply clock unless one runs: the target counts from the oldest unanswered message."""
        if self.care_clock is None:
            self.care_clock = ReplyClock.start(now, policy)

    def record_rejected_event(self, event_id: str, event_type: str, reason: str, now: datetime) -> None:
        """An action that came as an event but that the case does not allow stays on the record."""
        self._record(now, "event_rejected", None, event_id=event_id, type=event_type, reason=reason)

    def record_failed_effect(self, idempotency_key: str, reason: str, now: datetime) -> None:
        """An outside effect the receiving system refused for good (e.g. a notification)."""
        self._record(now, "effect_failed", None, idempotency_key=idempotency_key, reason=reason)

    def _record(self, now: datetime, event: str, actor: Actor | None, **detail: Any) -> None:
        self.timeline.append(
            TimelineEntry(at=now, event=event, actor=actor, status=self.status, detail=detail)
        )


class Case(Protocol):
    """What a case workflow needs from a case's rules: commands, clocks and words for on-call."""

    id: str
    care_clock: ReplyClock | None

    @property
    def policy(self) -> CasePolicy: ...

    @property
    def closed(self) -> bool: ...

    def check(self, command: Command, now: datetime) -> None: ...

    def apply(self, command: Command, now: datetime) -> None: ...

    def next_deadline(self) -> tuple[datetime, DeadlineEvent] | None: ...

    def tick(self, now: datetime) -> list[DeadlineEvent]: ...

    def describe_deadline(self, event: DeadlineEvent) -> str: ...

    def current_details(self) -> str: ...

    def record_rejected_event(self, event_id: str, event_type: str, reason: str, now: datetime) -> None: ...

    def record_failed_effect(self, idempotency_key: str, reason: str, now: datetime) -> None: ...
