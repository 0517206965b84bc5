"""The case gauges the alerts and dashboards read come from the service database: open cases by
status, the care queue, and cases needing attention, from the case heads the stored timelines keep
(parks and the operators' repairs) on SQLite and PostgreSQL, also for the cases a deployment
already has when it migrates, and served on the API's /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from api.main import create_app
from core.settings import Settings
from domain.case import TimelineEntry
from store.cases import ArchivedCase, CaseArchive, Timelines
from store.db import create_engine, database
from store.heads import Parked, parked_effects
from store.metrics import CaseGauges, read_figures
from store.migrate import migrate
from store.schema import case_archive, timeline_entries
from tests.postgres import PostgresServer, free_port
from tests.support import listening

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty service database of the test's own."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database("gauges")


@pytest.fixture
async def db(url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """That database, migrated."""
    await asyncio.to_thread(migrate, url)
    async with database(Settings(data_dir=tmp_path, database_url=url)) as engine:
        yield engine


def entry(seq: int, event: str, status: str, minutes: int, **detail: Any) -> TimelineEntry:
    return TimelineEntry(
        seq=seq, at=T0 + timedelta(minutes=minutes), event=event, status=status, detail=detail
    )


def park(seq: int, effect: str, key: str, minutes: int, status: str = "AWAITING_FULFILMENT") -> TimelineEntry:
    return entry(seq, "needs_attention", status, minutes, effect=effect, idempotency_key=key, reason="x")


#: Seven cases: two open disputes in mediation, one with a refund parked since minute 10 (its
#: parked publish step retried), one whose parked release an operator retried, a resolved archived
#: one, an open report awaiting care, a closed report that was never archived, and a dispute whose
#: parked payouts care re-decided.
TIMELINES = {
    "dispute-o-1": [entry(1, "opened", "AWAITING_SELLER", 0), entry(2, "escalated", "IN_MEDIATION", 20)],
    "dispute-o-2": [
        entry(1, "opened", "AWAITING_SELLER", 0),
        entry(2, "accept", "AWAITING_FULFILMENT", 5),
        park(3, "refund_to_buyer", "dispute-o-2:refund_to_buyer", 10),
        park(4, "publish", "dispute-o-2:publish:3", 12),
        entry(5, "retry_effect", "AWAITING_FULFILMENT", 14, key="dispute-o-2:publish:3"),
    ],
    "dispute-o-3": [
        entry(1, "opened", "AWAITING_SELLER", 0),
        park(2, "release_to_seller", "dispute-o-3:release_to_seller", 5),
        entry(3, "retry_effect", "AWAITING_FULFILMENT", 6),
        entry(4, "escalated", "IN_MEDIATION", 50),
    ],
    "dispute-o-4": [entry(1, "opened", "AWAITING_SELLER", 0), entry(2, "resolved", "RESOLVED", 1)],
    "care-ticket-1": [entry(1, "opened", "AWAITING_CARE", 30)],
    "care-ticket-2": [entry(1, "opened", "AWAITING_CARE", 0), entry(2, "x", "CLOSED", 1)],
    "dispute-o-5": [
        park(1, "refund_to_buyer", "dispute-o-5:refund_to_buyer", 1),
        park(2, "release_to_seller", "dispute-o-5:release_to_seller", 2),
        entry(3, "redecide", "AWAITING_FULFILMENT", 3),
    ],
}
ARCHIVED = ArchivedCase(case_id="dispute-o-4", kind="dispute", status="RESOLVED", closed_at=T0, state={})


async def stored(engine: AsyncEngine) -> None:
    """The cases, as their publish steps store them: a step's entries at a time (a retried step
    stores some again), then the archive."""
    timelines = Timelines(engine)
    for case_id, entries in TIMELINES.items():
        for n in range(len(entries)):
            await timelines.append(case_id, entries[max(0, n - 1) : n + 1])
    await CaseArchive(engine).archive(ARCHIVED)


def assert_the_figures(figures: Any) -> None:
    assert dict(figures.open) == {
        ("dispute", "IN_MEDIATION"): 2,
        ("dispute", "AWAITING_FULFILMENT"): 2,
        ("ticket", "AWAITING_CARE"): 1,
    }
    assert dict(figures.care_queue) == {"dispute": 2, "ticket": 1}
    assert figures.care_longest_wait == {"dispute": 40 * 60, "ticket": 30 * 60}
    assert dict(figures.attention) == {"dispute": 1}  # o-2's refund; o-3 retried, o-5 re-decided
    assert dict(figures.parked) == {"refund_to_buyer": 1}
    assert figures.attention_oldest == 50 * 60


async def test_gauges_read_open_cases_the_care_queue_and_parked_effects(db: AsyncEngine) -> None:
    await stored(db)

    assert_the_figures(await read_figures(db, now=NOW))
    await Timelines(db).append("dispute-o-4", TIMELINES["dispute-o-4"])  # a late retry: no head again
    assert_the_figures(await read_figures(db, now=NOW))


async def test_the_migration_gives_the_cases_already_stored_their_heads(url: str, tmp_path: Path) -> None:
    await asyncio.to_thread(migrate, url, "0002_webhooks")
    before = create_engine(url)  # the deployment's database before the upgrade
    try:
        async with before.begin() as connection:
            for case_id, entries in TIMELINES.items():
                rows = [{"case_id": case_id, **e.model_dump(exclude={"actor"})} for e in entries]
                await connection.execute(timeline_entries.insert(), rows)
            await connection.execute(case_archive.insert(), [ARCHIVED.model_dump()])
    finally:
        await before.dispose()
    await asyncio.to_thread(migrate, url)
    async with database(Settings(data_dir=tmp_path, database_url=url)) as engine:
        assert_the_figures(await read_figures(engine, now=NOW))


def test_a_repair_without_a_key_takes_the_effect_the_case_takes() -> None:
    refund = Parked(effect="refund_to_buyer", key="k-refund", since=T0)
    publish = Parked(effect="publish", key="k-publish", since=T0)
    parks = [
        ("needs_attention", T0, {"effect": p.effect, "idempotency_key": p.key}) for p in (publish, refund)
    ]

    assert parked_effects([*parks, ("retry_effect", T0, {})]) == [refund]  # the first
    # done by hand: the first that can be done by hand (a publish step can only be retried)
    assert parked_effects([*parks, ("resolve_effect", T0, {"external_ref": "x"})]) == [publish]
    assert parked_effects([*parks, ("retry_effect", T0, {"key": "k-refund"})]) == [publish]
    assert parked_effects([*parks, ("redecide", T0, {})]) == [publish]
    assert parked_effects([*parks, parks[0]]) == [publish, refund]  # parked once
    assert parked_effects([("retry_effect", T0, {})], [refund]) == []  # from the head's parked ones


async def test_the_api_serves_the_gauges_on_metrics(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    async with database(settings) as engine:
        await stored(engine)
        app = create_app(settings, client=object(), engine=engine)  # type: ignore[arg-type]
        async with listening(app) as url, httpx.AsyncClient(base_url=url) as http:
            served = await http.get("/metrics")
    assert served.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(served.text)
        for sample in family.samples
    }
    assert samples[("service_state_read_ok", ())] == 1
    assert samples[("cases_needing_attention", (("kind", "dispute"),))] == 1
    assert samples[("cases_open", (("kind", "dispute"), ("status", "IN_MEDIATION")))] == 2
    assert samples[("care_queue_length", (("kind", "ticket"),))] == 1
    assert samples[("effects_parked_now", (("effect", "refund_to_buyer"),))] == 1
    assert samples[("cases_needing_attention_oldest_seconds", ())] > 50 * 60


async def test_a_database_that_does_not_answer_says_so_and_serves_no_stale_figures(db: AsyncEngine) -> None:
    gauges = CaseGauges(ttl=0)
    await stored(db)
    await gauges.refresh(db)
    assert {family.name for family in gauges.collect()} >= {"cases_open", "cases_needing_attention"}
    down = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none", timeout=timedelta(seconds=2)
    )
    try:
        await gauges.refresh(down)
    finally:
        await down.dispose()
    [ok] = list(gauges.collect())  # only the flag: no figures of a database that did not answer
    assert ok.name == "service_state_read_ok" and ok.samples[0].value == 0
