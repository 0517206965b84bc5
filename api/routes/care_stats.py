"""/v1/care/stats: what a care team lead sees, per agent and per care group (store/care_stats.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import CallerDep
from api.deps import EngineDep, NowDep
from api.problems import Problem
from api.routes.help import IsoTime
from core.settings import KeyRole
from store.care_stats import Tally, read_care_figures

router = APIRouter(prefix="/v1/care", tags=["care"])


class Figures(BaseModel):
    """One agent's or one group's figures."""

    open_cases: int = Field(description="open cases it owns (an agent) or that are in it (a group)")
    breaches: int = Field(description="care targets missed while it owned the case / the case was in it")
    first_replies: int = Field(description="cases whose first care reply it made / that were in it then")
    first_reply_median_seconds: float | None = Field(
        description="median time from reaching care to the first care reply; none without any"
    )
    decisions: int = Field(description="disputes decided and reports solved")
    decision_median_seconds: float | None = Field(
        description="median time from reaching care to the decision (a report: solved); none without any"
    )

    @classmethod
    def of(cls, tally: Tally) -> dict[str, object]:
        """The fields of a tally."""
        return {
            "open_cases": tally.open,
            "breaches": tally.breaches,
            "first_replies": len(tally.first_replies),
            "first_reply_median_seconds": Tally.median(tally.first_replies),
            "decisions": len(tally.decisions),
            "decision_median_seconds": Tally.median(tally.decisions),
        }


class AgentFigures(Figures):
    """A care agent's (or supervisor's) figures."""

    agent: str


class GroupFigures(Figures):
    """A care group's figures; ``group`` null: cases in no group."""

    group: str | None
    unassigned_open_cases: int = Field(description="open cases in the group that nobody owns")


class CareStats(BaseModel):
    """Per agent and per group, as of ``as_of``; breaches, replies and decisions since ``since``."""

    as_of: datetime
    since: datetime | None
    agents: list[AgentFigures]
    groups: list[GroupFigures]


@router.get("/stats")
async def care_stats(
    caller: CallerDep,
    engine: EngineDep,
    now: NowDep,
    since: Annotated[
        IsoTime | None,
        Query(description="ISO 8601 with a zone: breaches, replies, decisions from then"),
    ] = None,
) -> CareStats:
    """Open cases, targets missed, and median time to the first reply and to the decision, per
    care agent and per care group (care, supervisor and admin keys)."""
    if caller.role is KeyRole.PLATFORM:
        raise Problem(403, "Forbidden", "care stats are for care, supervisor and admin keys")
    figures = await read_care_figures(engine, since)
    return CareStats(
        as_of=now,
        since=since,
        agents=[
            AgentFigures(agent=agent, **Figures.of(tally)) for agent, tally in sorted(figures.agents.items())
        ],
        groups=[
            GroupFigures(group=group, unassigned_open_cases=tally.unassigned, **Figures.of(tally))
            for group, tally in sorted(figures.groups.items(), key=lambda item: item[0] or "")
        ],
    )
