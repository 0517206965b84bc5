"""Signed webhooks over real HTTP: a receiver that is down for a while still gets every event once."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.egress import pinned_client
from activities.webhooks import Delivery, WebhookActivities, webhook_store
from core.settings import Settings, WebhookSubscription
from domain.outbound import CaseEvent, EventType
from tests.support import AS_CARE, eventually, listening, serving


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """The check the README tells receivers to make: the Standard Webhooks library."""
    try:
        Webhook(secret).verify(body, dict(headers))
    except WebhookVerificationError:
        return False
    return True


class Receiver:
    """A platform endpoint that is down (503) for its first ``down_for`` requests, then accepts."""

    def __init__(self, down_for: int) -> None:
        self.down_for = down_for
        self.secret = ""
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/hooks", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        body = await request.body()
        signed = verify(self.secret, request.headers, body)
        event = json.loads(body)
        self.requests.append({"event": event, "signed": signed, "id": request.headers["webhook-id"]})
        if len(self.requests) <= self.down_for:
            return JSONResponse({"error": "maintenance"}, status_code=503)
        if not signed:
            return JSONResponse({"error": "bad signature"}, status_code=400)
        self.accepted.append(event)
        return JSONResponse({"ok": True})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hooks = Receiver(down_for=4)
    async with listening(hooks.app) as url:
        yield hooks, f"{url}/hooks"


@pytest.fixture
def settings(task_queue: str, tmp_path: Path) -> Settings:
    """Receivers recover within seconds here, so retry at most every 2 s."""
    return Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        webhook_max_retry_interval=timedelta(seconds=2),
        webhook_allow_private_hosts=True,  # the receiver runs on loopback
    )


async def test_every_event_arrives_signed_and_once_after_the_receiver_recovers(
    api: httpx.AsyncClient, receiver: tuple[Receiver, str]
) -> None:
    hooks, url = receiver
    created = await api.post("/v1/webhooks", json={"url": url, "event_types": ["*"]})
    assert created.status_code == 201, created.text
    hooks.secret = created.json()["secret"]
    assert hooks.secret.startswith("whsec_")  # a Standard Webhooks secret
    listed = (await api.get("/v1/webhooks")).json()["items"]
    assert [s["id"] for s in listed] == [created.json()["id"]]
    assert "secret" not in listed[0]
    assert (await api.get("/v1/webhooks", headers=AS_CARE)).status_code == 403

    order = f"o-{uuid.uuid4().hex[:8]}"
    opened = await api.post(
        "/v1/disputes",
        json={
            "order_id": order,
            "buyer_id": "b-1",
            "seller_id": "s-1",
            "order_total": 100000,
            "reason": "INCOMPLETE",
            "requested_solution": {"kind": "REFUND_TO_BUYER", "amount": 30000},
            "description": "One item missing",
        },
    )
    dispute_id = opened.json()["id"]
    await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": {"role": "seller", "id": "s-1"}})

    expected_types = ["dispute.opened", "dispute.updated", "dispute.updated", "dispute.resolved"]

    async def all_accepted() -> bool:
        return sorted(e["type"] for e in hooks.accepted) == sorted(expected_types)

    await eventually(all_accepted, seconds=40)
    ids = [e["id"] for e in hooks.accepted]
    assert sorted(ids) == sorted(f"{dispute_id}:{n}" for n in range(1, 5))  # each event exactly once
    assert len(hooks.requests) > len(ids)  # the first tries failed and were retried
    assert all(r["signed"] for r in hooks.requests)
    resolved = next(e for e in hooks.accepted if e["type"] == "dispute.resolved")
    assert resolved["case_id"] == dispute_id
    assert resolved["data"]["status"] == "RESOLVED"
    assert resolved["data"]["outcome"]["refunded_to_buyer"] == 30000
    assert "description" not in resolved["data"]  # events carry ids and states, not free text

    first = f"{dispute_id}:1"
    attempts = (await api.get("/v1/webhooks/deliveries", params={"event_id": first})).json()["items"]
    assert attempts[0]["delivered"] is True
    assert any(a["status_code"] == 503 and not a["delivered"] for a in attempts)
    assert [a["attempt"] for a in reversed(attempts)] == list(range(1, len(attempts) + 1))


async def test_subscriptions_are_validated_and_removable(api: httpx.AsyncClient) -> None:
    bad = await api.post("/v1/webhooks", json={"url": "not a url", "event_types": ["dispute.exploded"]})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"url", "event_types"}
    created = await api.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "event_types": ["ticket.opened"]}
    )
    subscription_id = created.json()["id"]
    assert (await api.delete(f"/v1/webhooks/{subscription_id}")).status_code == 204
    assert (await api.delete(f"/v1/webhooks/{subscription_id}")).status_code == 404


async def test_a_keyed_subscription_is_created_once(api: httpx.AsyncClient) -> None:
    body = {"url": "http://127.0.0.1:9/once", "event_types": ["dispute.resolved"]}
    key = {"Idempotency-Key": f"sub-{uuid.uuid4()}"}
    first = await api.post("/v1/webhooks", json=body, headers=key)
    again = await api.post("/v1/webhooks", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()  # the first response, secret included
    listed = [s["id"] for s in (await api.get("/v1/webhooks")).json()["items"]]
    assert listed.count(first.json()["id"]) == 1
    other = await api.post("/v1/webhooks", json=body | {"url": "http://127.0.0.1:9/other"}, headers=key)
    assert other.status_code == 422


async def test_internal_addresses_are_refused_unless_allowed(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, engine: AsyncEngine
) -> None:
    """Webhooks must not be a way into internal services (SSRF): refused at subscription for a
    literal internal address, and at delivery for whatever the host turns out to be."""
    guarded = Settings(task_queue=task_queue, data_dir=tmp_path / "api")
    async with serving(guarded, dev_server_env) as api:
        for url in ("http://127.0.0.1:9/x", "http://10.0.0.7/x", "http://localhost/x", "http://[::1]/x"):
            refused = await api.post("/v1/webhooks", json={"url": url})
            assert refused.status_code == 422, url
            assert refused.json()["errors"][0]["field"] == "url"

    configured = WebhookSubscription(id="wh-internal", url="http://169.254.169.254/latest", secret="s" * 20)
    settings = Settings(task_queue=task_queue, data_dir=tmp_path / "worker", webhooks=[configured])
    activities = WebhookActivities(webhook_store(settings, engine), settings)

    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request may leave for {request.url}")

    activities.http = pinned_client(inner=httpx.MockTransport(never))
    event = CaseEvent(
        id="dispute-o-1:1",
        type=EventType.DISPUTE_OPENED,
        case_id="dispute-o-1",
        occurred_at=datetime.now(UTC),
        data={},
    )
    delivery = Delivery(
        delivery_id="wh-internal:dispute-o-1:1",
        subscription_id="wh-internal",
        event=event,
        timeout=timedelta(seconds=5),
        max_retry_interval=timedelta(seconds=5),
    )
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(activities.deliver_webhook, delivery)
    assert failure.value.type == "WebhookTargetRefused" and failure.value.non_retryable
    [attempt] = await webhook_store(settings, engine).attempts(event_id="dispute-o-1:1")
    # the log a key holder reads says no more than that: no address, resolved or given
    assert attempt.error == "refused: the target is not a public address" and not attempt.delivered
