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
from core.temporal import build_worker, case_activities
from store.cases import CaseArchive
from tests.support import BUYER, SELLER, claim, eventually, new_order, serving


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

        # Opening needs no worker (the first state is computed by the API); a case no read has
        # seen yet answers 503 with Retry-After, quickly, instead of a 500 after 30 seconds.
        started = time.monotonic()
        opened = await api.post("/v1/disputes", json=claim(new_order(), total=80_000))
        assert opened.status_code == 201 and time.monotonic() - started < 2
        started = time.monotonic()
        unseen = await api.get(f"/v1/disputes/{opened.json()['id']}")
        assert unseen.status_code == 503, unseen.text
        assert unseen.headers["Retry-After"] and unseen.headers["content-type"] == "application/problem+json"
        assert time.monotonic() - started < 3


async def stale_read(api: httpx.AsyncClient, dispute_id: str) -> httpx.Response:
    started = time.monotonic()
    read = await api.get(f"/v1/disputes/{dispute_id}")
    assert time.monotonic() - started < 3, "a read waits at most the read deadline"
    return read
