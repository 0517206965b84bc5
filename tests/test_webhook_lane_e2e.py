"""Dead receivers never delay money or clocks (issue 9): with 500 webhook deliveries failing
slowly on their own lane, a refund goes out and a care reply breach is escalated on time.

Every receiver here holds each request for 3 s and then answers 500, as an overloaded or dying
endpoint does. Shared with the cases, 500 such deliveries would keep a worker's activity slots
busy for minutes; on the webhook lane (20 slots here) they wait their turn there instead.
Measured on the 2-core CI machine: the refund 0.3 s after the agreement and the escalation 0.5 s
after its due time; with the deliveries on the case task queue (the code before the lane) the
same refund came 16.6 s late."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from store.schema import webhook_attempts, webhook_subscriptions
from store.webhooks import webhook_store
from tests.support import eventually, listening, serving

SUBSCRIBERS = 500
SLOTS = 20
#: How late a refund or an escalation may be on a slow, shared machine; the webhook backlog
#: (500 deliveries x 3 s over 20 slots) needs over a minute for even one round of attempts.
ON_TIME = timedelta(seconds=15)
BUYER = {"role": "buyer", "id": "b-1"}
SELLER = {"role": "seller", "id": "s-1"}


class DyingReceiver:
    """Holds each request ``hold`` seconds, then answers 500."""

    def __init__(self) -> None:
        self.hold = 3.0
        self.requests = 0
        self.app = Starlette(routes=[Route("/hooks/{n}", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        self.requests += 1
        await asyncio.sleep(self.hold)
        return JSONResponse({"error": "overloaded"}, status_code=500)


@pytest.fixture
async def dying() -> AsyncIterator[tuple[DyingReceiver, str]]:
    receiver = DyingReceiver()
    async with listening(receiver.app) as url:
        yield receiver, url


@pytest.fixture
def settings(task_queue: str, tmp_path: Path) -> Settings:
    """A 4 s care reply target; deliveries retried every second, for much longer than the test."""
    return Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        care_reply_target=timedelta(seconds=4),
        care_reply_warning=timedelta(seconds=2),
        webhook_allow_private_hosts=True,
        webhook_timeout=timedelta(seconds=5),
        webhook_max_retry_interval=timedelta(seconds=1),
        webhook_max_concurrent_deliveries=SLOTS,
    )


def claim(order_id: str, amount: int) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "buyer_id": "b-1",
        "seller_id": "s-1",
        "order_total": 100000,
        "reason": "INCOMPLETE",
        "requested_solution": {"kind": "REFUND_TO_BUYER", "amount": amount},
        "description": "One item missing",
    }


async def effect_at(api: httpx.AsyncClient, case_id: str, kind: str) -> datetime | None:
    """When the case's effect of ``kind`` reached the outbox, if it has."""
    effects = (await api.get(f"/v1/disputes/{case_id}/effects")).json()["items"]
    return next((datetime.fromisoformat(e["created_at"]) for e in effects if e["kind"] == kind), None)


async def tried(engine: AsyncEngine) -> tuple[int, int]:
    """Deliveries attempted at least once so far, and how many of the attempts were accepted."""
    a = webhook_attempts.c
    query = sa.select(sa.func.count(sa.distinct(a.delivery_id)), sa.func.count().filter(a.delivered))
    async with engine.connect() as connection:
        row = (await connection.execute(query)).one()
    return int(row[0]), int(row[1])


async def test_a_refund_and_a_breach_escalation_are_on_time_while_500_deliveries_fail(
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    engine: AsyncEngine,
    dying: tuple[DyingReceiver, str],
) -> None:
    receiver, base = dying
    store = webhook_store(settings, engine)
    for n in range(SUBSCRIBERS):
        await store.add(f"{base}/hooks/{n}", ["ticket.opened"], None, "checkout")
    client = dev_server_env.client
    lane = f"TaskQueue = '{settings.webhook_queue}' AND ExecutionStatus = 'Running'"
    async with serving(settings, dev_server_env, engine=engine) as api:
        try:
            # One report fans out to 500 deliveries, each failing slowly: the lane's slots fill up.
            filed = await api.post(
                "/v1/tickets", json={"user_id": "u-1", "role": "seller", "topic": "SALES", "details": "Empty"}
            )
            assert filed.status_code == 201, filed.text

            async def backlog() -> bool:
                running = (await client.count_workflows(lane)).count
                return running == SUBSCRIBERS and receiver.requests >= SLOTS

            await eventually(backlog, seconds=60)

            # Now the cases: a refund agreed, and a mediation whose 4 s care reply target passes.
            refunded = (
                await api.post("/v1/disputes", json=claim(f"o-refund-{settings.task_queue}", 30000))
            ).json()
            mediated = (
                await api.post("/v1/disputes", json=claim(f"o-breach-{settings.task_queue}", 100000))
            ).json()
            offered = await api.post(
                f"/v1/disputes/{mediated['id']}/offers",
                json={"actor": SELLER, "solution": {"kind": "SEND_REMAINING"}},
            )
            assert offered.status_code == 200, offered.text
            helped = await api.post(f"/v1/disputes/{mediated['id']}/help", json={"actor": BUYER})
            due = datetime.fromisoformat(helped.json()["care_reply_due_at"])
            agreed_at = datetime.now(UTC)
            accepted = await api.post(f"/v1/disputes/{refunded['id']}/accept", json={"actor": SELLER})
            assert accepted.status_code == 200, accepted.text

            refund_at = await eventually(
                lambda: effect_at(api, refunded["id"], "REFUND_TO_BUYER"), seconds=60
            )
            attempted_by_refund, _ = await tried(engine)
            breach_at = await eventually(
                lambda: effect_at(api, mediated["id"], "CARE_REPLY_BREACHED"), seconds=60
            )

            assert refund_at - agreed_at < ON_TIME, (refund_at, agreed_at)
            assert timedelta(0) <= breach_at - due < ON_TIME, (breach_at, due)
            # ...while the deliveries were still failing, most of them not even tried once yet.
            _, delivered = await tried(engine)
            assert delivered == 0 and attempted_by_refund < SUBSCRIBERS / 2, attempted_by_refund
            assert (await client.count_workflows(lane)).count == SUBSCRIBERS
            assert await store.dead_letters() == []
            delivery = client.get_workflow_handle(
                f"webhook-{(await store.subscriptions())[0].id}:{filed.json()['id']}:1"
            )
            assert (await delivery.describe()).task_queue == settings.webhook_queue
        finally:
            # Leave nothing running on the shared dev server: removed subscriptions end their
            # deliveries at the next try.
            receiver.hold = 0
            async with engine.begin() as connection:
                await connection.execute(sa.delete(webhook_subscriptions))

            async def drained() -> bool:
                return (await client.count_workflows(lane)).count == 0

            await eventually(drained, seconds=120)
