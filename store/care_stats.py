"""What a care team lead sees, per agent and per care group: the open cases each owns, the care
targets missed, and the median time from a case reaching care to care's first reply and to its
decision. Read from the service database: the open cases from ``case_heads`` and who owns each,
and when it reached care, replied and decided, from its ``timeline_entries``.

Who owns a case is folded from its entries in order, with the rules of ``domain/care.py``:
``routed`` and ``reassigned`` (a missed target) set the group, ``claim`` makes the actor the
owner, ``release`` leaves it unowned, ``assign`` sets the owner it names (none when it names a
group only) and the group it names. A missed target counts for the owner and the group the case
had when it was missed; a first reply and a decision for the agent who made it and the group the
case was in then. A case reaches care when it is escalated (``help``, ``escalated``) or, for a
report, when it is filed; its decision is ``decide`` (a dispute) or ``solve`` (a report)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dispute import CLOSED as DISPUTE_CLOSED
from domain.dispute import DisputeStatus
from domain.ticket import TicketStatus
from domain.types import CareTarget
from store.heads import case_kind
from store.schema import case_heads, timeline_entries

_OWNERSHIP = frozenset({"routed", "reassigned", "claim", "release", "assign"})
_BREACHES = frozenset(f"{target.value}_breached" for target in CareTarget)
_REACHED = frozenset({"help", "escalated", "opened"})
_REPLY, _DECISIONS = "reply", frozenset({"decide", "solve"})
_CLOSED = frozenset({*DISPUTE_CLOSED, TicketStatus.CLOSED})
_WAITING = frozenset(
    {DisputeStatus.IN_MEDIATION, DisputeStatus.DECISION_APPEALED, TicketStatus.AWAITING_CARE}
)
_EVENTS = _OWNERSHIP | _BREACHES | _REACHED | _DECISIONS | {_REPLY}


@dataclass
class Tally:
    """The figures of one agent or one group."""

    open: int = 0
    unassigned: int = 0
    breaches: int = 0
    first_replies: list[float] = field(default_factory=list)
    decisions: list[float] = field(default_factory=list)

    @staticmethod
    def median(seconds: list[float]) -> float | None:
        """The median of ``seconds``, none without any."""
        return statistics.median(seconds) if seconds else None


@dataclass
class CareFigures:
    """Every agent's and every group's tally (``None``: cases in no group)."""

    agents: defaultdict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    groups: defaultdict[str | None, Tally] = field(default_factory=lambda: defaultdict(Tally))


@dataclass
class _Case:
    """One case as its entries tell it, in order."""

    kind: str
    assignee: str | None = None
    group: str | None = None
    reached_at: datetime | None = None
    replied: bool = False
    decided: bool = False


def _owned(case: _Case, event: str, actor_id: str | None, detail: dict[str, object]) -> None:
    """Move ``case``'s ownership past one of its ownership entries."""
    group = detail.get("group")
    if event in ("routed", "reassigned"):
        case.group = str(group) if group is not None else case.group
        case.assignee = None if event == "reassigned" else case.assignee
    elif event == "claim":
        case.assignee = actor_id
    elif event == "release":
        case.assignee = None
    elif event == "assign":
        assignee = detail.get("assignee")
        case.assignee = str(assignee) if assignee is not None else None
        case.group = str(group) if group is not None else case.group


async def read_care_figures(engine: AsyncEngine, since: datetime | None = None) -> CareFigures:
    """Every agent's and group's figures now; breaches, replies and decisions at or after ``since``."""
    t = timeline_entries.c
    entries = (
        sa.select(t.case_id, t.at, t.event, t.actor_role, t.actor_id, t.detail)
        .where(t.event.in_(sorted(_EVENTS)))
        .order_by(t.case_id, t.seq)
    )
    h = case_heads.c
    heads = sa.select(h.case_id, h.status)
    async with engine.connect() as connection:
        rows = (await connection.execute(entries)).all()
        statuses = {row.case_id: row.status for row in await connection.execute(heads)}
    figures = CareFigures()
    cases: dict[str, _Case] = {}
    for case_id, at, event, actor_role, actor_id, detail in rows:
        case = cases.setdefault(case_id, _Case(kind=case_kind(case_id)))
        counted = since is None or at >= since
        if event in _OWNERSHIP:
            _owned(case, event, actor_id, detail or {})
        elif event in _BREACHES:
            if counted:
                figures.groups[case.group].breaches += 1
                if case.assignee is not None:
                    figures.agents[case.assignee].breaches += 1
        elif event in _REACHED:
            if event != "opened" or case.kind == "ticket":
                case.reached_at = case.reached_at or at
        elif case.reached_at is not None and actor_role in ("care", "supervisor") and actor_id:
            waited = (at - case.reached_at).total_seconds()
            if event == _REPLY and not case.replied:
                case.replied = True
                if counted:
                    figures.agents[actor_id].first_replies.append(waited)
                    figures.groups[case.group].first_replies.append(waited)
            elif event in _DECISIONS and not case.decided:
                case.decided = True
                if counted:
                    figures.agents[actor_id].decisions.append(waited)
                    figures.groups[case.group].decisions.append(waited)
    for case_id, status in statuses.items():
        if status in _CLOSED:
            continue
        case = cases.get(case_id, _Case(kind=case_kind(case_id)))
        if case.assignee is None and case.group is None and status not in _WAITING:
            continue  # not care's: owned by nobody, in no group, waiting for no one in care
        group = figures.groups[case.group]
        group.open += 1
        if case.assignee is None:
            group.unassigned += 1
        else:
            figures.agents[case.assignee].open += 1
    return figures
