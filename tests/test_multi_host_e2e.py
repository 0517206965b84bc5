"""Several hosts, one truth: two API processes and two worker processes, each with a data folder of
its own, share one PostgreSQL database, one evidence folder and one Temporal dev server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.testing import WorkflowEnvironment

from store.migrate import migrate
from tests.postgres import PostgresServer, free_port
from tests.support import API_KEYS, AS_ADMIN, AS_CARE, AS_PLATFORM, PDF, eventually, listening

ROOT = Path(__file__).resolve().parent.parent


class Receiver:
    """A webhook endpoint in the test: every delivery it accepts."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/hooks", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        self.events.append(json.loads(await request.body()))
        return JSONResponse({"ok": True})


@contextmanager
def process(
    name: str, command: list[str], env: dict[str, str], logs: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """One service process, stopped with SIGTERM (as a deployment stops it) on the way out."""
    log = (logs / f"{name}.log").open("wb")
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        log.close()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hooks = Receiver()
    async with listening(hooks.app) as url:
        yield hooks, f"{url}/hooks"


async def test_two_apis_and_two_workers_share_one_database(
    dev_server_env: WorkflowEnvironment,
    postgres: PostgresServer,
    task_queue: str,
    tmp_path: Path,
    receiver: tuple[Receiver, str],
) -> None:
    database_url = postgres.create_database("hosts")
    await asyncio.to_thread(migrate, database_url)  # the deployment's one-shot step
    shared = {k: v for k, v in os.environ.items() if not k.startswith(("DISPUTES_", "TEMPORAL_"))}
    shared |= {
        "TEMPORAL_ADDRESS": dev_server_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": dev_server_env.client.namespace,
        "DISPUTES_TASK_QUEUE": task_queue,
        "DISPUTES_DATABASE_URL": database_url,
        "DISPUTES_EVIDENCE_DIR": str(tmp_path / "shared-evidence"),
        "DISPUTES_API_KEYS": json.dumps({key: holder.model_dump() for key, holder in API_KEYS.items()}),
        "DISPUTES_WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",  # the receiver is on loopback
        "DISPUTES_LOG_FORMAT": "text",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    ports = [free_port(), free_port()]
    with ExitStack() as stack:
        for n in (1, 2):
            host = shared | {"DISPUTES_DATA_DIR": str(tmp_path / f"host-{n}")}
            uvicorn = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1"]
            stack.enter_context(process(f"api-{n}", [*uvicorn, "--port", str(ports[n - 1])], host, logs))
            worker = host | {"DISPUTES_WORKER_METRICS_PORT": str(free_port())}
            stack.enter_context(process(f"worker-{n}", [sys.executable, "worker.py"], worker, logs))
        async with (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{ports[0]}", headers=AS_PLATFORM, timeout=30
            ) as api1,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{ports[1]}", headers=AS_PLATFORM, timeout=30
            ) as api2,
        ):
            try:
                await scenario(api1, api2, receiver)
            except BaseException:
                for log in sorted(logs.iterdir()):
                    print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
                raise
    local = await asyncio.to_thread(lambda: list(tmp_path.glob("host-*/**/*.sqlite3")))
    assert not local  # no host kept state of its own


async def scenario(api1: httpx.AsyncClient, api2: httpx.AsyncClient, receiver: tuple[Receiver, str]) -> None:
    async def healthy() -> bool:
        try:
            return all([(await api.get("/health")).status_code == 200 for api in (api1, api2)])
        except httpx.TransportError:
            return False

    await eventually(healthy, seconds=60)

    # A subscription made through API 1 is listed by API 2 and delivered by whichever worker runs.
    hooks, url = receiver
    subscribed = await api1.post("/v1/webhooks", json={"url": url, "event_types": ["dispute.opened"]})
    assert subscribed.status_code == 201, subscribed.text
    listed = (await api2.get("/v1/webhooks")).json()["items"]
    assert [s["id"] for s in listed] == [subscribed.json()["id"]]

    # Evidence uploaded through API 1 is cited in a report opened through API 2.
    user = f"u-{uuid.uuid4().hex[:8]}"
    upload = await api1.post(
        "/v1/evidence", data={"actor_role": "user", "actor_id": user}, files={"file": ("r.pdf", PDF)}
    )
    assert upload.status_code == 201, upload.text
    reference = upload.json()["reference"]
    report = {"user_id": user, "role": "buyer", "topic": "PAYMENT", "details": "Charged twice"}
    filed = await api2.post("/v1/tickets", json=report | {"attachments": [reference]})
    assert filed.status_code == 201, filed.text
    ticket = filed.json()["id"]

    # A dispute opened through API 2, accepted through API 1: the refund happens once, and both
    # APIs show the same effects.
    order = f"o-{uuid.uuid4().hex[:8]}"
    opened = await api2.post(
        "/v1/disputes",
        json={
            "order_id": order,
            "buyer_id": "b-1",
            "seller_id": "s-1",
            "order_total": 90_000,
            "reason": "NOT_RECEIVED",
            "requested_solution": {"kind": "REFUND_TO_BUYER", "amount": 90_000},
            "description": "Never arrived",
        },
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()["id"]
    accepted = await api1.post(
        f"/v1/disputes/{dispute}/accept", json={"actor": {"role": "seller", "id": "s-1"}}
    )
    assert accepted.status_code == 200, accepted.text

    async def same_effects() -> list[dict[str, Any]] | None:
        one, two = [
            (await api.get(f"/v1/disputes/{dispute}/effects")).json()["items"] for api in (api1, api2)
        ]
        refunds = [e for e in one if e["kind"] == "REFUND_TO_BUYER"]
        return one if refunds and one == two else None

    effects = await eventually(same_effects, seconds=30)
    assert [(e["amount"], e["party_id"]) for e in effects if e["kind"] == "REFUND_TO_BUYER"] == [
        (90_000, "b-1")
    ]

    async def delivered() -> list[dict[str, Any]]:
        return [e for e in hooks.events if e["case_id"] == dispute]

    [event] = await eventually(delivered, seconds=30)
    assert event["type"] == "dispute.opened"
    attempts = (await api2.get("/v1/webhooks/deliveries", params={"event_id": event["id"]})).json()["items"]
    assert [(a["subscription_id"], a["delivered"]) for a in attempts] == [(subscribed.json()["id"], True)]

    # Care replies through API 1; the user's inbox is the same through both; a read mark made
    # through API 2 shows through API 1.
    replied = await api1.post(
        f"/v1/tickets/{ticket}/care/replies",
        json={"actor": {"role": "care", "id": "agent-7"}, "text": "Refunded the double charge"},
        headers=AS_CARE,
    )
    assert replied.status_code == 200, replied.text

    async def inbox_of_both() -> list[dict[str, Any]] | None:
        one, two = [(await api.get(f"/v1/users/{user}/inbox")).json()["items"] for api in (api1, api2)]
        return one if one and one == two else None

    [message] = await eventually(inbox_of_both, seconds=30)
    assert (message["text"], message["read"]) == ("Refunded the double charge", False)
    marked = await api2.post(f"/v1/users/{user}/inbox/{message['id']}/read")
    assert marked.status_code == 200 and marked.json()["read"] is True, marked.text
    assert [m["read"] for m in (await api1.get(f"/v1/users/{user}/inbox")).json()["items"]] == [True]

    # The file uploaded through API 1 is served by API 2.
    download = await api2.get(f"/v1/evidence/{reference}", params={"case_id": ticket})
    assert download.status_code == 200, download.text
    assert download.content == PDF
    meta = (
        await api2.get(f"/v1/evidence/{reference}/meta", params={"case_id": ticket}, headers=AS_ADMIN)
    ).json()
    assert meta["uploaded_by"] == {"role": "user", "id": user}
