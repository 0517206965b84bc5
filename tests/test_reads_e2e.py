"""Reads that never replay: closed cases come from the archive, open ones answer fast or stale.

Over real HTTP against the dev server, with the worker started and stopped by the test."""

from __future__ import annotations

import time
import uuid
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.dispute import OpenDisputeInput
from domain.ids import dispute_workflow_id
from store.cases import CaseArchive
from tests.support import BUYER, SELLER, claim, eventually, new_order, serving
from wiring.temporal import build_worker, case_activities
from workflows.dispute import DisputeRun, DisputeWorkflow


def quick(settings: Settings) -> Settings:
    return settings.model_copy(update={"read_timeout": timedelta(seconds=1)})


async def test_a_closed_dispute_reads_from_the_archive_even_after_its_workflow_is_deleted(
    dev_server_env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine
) -> None:
    client = dev_server_env.client
    settings = quick(settings)
    order = new_order()
    async with serving(settings, dev_server_env, engine=engine) as api:
        dispute_id = (await api.post("/v1/disputes", json=claim(order, total=80_000))).json()["id"]
        key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        accepted = await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": SELLER}, headers=key)
        assert accepted.status_code == 200

        async def archived() -> Any:
            return await CaseArchive(engine).get(dispute_id)

        record = await eventually(archived)
        assert record.status == "RESOLVED" and record.order_id == order
        assert record.state["outcome"]["refunded_to_buyer"] == 80_000

    # No worker from here on: a closed case is read without replaying it.
    async with serving(settings, dev_server_env, worker=False, engine=engine) as api:
        started = time.monotonic()
        closed = await api.get(f"/v1/disputes/{dispute_id}")
        assert closed.status_code == 200, closed.text
        assert time.monotonic() - started < 1  # no query, no wait for a worker
        body = closed.json()
        assert (body["status"], body["stale"]) == ("RESOLVED", False)
        assert [e["event"] for e in body["timeline"]][:2] == ["opened", "accept"]

        # Temporal forgets the workflow (as retention would); the archive answers for it.
        await client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=dispute_id)
            )
        )

        async def gone() -> bool:
            try:
                await client.get_workflow_handle(dispute_id).describe()
            except RPCError:
                return True
            return False

        await eventually(gone, seconds=30)
        after = await api.get(f"/v1/disputes/{dispute_id}")
        assert after.status_code == 200 and after.json()["outcome"] == body["outcome"]
        assert after.json()["timeline"] == body["timeline"]
        # one dispute per order, ever: opening again returns the archived one, starts nothing
        again = await api.post("/v1/disputes", json=claim(order, total=80_000))
        assert again.status_code == 200 and again.json()["id"] == dispute_id
        assert again.json()["status"] == "RESOLVED"
        # the keyed retry of the action that closed it still answers as the first time
        retried = await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": SELLER}, headers=key)
        assert retried.status_code == 200 and retried.json() == accepted.json()
        # and a new action is refused with the state it closed in
        late = await api.post(f"/v1/disputes/{dispute_id}/messages", json={"actor": BUYER, "text": "hi"})
        assert late.status_code == 409 and late.json()["current_status"] == "RESOLVED"


async def test_an_open_dispute_answers_within_the_deadline_when_no_worker_runs(
    dev_server_env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine
) -> None:
    settings = quick(settings)
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(serving(settings, dev_server_env, worker=False, engine=engine))
        worker = build_worker(
            dev_server_env.client, settings, case_activities(settings, dev_server_env.client, engine), engine
        )
        async with worker:
            seen = (await api.post("/v1/disputes", json=claim(new_order(), total=80_000))).json()
            dispute_id = seen["id"]
            offered = await api.post(
                f"/v1/disputes/{dispute_id}/offers",
                json={"actor": SELLER, "solution": {"kind": "RELEASE_TO_SELLER"}},
            )
            assert offered.status_code == 200
            fresh = (await api.get(f"/v1/disputes/{dispute_id}")).json()
            assert fresh["stale"] is False

        # The worker is gone: the case cannot answer; the last state the store holds is returned.
        async def snapshot_stored() -> bool:
            read = await stale_read(api, dispute_id)
            return read.status_code == 200

        await eventually(snapshot_stored)
        read = await stale_read(api, dispute_id)
        body = read.json()
        assert body["stale"] is True and body["as_of"] is not None
        assert body["status"] == "AWAITING_BUYER" and body["current_offer"]["by"] == "seller"
        assert [e["event"] for e in body["timeline"]] == [e["event"] for e in fresh["timeline"]]

        # Opening needs no worker (the first state is computed by the API, and stored): read back
        # at once, it is that first state, marked stale.
        started = time.monotonic()
        opened = await api.post("/v1/disputes", json=claim(new_order(), total=80_000))
        assert opened.status_code == 201 and time.monotonic() - started < 2
        first = (await stale_read(api, opened.json()["id"])).json()
        assert first["stale"] is True and first["status"] == "AWAITING_SELLER"

        # A case the store knows nothing of (started without the API) answers 503 with
        # Retry-After, quickly, instead of a 500 after 30 seconds.
        order = new_order()
        request = OpenDisputeInput(**claim(order), policy=settings.dispute_policy())
        case_id = dispute_workflow_id(order)
        await dev_server_env.client.start_workflow(
            DisputeWorkflow.run, DisputeRun(open=request), id=case_id, task_queue=settings.task_queue
        )
        unseen = await stale_read(api, case_id)
        assert unseen.status_code == 503, unseen.text
        assert unseen.headers["Retry-After"] and unseen.headers["content-type"] == "application/problem+json"


async def stale_read(api: httpx.AsyncClient, dispute_id: str) -> httpx.Response:
    started = time.monotonic()
    read = await api.get(f"/v1/disputes/{dispute_id}")
    assert time.monotonic() - started < 3, "a read waits at most the read deadline"
    return read


async def test_an_action_whose_case_cannot_be_read_back_answers_202_with_the_stored_state(
    dev_server_env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine
) -> None:
    """The action is done either way: a client must not send it again (a 503 would invite that)."""
    settings = settings.model_copy(update={"read_timeout": timedelta(milliseconds=1)})
    async with serving(settings, dev_server_env, engine=engine) as api:
        opened = await api.post("/v1/disputes", json=claim(new_order()))
        assert opened.status_code == 201  # computed by the API: no read-back needed
        dispute_id = opened.json()["id"]
        said = await api.post(f"/v1/disputes/{dispute_id}/messages", json={"actor": BUYER, "text": "Photo"})
        assert said.status_code == 202, said.text
        body = said.json()
        assert body["stale"] is True and body["as_of"] is not None
        assert body["id"] == dispute_id and body["status"] == "AWAITING_SELLER"

        # it was applied once: the seller is told once, and the timeline has it
        async def told() -> bool:
            effects = (await api.get(f"/v1/disputes/{dispute_id}/effects")).json().get("items", [])
            messages = [e for e in effects if (e["params"] or {}).get("action") == "message"]
            return len(messages) == 1

        relaxed = settings.model_copy(update={"read_timeout": timedelta(seconds=5)})
        async with serving(relaxed, dev_server_env, worker=False, engine=engine) as reader:
            api = reader
            await eventually(told)
            timeline = (await reader.get(f"/v1/disputes/{dispute_id}")).json()["timeline"]
            assert [e["event"] for e in timeline].count("message") == 1
