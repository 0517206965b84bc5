"""Gauges of the service's state for Prometheus, read from the service database (never from
Temporal visibility): open cases by status, cases needing attention, the care queue.

They read the case_heads table (store/heads.py): one row per open case, kept up to date as each
case's publish step stores its timeline entries and dropped when the case is archived. One read
(two small queries) serves every scrape within ``ttl`` seconds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dispute import CLOSED as DISPUTE_CLOSED
from domain.dispute import DisputeStatus
from domain.ticket import TicketStatus
from store.care_stats import CareFigures, read_care_figures
from store.heads import Parked
from store.schema import case_heads

#: Statuses of a case that is over (a case closed before the archive existed keeps its head).
CLOSED_STATUSES = frozenset({*DISPUTE_CLOSED, TicketStatus.CLOSED})
log = logging.getLogger(__name__)
#: Agents named in ``care_agent_open_cases``: those owning the most open cases; the rest are
#: summed as ``other``, so the label set stays bounded however many agents there are (groups are
#: bounded by DISPUTES_CARE_GROUPS: a case's group is always one its policy lists).
MAX_AGENT_LABELS = 50
#: Statuses in which a case waits for care (GET /v1/care/queue lists the same cases).
CARE_OWES = frozenset(
    {DisputeStatus.IN_MEDIATION, DisputeStatus.DECISION_APPEALED, TicketStatus.AWAITING_CARE}
)


@dataclass
class CaseFigures:
    """What the gauges say, as of one read of the database."""

    open: Counter[tuple[str, str]] = field(default_factory=Counter)
    care_queue: Counter[str] = field(default_factory=Counter)
    care_longest_wait: dict[str, float] = field(default_factory=dict)
    attention: Counter[str] = field(default_factory=Counter)
    attention_oldest: float = 0.0
    parked: Counter[str] = field(default_factory=Counter)
    care: CareFigures = field(default_factory=CareFigures)


async def read_figures(engine: AsyncEngine, now: datetime | None = None) -> CaseFigures:
    """Read the figures: open cases by kind and status (with the oldest last change), and the
    parked effects of the cases that have any."""
    now = now or datetime.now(UTC)
    h = case_heads.c
    by_status = sa.select(h.kind, h.status, sa.func.count(), sa.func.min(h.changed_at)).group_by(
        h.kind, h.status
    )
    waiting = sa.select(h.kind, h.parked).where(h.attention_since.is_not(None))
    figures = CaseFigures()
    async with engine.connect() as connection:
        statuses = (await connection.execute(by_status)).all()
        attention = (await connection.execute(waiting)).all()
    for kind, status, count, oldest_change in statuses:
        if status in CLOSED_STATUSES:
            continue
        figures.open[(kind, status)] += count
        if status in CARE_OWES:
            figures.care_queue[kind] += count
            waited = (now - oldest_change).total_seconds()
            figures.care_longest_wait[kind] = max(figures.care_longest_wait.get(kind, 0.0), waited)
    oldest: datetime | None = None
    for kind, parked in attention:
        effects = [Parked.model_validate(p) for p in parked]
        if not effects:
            continue
        figures.attention[kind] += 1
        for effect in effects:
            figures.parked[effect.effect] += 1
            oldest = effect.since if oldest is None else min(oldest, effect.since)
    figures.attention_oldest = 0.0 if oldest is None else (now - oldest).total_seconds()
    figures.care = await read_care_figures(engine)
    return figures


class CaseGauges(Collector):
    """The gauges, served from the last read; ``refresh`` reads again when it is ``ttl`` old."""

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self.figures: CaseFigures | None = None
        self.read_at = -float("inf")
        self.failed = False
        self.engine: AsyncEngine | None = None
        self._lock = asyncio.Lock()

    async def refresh(self, engine: AsyncEngine) -> None:
        """Read the figures unless the last read is recent; a failed read leaves them out (the
        scrape still answers, ``service_state_read_ok`` says 0)."""
        async with self._lock:
            if engine is self.engine and time.monotonic() - self.read_at < self.ttl:
                return
            self.engine = engine
            try:
                self.figures = await read_figures(engine)
                self.failed = False
            except Exception:
                log.warning("could not read the case gauges from the service database", exc_info=True)
                self.figures, self.failed = None, True
            self.read_at = time.monotonic()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauge families (none but ``service_state_read_ok`` before the first read)."""
        ok = GaugeMetricFamily("service_state_read_ok", "1 when the gauges below read the service database")
        ok.add_metric([], 0.0 if self.failed or self.figures is None else 1.0)
        yield ok
        figures = self.figures
        if figures is None:
            return
        opened = GaugeMetricFamily("cases_open", "Open cases by kind and status", labels=["kind", "status"])
        for (kind, status), count in sorted(figures.open.items()):
            opened.add_metric([kind, status], count)
        yield opened
        queue = GaugeMetricFamily(
            "care_queue_length", "Open cases waiting for care, by kind", labels=["kind"]
        )
        wait = GaugeMetricFamily(
            "care_queue_longest_wait_seconds",
            "Seconds since the last change of the case that has waited longest for care, by kind",
            labels=["kind"],
        )
        attention = GaugeMetricFamily(
            "cases_needing_attention", "Cases with an effect parked for an operator, by kind", labels=["kind"]
        )
        for kind in ("dispute", "ticket"):
            queue.add_metric([kind], figures.care_queue[kind])
            wait.add_metric([kind], figures.care_longest_wait.get(kind, 0.0))
            attention.add_metric([kind], figures.attention[kind])
        yield queue
        yield wait
        yield attention
        parked = GaugeMetricFamily(
            "effects_parked_now", "Effects parked for an operator now", labels=["effect"]
        )
        for effect, count in sorted(figures.parked.items()):
            parked.add_metric([effect], count)
        yield parked
        oldest = GaugeMetricFamily(
            "cases_needing_attention_oldest_seconds", "Age of the oldest parked effect (0 when none)"
        )
        oldest.add_metric([], figures.attention_oldest)
        yield oldest
        yield from _care_gauges(figures.care)


def _care_gauges(care: CareFigures) -> Iterator[GaugeMetricFamily]:
    """Open cases, unowned ones and missed targets per care group; open cases per agent (the
    ``MAX_AGENT_LABELS`` busiest, the rest as ``other``)."""
    groups = {
        "care_group_open_cases": ("Open cases in each care group ('none': in no group)", "open"),
        "care_group_unassigned_cases": ("Open cases in each care group that nobody owns", "unassigned"),
        "care_group_target_breaches": ("Care targets missed while the case was in the group", "breaches"),
    }
    for name, (description, attribute) in groups.items():
        gauge = GaugeMetricFamily(name, description, labels=["group"])
        for group, tally in sorted(care.groups.items(), key=lambda item: item[0] or ""):
            gauge.add_metric([group or "none"], getattr(tally, attribute))
        yield gauge
    agents = GaugeMetricFamily(
        "care_agent_open_cases",
        "Open cases each care agent owns (the busiest agents; the rest: other)",
        labels=["agent"],
    )
    owning = sorted(((tally.open, agent) for agent, tally in care.agents.items() if tally.open), reverse=True)
    for count, agent in owning[:MAX_AGENT_LABELS]:
        agents.add_metric([agent], count)
    if len(owning) > MAX_AGENT_LABELS:
        agents.add_metric(["other"], sum(count for count, _ in owning[MAX_AGENT_LABELS:]))
    yield agents
