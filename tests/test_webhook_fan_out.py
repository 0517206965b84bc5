"""One key cannot slow every case (issue 19, hole 2): each key has at most
``DISPUTES_WEBHOOK_MAX_SUBSCRIPTIONS`` subscriptions, and a case's publish step hands each event
over once (a ``case_events`` row and one fan-out workflow), however many subscribe to it; the
webhook lane starts the deliveries.

Before: the publish step started one delivery workflow per subscription itself, so with 25
subscriptions for each of two keys every case step made 50 starts before it finished."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.models import PublishInput
from activities.webhooks import payload_of
from core.settings import Settings
from domain.outbound import CaseEvent, EventType
from store.db import database
from store.migrate import migrate
from store.webhooks import SubscriptionLimit, WebhookStore, webhook_store
from tests.processes import record_figures
from tests.support import AS_ADMIN, eventually, listening, serving
from wiring.temporal import case_activities
from wiring.webhooks import WebhookPublisher

LIMIT = 25
KEYS = ("checkout", "ops")  # the platform key and the admin key of tests/support.py
SAMPLES = 15


class Hooks:
    """A receiver that counts the deliveries of each event per subscription path."""

    def __init__(self) -> None:
        self.got: dict[str, set[str]] = {}
        self.app = Starlette(routes=[Route("/hooks/{n}", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        event = request.headers["webhook-id"]
        self.got.setdefault(event, set()).add(request.path_params["n"])
        return Response(status_code=204)


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[Hooks, str]]:
    receiver = Hooks()
    async with listening(receiver.app) as url:
        yield receiver, url


def event(n: int, case: str = "dispute-o-fan") -> CaseEvent:
    return CaseEvent(
        id=f"{case}:{n}",
        type=EventType.DISPUTE_UPDATED,
        case_id=case,
        occurred_at=datetime.now(UTC),
        data={"id": case, "status": "WAITING_FOR_SELLER_RESPONSE"},
    )


async def subscribe_everyone(store: WebhookStore, base: str) -> None:
    for key in KEYS:
        for n in range(LIMIT):
            await store.add(f"{base}/hooks/{key}-{n}", ["*"], None, key, limit=LIMIT)


# -- the limit ------------------------------------------------------------------------------------


async def test_a_key_gets_25_subscriptions_and_the_next_is_a_problem_naming_the_limit(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    assert settings.webhook_max_subscriptions == LIMIT  # the default
    for n in range(LIMIT):
        made = await api.post("/v1/webhooks", json={"url": f"http://127.0.0.1:9/hooks/{n}"})
        assert made.status_code == 201, made.text

    refused = await api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks/one-more"})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["limit"] == LIMIT
    assert "25" in problem["detail"] and "DISPUTES_WEBHOOK_MAX_SUBSCRIPTIONS" in problem["detail"]
    assert len((await api.get("/v1/webhooks")).json()["items"]) == LIMIT

    # A retried request (same Idempotency-Key) for a subscription made before the limit still
    # answers; another key has its own 25; removing one makes room again.
    again = {"Idempotency-Key": "sub-again"}
    await api.delete(f"/v1/webhooks/{(await api.get('/v1/webhooks')).json()['items'][0]['id']}")
    first = await api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks/k"}, headers=again)
    assert first.status_code == 201, first.text
    retried = await api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks/k"}, headers=again)
    assert retried.status_code == 201 and retried.json()["id"] == first.json()["id"]
    other = await api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks/a"}, headers=AS_ADMIN)
    assert other.status_code == 201, other.text


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """The service database, migrated, on SQLite and on PostgreSQL (the deployment's)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").create_database("fanout")
    await asyncio.to_thread(migrate, url)
    async with database(Settings(data_dir=tmp_path, database_url=url)) as engine:
        yield engine


async def test_the_limit_and_the_kept_events_in_either_database(db: AsyncEngine, settings: Settings) -> None:
    store = webhook_store(settings, db)
    for n in range(3):
        await store.add(f"http://127.0.0.1:9/{n}", ["dispute.updated"], None, "checkout", limit=3)
    with pytest.raises(SubscriptionLimit):
        await store.add("http://127.0.0.1:9/x", ["*"], None, "checkout", limit=3)
    assert (await store.add("http://127.0.0.1:9/x", ["*"], None, "ops", limit=3)).owner == "ops"
    # Racing requests for the last places: at most the limit (one statement counts and adds).
    await asyncio.gather(
        *(store.add(f"http://127.0.0.1:9/r{n}", ["*"], None, "racer", limit=3) for n in range(10)),
        return_exceptions=True,
    )
    assert await store.count("racer") == 3

    assert await store.hand_over(event(1), payload_of(event(1)))
    assert await store.hand_over(event(1), payload_of(event(1)))  # a retried step: kept once
    assert await store.hand_over(event(2), payload_of(event(2)))
    kept = await store.events()
    assert [(e.id, e.case_id) for e in kept] == [
        ("dispute-o-fan:1", "dispute-o-fan"),
        ("dispute-o-fan:2", "dispute-o-fan"),
    ]
    assert kept[0].seq < kept[1].seq and [e.id for e in await store.events(after=kept[0].seq)] == [
        "dispute-o-fan:2"
    ]
    assert kept[1].body["data"] == payload_of(event(2))["data"]


# -- the hand-over ----------------------------------------------------------------------------------


class CountingClient:
    """Stands in for the Temporal client of the publish step: counts what it is asked to start."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, str]] = []

    async def start_workflow(self, workflow: str, arg: Any, *, id: str, **options: Any) -> None:
        self.starts.append((workflow, id))


@pytest.mark.parametrize("subscriptions", [1, 2 * LIMIT])
async def test_the_publish_step_hands_an_event_over_once_however_many_subscribe(
    settings: Settings, engine: AsyncEngine, subscriptions: int
) -> None:
    store = webhook_store(settings, engine)
    for n in range(subscriptions):
        await store.add(f"http://127.0.0.1:9/hooks/{n}", ["*"], None, KEYS[n % 2], limit=LIMIT)
    client = CountingClient()
    publisher = WebhookPublisher(store, client, settings)  # type: ignore[arg-type]

    assert await publisher.publish(event(1)) == 1
    assert await publisher.publish(event(1)) == 1  # a retried step: the same single hand-over

    assert client.starts == [("WebhookFanOutWorkflow", "webhook-fan-out-dispute-o-fan:1")] * 2
    [kept] = await store.events()
    assert (kept.id, kept.type, kept.case_id) == ("dispute-o-fan:1", "dispute.updated", "dispute-o-fan")
    assert kept.body["id"] == "dispute-o-fan:1" and kept.body["data"] == payload_of(event(1))["data"]


async def test_without_subscriptions_an_event_is_kept_and_nothing_is_started(
    settings: Settings, engine: AsyncEngine
) -> None:
    store = webhook_store(settings, engine)
    client = CountingClient()
    assert await WebhookPublisher(store, client, settings).publish(event(1)) == 0  # type: ignore[arg-type]
    assert client.starts == []
    assert [e.id for e in await store.events()] == ["dispute-o-fan:1"]
    # Nor when every subscription wants other types.
    await store.add("http://127.0.0.1:9/hooks", ["ticket.opened", "ticket.replied"], None, "checkout")
    assert await WebhookPublisher(store, client, settings).publish(event(2)) == 0  # type: ignore[arg-type]
    assert client.starts == []
    assert [e.id for e in await store.events()] == ["dispute-o-fan:1", "dispute-o-fan:2"]


async def publish_step_seconds(
    client: Client, settings: Settings, engine: AsyncEngine, case: str
) -> list[float]:
    """How long the real publish step takes for one event each time, against the dev server."""
    activities = case_activities(settings, client, engine)
    took = []
    for n in range(SAMPLES):
        change = PublishInput(case_id=case, batch=n + 1, events=[event(n, case)])
        started = time.perf_counter()
        await activities.publish_change(change)
        took.append(time.perf_counter() - started)
    return took


async def test_a_case_step_takes_as_long_with_25_subscriptions_per_key_as_with_none(
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    engine: AsyncEngine,
    tmp_path: Path,
    hooks: tuple[Hooks, str],
) -> None:
    receiver, base = hooks
    client = dev_server_env.client
    # No subscriptions at all, and one (their own databases; their fan-outs go to a queue no
    # worker polls), then 25 for each of two keys.
    aside = settings.model_copy(update={"webhook_task_queue": f"{settings.task_queue}-aside"})
    async with database(Settings(data_dir=tmp_path / "none", task_queue=settings.task_queue)) as bare:
        alone = await publish_step_seconds(client, aside, bare, f"dispute-o-none-{settings.task_queue}")
    async with database(Settings(data_dir=tmp_path / "one", task_queue=settings.task_queue)) as single:
        await webhook_store(settings, single).add(f"{base}/hooks/one", ["*"], None, "checkout")
        one = await publish_step_seconds(client, aside, single, f"dispute-o-one-{settings.task_queue}")
    await subscribe_everyone(webhook_store(settings, engine), base)
    case = f"dispute-o-busy-{settings.task_queue}"
    busy = await publish_step_seconds(client, settings, engine, case)

    median_alone, median_one, median_busy = (statistics.median(s) for s in (alone, one, busy))
    record_figures(
        "test_a_case_step_takes_as_long_with_25_subscriptions_per_key_as_with_none",
        {
            "publish_ms_none": round(median_alone * 1000, 1),
            "publish_ms_1": round(median_one * 1000, 1),
            "publish_ms_50": round(median_busy * 1000, 1),
        },
    )
    # With the fan-out in the step, 50 subscriptions cost 50 workflow starts (hundreds of ms on
    # this machine); handed over, one row and one start whatever the count (none: the row only).
    # Generous margins: a loaded 2-core machine.
    assert median_busy < 2 * median_one + 0.03, (one, busy)
    assert median_busy < 3 * median_alone + 0.05, (alone, busy)

    # ...and the webhook lane delivers every one of those events to all 50 subscriptions.
    async with serving(settings, dev_server_env, engine=engine):

        async def everyone_got_everything() -> bool:
            got = [receiver.got.get(f"{case}:{n}", set()) for n in range(SAMPLES)]
            return all(len(paths) == 2 * LIMIT for paths in got)

        await eventually(everyone_got_everything, seconds=120)
