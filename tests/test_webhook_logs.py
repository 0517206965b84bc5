"""Webhook logs name a subscription, never its URL, address or secret (issue 19, hole 4), and a
failed attempt is one line, not a traceback (hole 8).

Deliveries accepted, failing (HTTP 500 and a dead port) and refused by the address guard, to
URLs carrying ``?token=<marker>``, through real webhook workers on the dev server, with every
logger of this process at DEBUG. Before: httpx logged each request's URL at INFO (token and the
address the guard pinned included), and the SDK logged every failed attempt's traceback at
WARNING."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from activities.webhooks import DeliveryResult
from core.observability import configure_logging
from core.settings import Settings
from domain.outbound import CaseEvent, EventType
from store.webhooks import webhook_store
from tests.postgres import free_port
from tests.processes import record_figures
from tests.support import listening
from wiring.temporal import build_webhook_worker
from wiring.webhooks import WebhookDispatcher

MARKER = "tok-9f1e-never-in-logs"
IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
IPV6 = re.compile(
    r"(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])|(?<![\w:])[0-9a-f:]*::[0-9a-f:]*(?![\w:])",
    re.IGNORECASE,
)


class Records(logging.Handler):
    """Every record of every logger, as the records themselves."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured(settings: Settings) -> Iterator[tuple[io.StringIO, Records]]:
    """The service's own log handler (as worker.py sets it up) writing to a buffer, and every
    record, with the root logger at DEBUG."""
    text = io.StringIO()
    records = Records()
    handler = configure_logging(settings.model_copy(update={"log_format": "text"}), stream=text)
    root = logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    try:
        yield text, records
    finally:
        root.removeHandler(records)
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, int]]:
    async def hook(request: Request) -> Response:
        return Response(status_code=204 if request.url.path == "/hooks" else 500)

    app = Starlette(routes=[Route("/hooks", hook, methods=["POST"]), Route("/fail", hook, methods=["POST"])])
    async with listening(app) as url:
        yield url, int(url.rsplit(":", 1)[1])


def event() -> CaseEvent:
    return CaseEvent(
        id="dispute-o-logs:1",
        type=EventType.DISPUTE_OPENED,
        case_id="dispute-o-logs",
        occurred_at=datetime.now(UTC),
        data={"id": "dispute-o-logs"},
    )


async def test_webhook_logs_name_subscriptions_and_never_urls_addresses_or_tokens(
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    engine: AsyncEngine,
    tmp_path: Path,
    receiver: tuple[str, int],
    captured: tuple[io.StringIO, Records],
) -> None:
    base, port = receiver
    dead_port = free_port()
    patience = {
        "webhook_timeout": timedelta(seconds=2),
        "webhook_max_retry_interval": timedelta(seconds=1),
        "webhook_retry_window": timedelta(seconds=4),
    }
    open_ = settings.model_copy(update=patience)
    guarded = settings.model_copy(
        update={
            **patience,
            "webhook_allow_private_hosts": False,
            "webhook_task_queue": f"{settings.task_queue}-guarded",
        }
    )
    store = webhook_store(settings, engine)
    secret = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
    urls = {
        "accepted": f"{base}/hooks?token={MARKER}",
        "failing": f"{base}/fail?token={MARKER}",
        "dead": f"http://127.0.0.1:{dead_port}/hooks?token={MARKER}",
        "refused": f"{base}/hooks?token={MARKER}",
    }
    ids = {}
    for name, url in urls.items():
        ids[name] = (await store.add(url, ["*"], secret, "checkout", f"wh-logs-{name}")).id

    client = dev_server_env.client
    text, records = captured
    results: dict[str, DeliveryResult | str] = {}
    async with build_webhook_worker(client, open_, engine), build_webhook_worker(client, guarded, engine):
        handles = {}
        for name, subscription_id in ids.items():
            dispatcher = WebhookDispatcher(client, guarded if name == "refused" else open_)
            delivery = dispatcher.delivery(subscription_id, event())
            workflow_id = f"webhook-{delivery.delivery_id}-{settings.task_queue}"
            await dispatcher.start(delivery, workflow_id)
            handles[name] = client.get_workflow_handle(workflow_id, result_type=DeliveryResult)
        for name, handle in handles.items():
            try:
                results[name] = await handle.result()
            except WorkflowFailureError as failure:  # not expected: shown in the assertion below
                results[name] = str(failure)

    accepted, failing, dead, refused = (results[name] for name in urls)
    assert isinstance(accepted, DeliveryResult) and accepted.status_code == 204, results
    assert all(isinstance(r, DeliveryResult) and r.dead for r in (failing, dead, refused)), results

    logged = text.getvalue()
    every_line = logged.splitlines() + [r.getMessage() for r in records.records]
    assert every_line, "nothing was logged at all"
    leaks = [line for line in every_line if MARKER in line or IPV4.search(line) or f":{port}" in line]
    record_figures(
        "test_webhook_logs_name_subscriptions_and_never_urls_addresses_or_tokens",
        {"records_at_debug": len(records.records), "leaking_lines": len(leaks)},
    )
    for line in every_line:
        assert MARKER not in line, line
        assert secret not in line, line
        assert f":{port}" not in line and f":{dead_port}" not in line, line
        assert not IPV4.search(line), line
        assert not IPV6.search(line), line
    # What is logged names the subscription instead.
    assert f"subscription {ids['failing']} failed (attempt 1): HTTP 500" in logged
    assert f"subscription {ids['dead']} failed (attempt 1): ConnectError" in logged
    assert f"subscription {ids['refused']} failed (attempt 1): refused" in logged


async def test_a_dead_receiver_logs_one_line_per_failed_attempt_and_no_traceback(
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    engine: AsyncEngine,
    captured: tuple[io.StringIO, Records],
) -> None:
    dead_port = free_port()
    patient = settings.model_copy(
        update={
            "webhook_timeout": timedelta(seconds=1),
            "webhook_max_retry_interval": timedelta(seconds=1),
            "webhook_retry_window": timedelta(seconds=5),
        }
    )
    store = webhook_store(settings, engine)
    subscription = await store.add(f"http://127.0.0.1:{dead_port}/", ["*"], None, "checkout", "wh-dead")
    client = dev_server_env.client
    _, records = captured
    async with build_webhook_worker(client, patient, engine):
        dispatcher = WebhookDispatcher(client, patient)
        delivery = dispatcher.delivery(subscription.id, event())
        workflow_id = f"webhook-{delivery.delivery_id}-{settings.task_queue}"
        await dispatcher.start(delivery, workflow_id)
        result = await client.get_workflow_handle(workflow_id, result_type=DeliveryResult).result()
    assert result.dead

    attempts = await store.attempts(subscription_id=subscription.id)
    assert len(attempts) >= 3  # 1 s, 1 s, ... for 5 s
    lines = [r for r in records.records if getattr(r, "event", None) == "webhook.attempt_failed"]
    assert [(r.subscription_id, r.attempt, r.reason) for r in lines] == [  # type: ignore[attr-defined]
        (subscription.id, n, "ConnectError") for n in range(1, len(attempts) + 1)
    ]
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in lines)
    # No traceback at INFO or above from anyone: a receiver being down is not a bug here.
    loud = [r for r in records.records if r.levelno >= logging.INFO and r.exc_info]
    record_figures(
        "test_a_dead_receiver_logs_one_line_per_failed_attempt_and_no_traceback",
        {"attempts": len(attempts), "attempt_lines": len(lines), "tracebacks_at_info_or_above": len(loud)},
    )
    assert loud == [], [r.getMessage() for r in loud]
    warnings = [r.getMessage() for r in records.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"webhook delivery {delivery.delivery_id} is a dead letter: gave up after 5 s of retries"
        f"; last attempt: ConnectError: could not connect"
    ], warnings
