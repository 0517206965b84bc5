"""The care team lead's figures (store/care_stats.py) from stored timelines: who owns each open
case, breaches counted for the owner and group of the moment, medians to the first reply and to
the decision, and the gauges with a bounded agent label."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.case import TimelineEntry
from domain.types import Actor, Role
from store.care_stats import read_care_figures
from store.cases import Timelines
from store.metrics import MAX_AGENT_LABELS, CaseGauges, read_figures

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
BUYER = Actor(role=Role.BUYER, id="b-1")
USER = Actor(role=Role.USER, id="u-1")
LEAD = Actor(role=Role.SUPERVISOR, id="lead-3")


def care(agent: str) -> Actor:
    return Actor(role=Role.CARE, id=agent)


def entries(*lines: tuple[float, str, Actor | None, str, dict[str, Any]]) -> list[TimelineEntry]:
    """Timeline entries from (hours after T0, event, actor, status, detail), numbered from 1."""
    return [
        TimelineEntry(seq=n, at=T0 + hours * HOUR, event=event, actor=actor, status=status, detail=detail)
        for n, (hours, event, actor, status, detail) in enumerate(lines, start=1)
    ]


async def test_ownership_breaches_and_medians_per_agent_and_group(engine: AsyncEngine) -> None:
    timelines = Timelines(engine)
    # a dispute routed to logistics, claimed by agent-7, breached, moved to the supervisors, and
    # claimed there by lead-3 who replies and decides
    await timelines.append(
        "dispute-o-1",
        entries(
            (0, "opened", BUYER, "AWAITING_SELLER", {}),
            (2, "routed", None, "IN_MEDIATION", {"group": "logistics", "by": "NOT_RECEIVED"}),
            (2, "help", BUYER, "IN_MEDIATION", {}),
            (3, "claim", care("agent-7"), "IN_MEDIATION", {}),
            (26, "care_reply_breached", None, "IN_MEDIATION", {}),
            (
                26,
                "reassigned",
                None,
                "IN_MEDIATION",
                {"group": "supervisors", "previous_assignee": "agent-7"},
            ),
            (27, "claim", LEAD, "IN_MEDIATION", {}),
            (28, "reply", LEAD, "IN_MEDIATION", {"text": "looking"}),
            (30, "decide", LEAD, "DECIDED", {}),
        ),
    )
    # a report routed to payments, handed to agent-7, answered after 2 h, still open
    await timelines.append(
        "care-ticket-1",
        entries(
            (0, "opened", USER, "AWAITING_CARE", {}),
            (0, "routed", None, "AWAITING_CARE", {"group": "payments", "by": "PAYMENT"}),
            (1, "assign", LEAD, "AWAITING_CARE", {"assignee": "agent-7"}),
            (2, "reply", care("agent-7"), "AWAITING_USER", {"text": "refunded"}),
        ),
    )
    # a report routed to payments that nobody took, and one handed to a group only
    await timelines.append(
        "care-ticket-2",
        entries(
            (0, "opened", USER, "AWAITING_CARE", {}),
            (0, "routed", None, "AWAITING_CARE", {"group": "payments", "by": "PAYMENT"}),
        ),
    )
    await timelines.append(
        "care-ticket-3",
        entries(
            (0, "opened", USER, "AWAITING_CARE", {}),
            (1, "claim", care("agent-8"), "AWAITING_CARE", {}),
            (2, "assign", care("agent-8"), "AWAITING_CARE", {"group": "logistics"}),
            (4, "solve", care("agent-9"), "SOLVED", {}),
            (5, "closed", None, "CLOSED", {}),
        ),
    )
    figures = await read_care_figures(engine)
    agent7, lead = figures.agents["agent-7"], figures.agents["lead-3"]
    assert (agent7.open, agent7.breaches, agent7.first_replies, agent7.decisions) == (1, 1, [7200.0], [])
    assert (lead.open, lead.breaches, lead.first_replies, lead.decisions) == (
        1,
        0,
        [26 * 3600.0],
        [28 * 3600.0],
    )
    assert figures.agents["agent-9"].decisions == [4 * 3600.0]  # a report's decision: solved
    assert "agent-8" not in {a for a, t in figures.agents.items() if t.open}  # handed to a group
    logistics, payments = figures.groups["logistics"], figures.groups["payments"]
    assert (logistics.open, logistics.breaches) == (0, 1)  # the breach happened in logistics
    assert (payments.open, payments.unassigned, payments.first_replies) == (2, 1, [7200.0])
    supervisors = figures.groups["supervisors"]
    assert (supervisors.open, supervisors.unassigned, supervisors.decisions) == (1, 0, [28 * 3600.0])
    assert figures.groups["logistics"].decisions == [4 * 3600.0]  # care-ticket-3, then closed
    # since: only what happened after it counts; ownership still does
    later = await read_care_figures(engine, since=T0 + 27 * HOUR)
    assert later.agents["agent-7"].breaches == 0 and later.agents["agent-7"].open == 1
    assert later.agents["lead-3"].first_replies == [26 * 3600.0]


async def test_the_gauges_name_the_busiest_agents_and_sum_the_rest(engine: AsyncEngine) -> None:
    timelines = Timelines(engine)
    for n in range(MAX_AGENT_LABELS + 2):
        await timelines.append(
            f"care-ticket-{n}",
            entries(
                (0, "opened", USER, "AWAITING_CARE", {}),
                (1, "claim", care(f"agent-{n:03}"), "AWAITING_CARE", {}),
            ),
        )
    gauges = CaseGauges()
    gauges.figures = await read_figures(engine)
    families: dict[str, GaugeMetricFamily] = {family.name: family for family in gauges.collect()}
    agents = {sample.labels["agent"]: sample.value for sample in families["care_agent_open_cases"].samples}
    assert len(agents) == MAX_AGENT_LABELS + 1
    assert agents["other"] == 2
    [none] = families["care_group_open_cases"].samples
    assert (none.labels, none.value) == ({"group": "none"}, MAX_AGENT_LABELS + 2)
    [unowned] = families["care_group_unassigned_cases"].samples
    assert unowned.value == 0
