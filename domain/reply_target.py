"""The care reply target (1x24 hours): a clock that warns before and records a breach after."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from domain.types import ReplyPolicy


class ReplyTargetEvent(StrEnum):
    """What a reply clock reports when one of its deadlines passes."""

    WARNING = "care_reply_warning"
    BREACHED = "care_reply_breached"


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

    def next_deadline(self) -> tuple[datetime, ReplyTargetEvent] | None:
        """The next moment this clock must be looked at, and what happens then."""
        if not self.warned:
            return self.warn_at, ReplyTargetEvent.WARNING
        if not self.breached:
            return self.due_at, ReplyTargetEvent.BREACHED
        return None

    def tick(self, now: datetime) -> list[ReplyTargetEvent]:
        """Mark every deadline that has passed by ``now``; return the ones newly passed."""
        passed: list[ReplyTargetEvent] = []
        if not self.warned and now >= self.warn_at:
            self.warned = True
            passed.append(ReplyTargetEvent.WARNING)
        if not self.breached and now >= self.due_at:
            self.breached = True
            passed.append(ReplyTargetEvent.BREACHED)
        return passed
