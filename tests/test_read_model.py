"""The read model (store/views.py): one row per case, written by the case's own steps with its
timeline, never moved back to an older version, kept once the case closes; and every read of one
case answered from it, over real HTTP, on any API replica, with Temporal or the workers down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.settings import Settings
from domain.commands import Cancel
from domain.dispute import Dispute, OpenDisputeInput
from domain.ids import dispute_workflow_id
from store.cases import ArchiveInput, CaseStore, Timelines
from store.db import database
from store.migrate import migrate
from store.views import CaseViews, view_of
from store.webhooks import webhook_store
from tests.factories import BUYER as BUYER_ACTOR
from tests.factories import T0, dispute_request
from tests.platform import PREFIX, SIGNING_SECRET
from tests.postgres import PostgresServer
from tests.processes import DevServer, Endpoint, Platform
from tests.support import BUYER, SELLER, claim, eventually, new_order, serving
from wiring.temporal import data_converter
from workflows.dispute import DisputeRun, DisputeWorkflow

ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of the test's own: a SQLite file, or a new database on the session's server."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database("views")


@pytest.fixture
async def db(url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(migrate, url)
    async with database(Settings(data_dir=tmp_path, database_url=url)) as engine:
        yield engine


def _dispute() -> Dispute:
    return Dispute.open("dispute-o-views", dispute_request(), T0)


# -- the store -------------------------------------------------------------------------------


async def test_an_older_version_written_after_a_newer_one_is_ignored(db: AsyncEngine) -> None:
    views = CaseViews(db)
    dispute = _dispute()
    first = view_of("dispute", dispute, T0)
    dispute.record_rejected_event("e-1", "x", "no", T0 + timedelta(minutes=1))
    dispute.record_rejected_event("e-2", "x", "no", T0 + timedelta(minutes=2))
    later = view_of("dispute", dispute, T0 + timedelta(minutes=2))
    assert (first.version, later.version) == (1, 3)

    assert await views.write(later)
    assert not await views.write(first)  # a retried or slower step with an older state
    assert not await views.write(later)  # the same version again changes nothing
    stored = await views.get(dispute.id)
    assert stored is not None and stored.version == 3 and stored.updated_at == later.updated_at
    assert stored.state["timeline_seq"] == 3 and "timeline" not in stored.state
    assert (stored.kind, stored.buyer_id, stored.seller_id, stored.order_id) == (
        "dispute",
        dispute.buyer_id,
        dispute.seller_id,
        dispute.order_id,
    )
    assert stored.next_deadline_at == dispute.next_deadline_at is not None
    assert await views.get("dispute-o-unknown") is None


async def test_a_step_stores_its_entries_and_its_row_together_and_a_closed_row_stays(db: AsyncEngine) -> None:
    store = CaseStore(db)
    dispute = _dispute()
    opened = view_of("dispute", dispute, T0)
    await store.store_change(dispute.id, dispute.timeline, opened)
    assert [e.seq for e in await Timelines(db).for_case(dispute.id)] == [1]

    closed_at = T0 + timedelta(days=1)
    dispute.apply(Cancel(actor=BUYER_ACTOR), closed_at)
    assert dispute.closed
    await store.archive(
        ArchiveInput(
            case_id=dispute.id,
            kind="dispute",
            order_id=dispute.order_id,
            status=dispute.status,
            opened_at=T0,
            closed_at=closed_at,
            state=dispute.model_dump(mode="json", exclude={"timeline"}),
            timeline=dispute.timeline[1:],
        )
    )
    # a late retry of the first publish step writes nothing over the closed case
    await store.store_change(dispute.id, dispute.timeline[:1], opened)
    row = await CaseViews(db).get(dispute.id)
    assert row is not None and row.closed and row.version == dispute.timeline_seq > 1
    assert row.status == dispute.status and row.updated_at == closed_at
    assert [e.seq for e in await Timelines(db).for_case(dispute.id)] == list(
        range(1, dispute.timeline_seq + 1)
    )


# -- over HTTP, against the dev server ----------------------------------------------------


@pytest.fixture(params=ENGINES)
async def shared(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The settings of API replicas sharing one service database: SQLite, or PostgreSQL."""
    if request.param == "sqlite":
        return settings
    url = request.getfixturevalue("postgres").create_database("replicas")
    await asyncio.to_thread(migrate, url)
    return settings.model_copy(update={"database_url": url})


async def test_an_action_answers_with_its_version_and_another_replica_reads_it_at_once(
    dev_server_env: WorkflowEnvironment, shared: Settings
) -> None:
    # Two API replicas, each with its own connections to the one database; workers run with the first.
    async with (
        serving(shared, dev_server_env) as one,
        serving(shared, dev_server_env, worker=False) as two,
    ):
        opened = await one.post("/v1/disputes", json=claim(new_order()))
        assert opened.status_code == 201 and opened.json()["version"] == 1
        dispute_id = opened.json()["id"]
        first = await two.get(f"/v1/disputes/{dispute_id}")  # before its first publish step, maybe
        assert first.status_code == 200, first.text
        assert first.json()["version"] >= 1 and [e["event"] for e in first.json()["timeline"]][:1] == [
            "opened"
        ]

        said = await one.post(f"/v1/disputes/{dispute_id}/messages", json={"actor": BUYER, "text": "Photo"})
        assert said.status_code == 200, said.text
        version = said.json()["version"]
        assert version > 1 and said.json()["as_of"] is not None and not said.json()["stale"]
        assert said.json()["timeline"][-1]["event"] == "message"
        seen = (await two.get(f"/v1/disputes/{dispute_id}")).json()
        assert seen["version"] >= version and "message" in [e["event"] for e in seen["timeline"]]
        # the webhook event of that change says the same version (kept before the answer came)
        async with database(shared) as engine:
            kept = [e.body for e in await webhook_store(shared, engine).events() if e.case_id == dispute_id]
        message_seq = said.json()["timeline"][-1]["seq"]
        assert [(body["type"], body["version"]) for body in kept] == [
            ("dispute.opened", 1),
            ("dispute.updated", message_seq),
        ]

        offered = await two.post(
            f"/v1/disputes/{dispute_id}/offers",
            json={"actor": SELLER, "solution": {"kind": "RELEASE_TO_SELLER"}},
        )
        assert offered.status_code == 200, offered.text
        assert offered.json()["version"] > version and offered.json()["status"] == "AWAITING_BUYER"
        back = (await one.get(f"/v1/disputes/{dispute_id}")).json()
        assert back["version"] >= offered.json()["version"] and back["status"] == "AWAITING_BUYER"


async def test_a_read_needs_no_worker_and_no_temporal(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    server = DevServer(tmp_path / "temporal")
    await server.start()
    try:
        client = await Client.connect(server.address, data_converter=data_converter(settings))
        async with serving(settings, client, engine=engine) as api:
            dispute_id = (await api.post("/v1/disputes", json=claim(new_order()))).json()["id"]
            offered = await api.post(
                f"/v1/disputes/{dispute_id}/offers",
                json={"actor": SELLER, "solution": {"kind": "RELEASE_TO_SELLER"}},
            )
            assert offered.status_code == 200, offered.text

        async with serving(settings, client, worker=False, engine=engine) as api:
            # No worker: the case is read at the version its action answered with.
            started = time.monotonic()
            read = await api.get(f"/v1/disputes/{dispute_id}")
            assert read.status_code == 200 and time.monotonic() - started < 1, read.text
            body = read.json()
            assert body["version"] == offered.json()["version"] and body["status"] == "AWAITING_BUYER"
            assert datetime.fromisoformat(body["as_of"]) <= datetime.now(UTC) and not body["stale"]
            # A case opened with no worker is read at once: the API stored the state it opened in.
            fresh = await api.post("/v1/disputes", json=claim(new_order()))
            assert fresh.status_code == 201
            first = (await api.get(f"/v1/disputes/{fresh.json()['id']}")).json()
            assert (first["version"], first["status"]) == (1, "AWAITING_SELLER")
            assert [e["event"] for e in first["timeline"]] == ["opened"]
            # A workflow started without the API, never run: the read model knows no such case.
            order = new_order()
            request = OpenDisputeInput(**claim(order), policy=settings.dispute_policy())
            await client.start_workflow(
                DisputeWorkflow.run,
                DisputeRun(open=request),
                id=dispute_workflow_id(order),
                task_queue=settings.task_queue,
            )
            assert (await api.get(f"/v1/disputes/{dispute_workflow_id(order)}")).status_code == 404

            # Temporal itself is down: reads, the effects a party polls, party checks all answer.
            await server.stop()
            again = await api.get(f"/v1/disputes/{dispute_id}")
            assert again.status_code == 200 and again.json() == body, again.text
            effects = await api.get(f"/v1/disputes/{dispute_id}/effects")
            assert effects.status_code == 200 and effects.json()["items"]
            outsider = await api.get(
                f"/v1/disputes/{dispute_id}", params={"actor_role": "buyer", "actor_id": "someone-else"}
            )
            assert outsider.status_code == 403, outsider.text
    finally:
        if server.process is not None and server.process.alive:
            await server.stop()


def test_every_case_view_says_its_version_and_as_of(settings: Settings) -> None:
    schemas = create_app(settings).openapi()["components"]["schemas"]
    for name in ("DisputePublic", "TicketPublic"):
        properties = schemas[name]["properties"]
        assert {"version", "as_of"} <= properties.keys(), name
        assert "timeline_seq" in properties["version"]["description"]


async def test_a_receiver_that_is_down_holds_no_action(
    dev_server_env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine
) -> None:
    """The notifications endpoint is down: the action is stored and answered at once; its notice
    waits in the case's deliver lane and goes out, once, when the endpoint is back."""
    platform = Platform()
    down = Endpoint(platform.app())  # not up yet: connections refused
    settings = settings.model_copy(
        update={
            "effects": "http",
            "effects_base_url": f"{down.url}{PREFIX}",
            "effects_signing_secret": SecretStr(SIGNING_SECRET),
            "activity_max_retry_interval": timedelta(seconds=1),
        }
    )
    try:
        async with serving(settings, dev_server_env, engine=engine) as api:
            dispute_id = (await api.post("/v1/disputes", json=claim(new_order()))).json()["id"]
            started = time.monotonic()
            message = {"actor": BUYER, "text": "Photo"}
            said = await api.post(f"/v1/disputes/{dispute_id}/messages", json=message)
            assert said.status_code == 200, said.text
            assert time.monotonic() - started < settings.action_timeout.total_seconds()
            assert said.json()["timeline"][-1]["event"] == "message"
            assert not platform.applied("/notifications")

            await down.up()

            async def told() -> bool:
                told = platform.applied("/notifications")
                return any((n.get("params") or {}).get("action") == "message" for n in told)

            await eventually(told, seconds=30)
            keys = [seen.key for seen in platform.seen("/notifications")]
            assert len(set(keys)) == len(platform.applied("/notifications"))  # each notice applied once
    finally:
        await down.down()
