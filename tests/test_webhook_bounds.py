"""A hostile receiver cannot exhaust the webhook worker or touch payouts (issue 19, hole 1).

Each attempt reads at most ``RESPONSE_READ_LIMIT`` bytes of a response and ends within
``DISPUTES_WEBHOOK_TIMEOUT`` however slowly bytes trickle in, and deliveries run in a worker
process of their own (``worker.py --role webhooks``), as ``make run`` and compose run them.

Before: a response was read whole and httpx's timeout applied per read, so a receiver sending
a gigabyte a few kilobytes at a time filled the worker that also runs refunds and clocks."""

from __future__ import annotations

import asyncio
import functools
import re
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.webhooks import RESPONSE_READ_LIMIT, WebhookActivities
from core.settings import Settings
from store.webhooks import webhook_store
from tests.postgres import free_port
from tests.processes import Process, Service, record_figures, service, temporal_address, until
from tests.support import eventually
from worker import role_of

GIB = 1 << 30
CHUNK = 64 * 1024
PAUSE = 0.02  # 64 KiB every 20 ms: about 3 MB/s for each delivery, for as long as it is read
SUBSCRIBERS = 4
MARKER = "tok-5ecret-marker-19"
MEMORY_BOUND_MB = 50
ON_TIME = timedelta(seconds=15)
FLOOD_SECONDS = 25
SELLER = {"role": "seller", "id": "s-1"}


class Flood:
    """A receiver that answers every delivery with 500 and a 1 GiB body, sent slowly."""

    def __init__(self) -> None:
        self.connections = 0
        self.sent = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        block = b"x" * CHUNK
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE)
            await reader.readexactly(int(length.group(1)) if length else 0)
            writer.write(
                b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/octet-stream\r\n"
                b"content-length: %d\r\n\r\n" % GIB
            )
            left = GIB
            while left > 0:
                writer.write(block)
                await writer.drain()
                self.sent += CHUNK
                left -= CHUNK
                await asyncio.sleep(PAUSE)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the worker hung up: what it should do
        finally:
            writer.close()

    async def __aenter__(self) -> Flood:
        self._server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()


class Trickle:
    """A receiver that sends its status line one byte at a time, each well within a read timeout."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n" * 100:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(self.every)
        except ConnectionError:
            pass
        finally:
            writer.close()


def claim(order_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "buyer_id": "b-1",
        "seller_id": "s-1",
        "order_total": 100000,
        "reason": "INCOMPLETE",
        "requested_solution": {"kind": "REFUND_TO_BUYER", "amount": 30000},
        "description": "One item missing",
    }


async def refund_at(http: httpx.AsyncClient, case_id: str) -> datetime | None:
    effects = (await http.get(f"/v1/disputes/{case_id}/effects")).json()["items"]
    return next(
        (datetime.fromisoformat(e["created_at"]) for e in effects if e["kind"] == "REFUND_TO_BUYER"), None
    )


def start_worker(deployment: Service, role: str) -> Process:
    """``python worker.py --role <role>``, as ``make run`` and compose start them."""
    env = deployment.env(DISPUTES_WORKER_METRICS_PORT=str(free_port()))
    process = Process(f"worker-{role}", [sys.executable, "worker.py", "--role", role], env, deployment.logs)
    deployment.processes.append(process)
    return process


@pytest.fixture
async def flood() -> AsyncIterator[Flood]:
    async with Flood() as receiver:
        yield receiver


async def test_a_receiver_streaming_a_gigabyte_slowly_cannot_grow_the_webhook_worker_or_delay_refunds(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, flood: Flood
) -> None:
    async with service(
        temporal_address(dev_server_env),
        task_queue,
        tmp_path,
        DISPUTES_WEBHOOK_TIMEOUT="PT5S",
        DISPUTES_WEBHOOK_MAX_RETRY_INTERVAL="PT1S",
    ) as deployment:
        cases = start_worker(deployment, "cases")
        webhooks = start_worker(deployment, "webhooks")
        deployment.start_api()
        await deployment.api_ready()
        await until(lambda: cases.logged("worker polling"), 60, "the cases' worker to poll")
        await until(lambda: webhooks.logged("worker polling"), 60, "the webhook worker to poll")
        await asyncio.sleep(1)
        worker = psutil.Process(webhooks.popen.pid)
        baseline = worker.memory_info().rss
        peak = baseline
        sampling = True

        async def sample() -> None:
            nonlocal peak
            while sampling:
                peak = max(peak, worker.memory_info().rss)
                await asyncio.sleep(0.2)

        sampler = asyncio.create_task(sample())
        late: list[timedelta] = []
        async with deployment.client() as http:
            for n in range(SUBSCRIBERS):
                url = f"http://127.0.0.1:{flood.port}/hooks/{n}?token={MARKER}"
                made = await http.post("/v1/webhooks", json={"url": url})
                assert made.status_code == 201, made.text
            started = time.monotonic()
            order = 0
            while time.monotonic() - started < FLOOD_SECONDS:
                # A dispute opened and agreed while every delivery of its events floods the
                # webhook worker: the refund goes out on time all the same.
                order += 1
                opened = await http.post("/v1/disputes", json=claim(f"o-flood-{order}-{task_queue}"))
                assert opened.status_code == 201, opened.text
                case_id = opened.json()["id"]
                agreed_at = datetime.now(UTC)
                accepted = await http.post(f"/v1/disputes/{case_id}/accept", json={"actor": SELLER})
                assert accepted.status_code == 200, accepted.text
                refunded = await eventually(functools.partial(refund_at, http, case_id), seconds=60)
                late.append(refunded - agreed_at)
                await asyncio.sleep(2)
        sampling = False
        await sampler
        assert webhooks.alive and cases.alive

        grown_mb = (peak - baseline) / 1e6
        figures = {
            "webhook_worker_rss_growth_mb": round(grown_mb, 1),
            "attempts_at_the_receiver": flood.connections,
            "mb_the_receiver_got_out": round(flood.sent / 1e6, 1),
            "disputes_refunded": len(late),
            "slowest_refund_s": round(max(late).total_seconds(), 2),
        }
        record_figures(
            "test_a_receiver_streaming_a_gigabyte_slowly_cannot_grow_the_webhook_worker_or_delay_refunds",
            figures,
        )
        assert flood.connections >= 2 * SUBSCRIBERS, figures  # every delivery met the flood, again
        assert grown_mb < MEMORY_BOUND_MB, figures
        assert all(delay < ON_TIME for delay in late), figures
        # The deliveries ran in the webhook worker, not beside the refunds.
        assert "failed (attempt 1): HTTP 500" in webhooks.log.read_text(errors="replace")
        assert "webhook delivery" not in cases.log.read_text(errors="replace")
        # The receiver's token and port appear in no process's log (hole 4).
        for process in deployment.processes:
            text = process.log.read_text(errors="replace")
            assert MARKER not in text and f":{flood.port}" not in text, process.name


async def test_an_attempt_ends_within_the_webhook_timeout_however_slowly_bytes_arrive(
    settings: Settings, engine: AsyncEngine
) -> None:
    """A byte every 0.3 s never trips a 2 s read timeout; the attempt still ends at 2 s."""
    trickle = Trickle(every=0.3)
    server = await asyncio.start_server(trickle.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    activities = WebhookActivities(webhook_store(settings, engine), settings)
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(
                activities.post(f"http://127.0.0.1:{port}/", b"{}", {}, timedelta(seconds=2)), timeout=20
            )
    finally:
        server.close()
    assert time.monotonic() - started < 4


async def test_an_attempt_reads_at_most_the_limit_of_a_response(
    settings: Settings, engine: AsyncEngine
) -> None:
    """The status code is all a delivery needs: a gigabyte answer is hung up on after 4 KiB."""
    async with Flood() as receiver:
        activities = WebhookActivities(webhook_store(settings, engine), settings)
        status = await activities.post(f"http://127.0.0.1:{receiver.port}/", b"{}", {}, timedelta(seconds=5))
        await asyncio.sleep(0.5)  # the receiver notices the hang-up
    assert status == 500
    assert RESPONSE_READ_LIMIT == 4096
    # What the kernel's buffers took before the hang-up, not the gigabyte (or 5 s of it: 16 MB).
    assert receiver.sent < 4 * 1024 * 1024, receiver.sent


def test_worker_roles() -> None:
    """``worker.py`` runs both workers unless told one; ``make run`` and compose say which."""
    assert role_of([]) == "all"
    assert role_of(["--role", "webhooks"]) == "webhooks"
    assert role_of(["--role", "cases"]) == "cases"
    with pytest.raises(SystemExit):
        role_of(["--role", "payouts"])
