"""Helpers for end-to-end tests: the API and a worker served for real, and polling."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import TypedSearchAttributes
from temporalio.converter import decode_typed_search_attributes
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.settings import ApiKey, KeyRole, Settings
from domain.dispute import OpenDisputeInput, Reason
from domain.ids import dispute_workflow_id
from domain.types import DisputePolicy, Solution
from store.db import database
from tests import factories
from tests.factories import sent
from wiring.temporal import build_webhook_worker, build_worker, case_activities
from workflows.dispute import DisputeRun, DisputeWorkflow


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 15) -> Any:
    """Poll ``check`` until it returns something truthy (workflows move on after an update returns)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {seconds}s")
        await asyncio.sleep(0.1)


#: A tiny valid PDF: accepted as evidence.
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


async def upload_evidence(api: httpx.AsyncClient, role: str, party_id: str, data: bytes = PDF) -> str:
    """Upload ``data`` as evidence of the party ``role``/``party_id``; its new reference, to cite."""
    response = await api.post(
        "/v1/evidence", data={"actor_role": role, "actor_id": party_id}, files={"file": ("f.pdf", data)}
    )
    assert response.status_code == 201, response.text
    reference: str = response.json()["reference"]
    return reference


# -- the parties and a buyer's complaint, as the platform sends them -----------------------------

# The parties of tests/factories.py, in the form the platform sends.
BUYER, SELLER, CARE = (sent(party) for party in (factories.BUYER, factories.SELLER, factories.CARE))


def new_order() -> str:
    """An order id no other test uses."""
    return f"o-{uuid.uuid4().hex[:10]}"


def claim(order_id: str, *, total: int = 150_000, **overrides: Any) -> dict[str, Any]:
    """Buyer b-1's complaint against seller s-1 about ``order_id``: a refund of the whole
    ``total`` unless ``overrides`` say otherwise (``requested_solution``, ``evidence``, ...)."""
    body = {
        "order_id": order_id,
        "buyer_id": BUYER["id"],
        "seller_id": SELLER["id"],
        "order_total": total,
        "reason": "NOT_RECEIVED",
        "requested_solution": {"kind": "REFUND_TO_BUYER", "amount": total},
        "description": "The parcel never arrived",
        "evidence": [],
    }
    return body | overrides


async def start_dispute(
    env: WorkflowEnvironment,
    task_queue: str,
    *,
    solution: Solution,
    policy: DisputePolicy,
    reason: Reason = Reason.DAMAGED,
    description: str = "The screen arrived cracked",
) -> WorkflowHandle[Any, Any]:
    """Start a dispute of buyer b-1 against seller s-1 on a 150,000 order straight on Temporal (as
    the API would, without it): the workflow tests' way to open one."""
    order_id = f"o-{uuid.uuid4().hex[:8]}"
    opening = OpenDisputeInput(
        order_id=order_id,
        buyer_id=factories.BUYER.id,
        seller_id=factories.SELLER.id,
        order_total=150_000,
        reason=reason,
        requested_solution=solution,
        description=description,
        policy=policy,
    )
    return await env.client.start_workflow(
        DisputeWorkflow.run, DisputeRun(open=opening), id=dispute_workflow_id(order_id), task_queue=task_queue
    )


async def search_attributes(client: Client, workflow_id: str) -> TypedSearchAttributes:
    """A workflow's search attributes as they are now. The time-skipping test server keeps an
    unset attribute as a null payload (a real server removes it), which ``describe()`` cannot
    decode; those read as unset here."""
    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    fields = described.workflow_execution_info.search_attributes.indexed_fields
    for name in [name for name, value in fields.items() if value.metadata.get("encoding") == b"binary/null"]:
        del fields[name]
    return decode_typed_search_attributes(described.workflow_execution_info.search_attributes)


PLATFORM_KEY = "pk-test-checkout"
CARE_KEY = "ck-test-care-tools"
ADMIN_KEY = "ak-test-admin"
SUPERVISOR_KEY = "sk-test-care-leads"
API_KEYS = {
    PLATFORM_KEY: ApiKey(name="checkout", role=KeyRole.PLATFORM),
    CARE_KEY: ApiKey(name="care-tools", role=KeyRole.CARE),
    ADMIN_KEY: ApiKey(name="ops", role=KeyRole.ADMIN),
    SUPERVISOR_KEY: ApiKey(name="care-leads", role=KeyRole.SUPERVISOR),
}
AS_PLATFORM = {"Authorization": f"Bearer {PLATFORM_KEY}"}
AS_CARE = {"Authorization": f"Bearer {CARE_KEY}"}
AS_ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
AS_SUPERVISOR = {"Authorization": f"Bearer {SUPERVISOR_KEY}"}


@asynccontextmanager
async def serving(
    settings: Settings,
    env: WorkflowEnvironment | Client,
    *,
    worker: bool = True,
    engine: AsyncEngine | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API on an ephemeral port (plus the case and webhook workers unless ``worker=False``,
    e.g. for a second API replica), and an HTTP client pointed at it that sends the platform's API key (pass
    ``headers=AS_CARE`` to call as a care tool). Both use ``engine``, or one opened from the
    settings for as long as they serve."""
    if not settings.api_keys:
        settings = settings.model_copy(update={"api_keys": API_KEYS})
    client = env if isinstance(env, Client) else env.client
    async with AsyncExitStack() as stack:
        if engine is None:
            engine = await stack.enter_async_context(database(settings))
        app = create_app(settings, client=client, engine=engine)
        base_url = await stack.enter_async_context(listening(app))
        if worker:
            activities = case_activities(settings, client, engine)
            await stack.enter_async_context(build_worker(client, settings, activities, engine))
            await stack.enter_async_context(build_webhook_worker(client, settings, engine))
        yield await stack.enter_async_context(
            httpx.AsyncClient(base_url=base_url, timeout=30, headers=AS_PLATFORM)
        )


@asynccontextmanager
async def listening(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on a free loopback port for real HTTP; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
