"""Reads that never replay or query: every case, open or closed, is read from the read model
(tests/test_read_model.py has the rest: replicas, no Temporal at all).

Over real HTTP against the dev server, with the worker started and stopped by the test."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
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


async def test_with_no_worker_reads_answer_and_an_action_is_not_confirmed(
    dev_server_env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine
) -> None:
    settings = settings.model_copy(update={"action_timeout": timedelta(seconds=1)})
    async with serving(settings, dev_server_env, worker=False, engine=engine) as api:
        started = time.monotonic()
        opened = await api.post("/v1/disputes", json=claim(new_order(), total=80_000))
        assert opened.status_code == 201 and time.monotonic() - started < 2
        dispute_id = opened.json()["id"]
        read = await api.get(f"/v1/disputes/{dispute_id}")
        assert read.status_code == 200 and read.json()["version"] == 1 and read.json()["as_of"]

        said = await api.post(f"/v1/disputes/{dispute_id}/messages", json={"actor": BUYER, "text": "Photo"})
        assert said.status_code == 503 and said.headers["Retry-After"], said.text
        assert said.headers["content-type"] == "application/problem+json"
        after = await api.get(f"/v1/disputes/{dispute_id}")
        assert after.status_code == 200 and after.json() == read.json()
