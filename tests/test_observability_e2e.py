"""Metrics, traces and JSON logs after a real scenario (real HTTP, real dev server, real worker)."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.observability import client_interceptors, configure_logging, setup_tracing, worker_runtime
from core.settings import Settings
from tests.support import AS_CARE, claim, eventually, new_order, serving
from wiring.temporal import build_worker, case_activities

SPANS = InMemorySpanExporter()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of the metric family ``name`` (counters with or without the _total suffix)."""
    found = []
    for family in text_string_to_metric_families(text):
        if family.name in (name, name.removesuffix("_total")):
            found += [(dict(s.labels), s.value) for s in family.samples if s.name.startswith(name)]
    return found


def total(text: str, name: str, **labels: str) -> float:
    return sum(v for lbl, v in samples(text, name) if labels.items() <= lbl.items())


@pytest.fixture
async def scenario_env(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, str, io.StringIO]]:
    """The API and a worker whose client has the Prometheus runtime and the tracing interceptor."""
    settings = Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        worker_metrics_port=free_port(),
        care_reply_target=timedelta(seconds=2),
        care_reply_warning=timedelta(seconds=1),
        log_format="json",
    )
    setup_tracing(settings, exporter=SPANS)  # before the app and the clients, as in a deployment
    logs = io.StringIO()
    handler = configure_logging(settings, stream=logs)
    worker_client = await Client.connect(
        dev_server_env.client.service_client.config.target_host,
        namespace=dev_server_env.client.namespace,
        data_converter=pydantic_data_converter,
        interceptors=client_interceptors(),
        runtime=worker_runtime(settings),
    )
    api_client = await Client.connect(
        dev_server_env.client.service_client.config.target_host,
        namespace=dev_server_env.client.namespace,
        data_converter=pydantic_data_converter,
        interceptors=client_interceptors(),
    )
    try:
        async with (
            build_worker(worker_client, settings, case_activities(settings, worker_client, engine), engine),
            serving(settings, api_client, worker=False, engine=engine) as http,
        ):
            yield http, f"http://127.0.0.1:{settings.worker_metrics_port}/metrics", logs
    finally:
        logging.getLogger().removeHandler(handler)


async def test_metrics_traces_and_logs_after_a_scenario(
    scenario_env: tuple[httpx.AsyncClient, str, io.StringIO],
) -> None:
    api, worker_metrics, logs = scenario_env
    api_before = (await api.get("/metrics")).text
    SPANS.clear()

    # one dispute agreed and resolved, one escalated whose 2 s care target is breached
    agreed = (await api.post("/v1/disputes", json=claim(new_order(), total=120_000))).json()["id"]
    await api.post(f"/v1/disputes/{agreed}/accept", json={"actor": {"role": "seller", "id": "s-1"}})
    breached = (await api.post("/v1/disputes", json=claim(new_order(), total=120_000))).json()["id"]
    await api.post(
        f"/v1/disputes/{breached}/offers",
        json={"actor": {"role": "seller", "id": "s-1"}, "solution": {"kind": "RELEASE_TO_SELLER"}},
    )
    await api.post(f"/v1/disputes/{breached}/help", json={"actor": {"role": "buyer", "id": "b-1"}})

    async def worker_counts() -> str | None:
        async with httpx.AsyncClient() as scraper:
            text = (await scraper.get(worker_metrics)).text
        done = (
            total(text, "disputes_resolved") >= 1
            and total(text, "case_events", type="care.reply_breached") >= 1
        )
        return text if done else None

    text = await eventually(worker_counts, seconds=30)
    assert total(text, "case_events", type="dispute.opened") == 2
    assert total(text, "case_events", type="dispute.escalated") == 1
    assert total(text, "case_events", type="dispute.resolved") == 1
    assert total(text, "case_events", type="care.reply_warning") == 1
    assert total(text, "case_events", type="care.reply_breached") == 1
    assert total(text, "disputes_resolved", outcome="agreement", solution="REFUND_TO_BUYER") == 1
    resolution = samples(text, "dispute_time_to_resolution")
    assert any(labels.get("le") == "+Inf" and value == 1 for labels, value in resolution)
    assert samples(text, "temporal_workflow_task_schedule_to_start_latency")  # the SDK's own

    api_after = (await api.get("/metrics", headers=AS_CARE)).text
    opened = {"method": "POST", "route": "/v1/disputes", "status": "201"}
    assert (
        total(api_after, "api_requests_total", **opened) - total(api_before, "api_requests_total", **opened)
        == 2
    )
    assert samples(api_after, "api_request_duration_seconds")

    # one trace runs from the HTTP request that opened a dispute through its workflow to the
    # activities the workflow ran (the workflow's spans hang under the start that created it)
    spans = SPANS.get_finished_spans()
    opens = [s for s in spans if s.name == "POST /v1/disputes" and s.parent is None]
    assert len(opens) == 2
    for http_span in opens:
        in_trace = [s.name for s in spans if s.context.trace_id == http_span.context.trace_id]
        for expected in (
            "StartWorkflow:DisputeWorkflow",
            "RunWorkflow:DisputeWorkflow",
            "RunActivity:publish_change",
        ):
            assert expected in in_trace, in_trace
    accept = next(s for s in spans if s.name == "POST /v1/disputes/{dispute_id}/accept" and s.parent is None)
    in_accept = {s.name for s in spans if s.context.trace_id == accept.context.trace_id}
    assert "StartWorkflowUpdate:accept" in in_accept

    # JSON logs carry the workflow id and the case id
    records = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    accepted = [r for r in records if r.get("message") == "accept by seller s-1"]
    assert accepted and accepted[0]["workflow_id"] == agreed and accepted[0]["case_id"] == agreed
    access = [r for r in records if r.get("logger") == "api.access" and r.get("case_id") == breached]
    assert access and all(r["request_id"] for r in access)
