"""Gauges of the service's state for Prometheus, read from the service database (never from
Temporal visibility): open cases by status, cases needing attention, the care queue.

The source is what every case's publish step stores: its timeline entries, each carrying the
case's status after it, and the archive of closed cases. A case's status is that of its last
stored entry; its parked effects are its ``needs_attention`` entries less the repairs recorded
after them (``retry_effect``, ``resolve_effect``, and ``redecide`` for payouts), replayed with
the same choice the case makes when an operator names no key. One read serves every scrape
within ``ttl`` seconds, so a scrape costs at most two aggregate queries."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.case import RETRY_ONLY
from domain.dispute import CLOSED as DISPUTE_CLOSED
from domain.dispute import PAYOUT_EFFECTS, DisputeStatus
from domain.ticket import TicketStatus
from store.schema import case_archive, timeline_entries

#: Statuses of a case that is over (a case closed before the archive existed keeps one).
CLOSED_STATUSES = frozenset({*DISPUTE_CLOSED, TicketStatus.CLOSED})
#: Statuses in which a case waits for care (GET /v1/care/queue lists the same cases).
CARE_OWES = frozenset(
    {DisputeStatus.IN_MEDIATION, DisputeStatus.DECISION_APPEALED, TicketStatus.AWAITING_CARE}
)
#: The timeline events that park or repair an effect.
ATTENTION_EVENTS = ("needs_attention", "retry_effect", "resolve_effect", "redecide")


def case_kind(case_id: str) -> str:
    """``dispute`` or ``ticket``, from the case's id."""
    return "dispute" if case_id.startswith("dispute-") else "ticket"


@dataclass
class Parked:
    """One effect waiting for an operator, as the timeline tells it."""

    effect: str
    key: str
    since: datetime


def parked_effects(entries: Iterable[tuple[str, datetime, dict[str, Any]]]) -> list[Parked]:
    """The effects still parked after a case's attention entries (event, at, detail), in order."""
    parked: list[Parked] = []
    for event, at, detail in entries:
        key = detail.get("key")
        if event == "needs_attention":
            if not any(p.key == detail.get("idempotency_key") for p in parked):
                parked.append(Parked(str(detail.get("effect")), str(detail.get("idempotency_key")), at))
        elif event == "redecide":
            parked = [p for p in parked if p.effect not in PAYOUT_EFFECTS.values()]
        elif parked:
            if key is not None:
                found = next((p for p in parked if p.key == key), None)
            elif event == "resolve_effect":
                found = next((p for p in parked if p.effect not in RETRY_ONLY), parked[0])
            else:
                found = parked[0]
            if found is not None:
                parked.remove(found)
    return parked


@dataclass
class CaseFigures:
    """What the gauges say, as of one read of the database."""

    open: Counter[tuple[str, str]] = field(default_factory=Counter)
    care_queue: Counter[str] = field(default_factory=Counter)
    care_longest_wait: dict[str, float] = field(default_factory=dict)
    attention: Counter[str] = field(default_factory=Counter)
    attention_oldest: float = 0.0
    parked: Counter[str] = field(default_factory=Counter)


async def read_figures(engine: AsyncEngine, now: datetime | None = None) -> CaseFigures:
    """Read the figures with two queries: the last entry of every case not archived, and the
    attention entries of those cases."""
    now = now or datetime.now(UTC)
    t = timeline_entries.c
    archived = sa.exists().where(case_archive.c.case_id == t.case_id)
    last = sa.select(t.case_id, sa.func.max(t.seq).label("seq")).group_by(t.case_id).subquery()
    latest = (
        sa.select(t.case_id, t.status, t.at)
        .join(last, sa.and_(t.case_id == last.c.case_id, t.seq == last.c.seq))
        .where(~archived)
    )
    attention = (
        sa.select(t.case_id, t.event, t.at, t.detail)
        .where(t.event.in_(ATTENTION_EVENTS), ~archived)
        .order_by(t.case_id, t.seq)
    )
    figures = CaseFigures()
    async with engine.connect() as connection:
        cases = (await connection.execute(latest)).all()
        repairs = (await connection.execute(attention)).all()
    for case_id, status, at in cases:
        if status in CLOSED_STATUSES:
            continue
        kind = case_kind(case_id)
        figures.open[(kind, status)] += 1
        if status in CARE_OWES:
            figures.care_queue[kind] += 1
            waited = (now - at).total_seconds()
            figures.care_longest_wait[kind] = max(figures.care_longest_wait.get(kind, 0.0), waited)
    oldest: datetime | None = None
    for case_id, rows in _by_case(repairs):
        still = parked_effects((row.event, row.at, row.detail or {}) for row in rows)
        if not still:
            continue
        figures.attention[case_kind(case_id)] += 1
        for effect in still:
            figures.parked[effect.effect] += 1
            oldest = effect.since if oldest is None else min(oldest, effect.since)
    figures.attention_oldest = 0.0 if oldest is None else (now - oldest).total_seconds()
    return figures


def _by_case(rows: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
    current: str | None = None
    group: list[Any] = []
    for row in rows:
        if row.case_id != current:
            if current is not None:
                yield current, group
            current, group = row.case_id, []
        group.append(row)
    if current is not None:
        yield current, group


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
