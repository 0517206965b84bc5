"""Signed webhooks over real HTTP: a receiver that is down for a while still gets every event once;
secrets rotate with an overlap; deliveries that give up are dead letters, redelivered once; a
subscription that fails for too long is disabled, and enabled again."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.webhooks import Delivery, WebhookActivities
from core.egress import pinned_client
from core.settings import Settings, WebhookSubscription
from domain.outbound import CaseEvent, EventType
from store.schema import webhook_subscriptions
from store.webhooks import webhook_store
from tests.support import AS_ADMIN, AS_CARE, eventually, listening, serving


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


class Hooks:
    """A receiver that verifies each delivery with every secret it holds (the Standard Webhooks
    library) and answers ``status``."""

    def __init__(self) -> None:
        self.status = 200
        self.secrets: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/hooks", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        body = await request.body()
        self.requests.append(
            {
                "event": json.loads(body),
                "verified": {
                    name: verify(secret, request.headers, body) for name, secret in self.secrets.items()
                },
                "signatures": len(request.headers["webhook-signature"].split(" ")),
                "status": self.status,
            }
        )
        return JSONResponse({"ok": self.status < 300}, status_code=self.status)

    def accepted(self, event_id: str) -> list[dict[str, Any]]:
        """The deliveries of ``event_id`` this receiver accepted."""
        return [r for r in self.requests if r["event"]["id"] == event_id and r["status"] == 200]

    async def arrived(self, event_id: str) -> list[dict[str, Any]]:
        """``accepted``, to poll with ``eventually``."""
        return self.accepted(event_id)


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[Hooks, str]]:
    receiver = Hooks()
    async with listening(receiver.app) as url:
        yield receiver, f"{url}/hooks"


#: A subscription from the settings: an admin key sees it (it names no owner); it is never due.
CONFIGURED = WebhookSubscription(
    id="wh-configured", url="http://127.0.0.1:9/x", secret="c" * 20, event_types=["ticket.closed"]
)


@pytest.fixture
def settings(task_queue: str, tmp_path: Path) -> Settings:
    """Receivers recover within seconds here, so retry at most every 2 s."""
    return Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        webhook_max_retry_interval=timedelta(seconds=2),
        webhook_allow_private_hosts=True,  # the receiver runs on loopback
        webhooks=[CONFIGURED],
    )


def short(settings: Settings, **changes: Any) -> Settings:
    """``settings`` retrying every second, with ``changes``."""
    return settings.model_copy(update={"webhook_max_retry_interval": timedelta(seconds=1), **changes})


async def file_report(api: httpx.AsyncClient) -> str:
    """File a help-center report; the id of its ``ticket.opened`` event."""
    filed = await api.post(
        "/v1/tickets",
        json={"user_id": f"u-{uuid.uuid4().hex[:6]}", "role": "seller", "topic": "SALES", "details": "Empty"},
    )
    assert filed.status_code == 201, filed.text
    return f"{filed.json()['id']}:1"


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


# -- secret rotation ----------------------------------------------------------------------------


async def test_a_rotated_secret_verifies_for_old_and_new_receivers_until_the_overlap_ends(
    api: httpx.AsyncClient, hooks: tuple[Hooks, str], engine: AsyncEngine
) -> None:
    receiver, url = hooks
    created = (await api.post("/v1/webhooks", json={"url": url, "event_types": ["ticket.opened"]})).json()
    subscription_id, old = created["id"], created["secret"]
    rotated = await api.post(f"/v1/webhooks/{subscription_id}/rotate-secret", json={"overlap": "PT1H"})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    expires = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    shown = (await api.get(f"/v1/webhooks/{subscription_id}")).json()
    assert shown["previous_secret_expires_at"] is not None and "secret" not in shown
    # One receiver still holds the old secret, another already has the new one.
    receiver.secrets = {"old": old, "new": new}

    during = await file_report(api)
    await eventually(lambda: receiver.arrived(during))
    [delivery] = receiver.accepted(during)
    assert delivery["verified"] == {"old": True, "new": True} and delivery["signatures"] == 2

    # The hour passes (moved in the database rather than waited for): only the new secret signs.
    async with engine.begin() as connection:
        await connection.execute(
            sa.update(webhook_subscriptions).values(
                previous_secret_until=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
    after = await file_report(api)
    await eventually(lambda: receiver.arrived(after))
    [delivery] = receiver.accepted(after)
    assert delivery["verified"] == {"old": False, "new": True} and delivery["signatures"] == 1
    assert (await api.get(f"/v1/webhooks/{subscription_id}")).json()["previous_secret_expires_at"] is None


async def test_rotations_are_checked_and_a_keyed_one_happens_once(api: httpx.AsyncClient) -> None:
    subscription_id = (await api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/r"})).json()["id"]
    rotate = f"/v1/webhooks/{subscription_id}/rotate-secret"
    for body, field in [
        ({"overlap": "P30D"}, "overlap"),  # above DISPUTES_WEBHOOK_SECRET_MAX_OVERLAP (7 days)
        ({"overlap": "-PT1S"}, "overlap"),
        ({"overlap": "soon"}, "overlap"),
        ({"secret": "whsec_" + "A" * 8}, "secret"),  # 6 bytes: too short a key
        ({"secret": "short"}, "secret"),
    ]:
        refused = await api.post(rotate, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == [field], refused.text

    own = "own-secret-of-enough-length"
    key = {"Idempotency-Key": f"rotate-{uuid.uuid4()}"}
    first = await api.post(rotate, json={"secret": own, "overlap": "PT0S"}, headers=key)
    again = await api.post(rotate, json={"secret": own, "overlap": "PT0S"}, headers=key)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() and first.json()["secret"] == own
    assert (await api.get(f"/v1/webhooks/{subscription_id}")).json()["previous_secret_expires_at"] is None
    assert (await api.post(rotate, json={}, headers=AS_CARE)).status_code == 403
    configured = await api.post(f"/v1/webhooks/{CONFIGURED.id}/rotate-secret", json={}, headers=AS_ADMIN)
    assert configured.status_code == 409 and "DISPUTES_WEBHOOKS" in configured.json()["detail"]


# -- dead letters, redelivery, disabled subscriptions --------------------------------------------


async def test_a_delivery_that_gives_up_is_a_dead_letter_redelivered_once(
    dev_server_env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine, hooks: tuple[Hooks, str]
) -> None:
    receiver, url = hooks
    receiver.status = 500
    settings = short(settings, webhook_retry_window=timedelta(seconds=3))
    # Two API hosts on one database; the first also runs the workers.
    async with (
        serving(settings, dev_server_env, engine=engine) as api,
        serving(settings, dev_server_env, worker=False, engine=engine) as replica,
    ):
        created = (await api.post("/v1/webhooks", json={"url": url, "event_types": ["ticket.opened"]})).json()
        receiver.secrets = {"current": created["secret"]}
        event_id = await file_report(api)

        async def dead() -> list[Any]:
            return list((await api.get("/v1/webhooks/dead-letters")).json()["items"])

        [letter] = await eventually(dead, seconds=30)
        assert letter["delivery_id"] == f"{created['id']}:{event_id}"
        assert letter["event"]["id"] == event_id and letter["event"]["type"] == "ticket.opened"
        assert letter["last_error"] == "gave up after 3 s of retries; last attempt: HTTP 500"
        tried = len(receiver.requests)
        assert letter["attempts"] == tried >= 2
        assert all(r["verified"] == {"current": True} for r in receiver.requests)

        receiver.status = 200
        redeliver = f"/v1/webhooks/dead-letters/{letter['delivery_id']}/redeliver"
        answers = await asyncio.gather(api.post(redeliver), replica.post(redeliver))
        assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
        await eventually(lambda: receiver.arrived(event_id))
        await asyncio.sleep(1)  # nothing else arrives: one redelivery, accepted at its first try
        assert len(receiver.requests) == tried + 1 and receiver.requests[-1]["verified"] == {"current": True}

        assert await dead() == []
        shown = (await api.get("/v1/webhooks/dead-letters", params={"include_redelivered": "true"})).json()
        assert shown["items"][0]["redelivered_at"] is not None
        assert (await api.post(redeliver)).status_code == 409
        attempts = (await api.get("/v1/webhooks/deliveries", params={"event_id": event_id})).json()["items"]
        assert attempts[0]["delivered"] and not any(a["delivered"] for a in attempts[1:])
        assert (await api.post("/v1/webhooks/dead-letters/wh-none:x/redeliver")).status_code == 404


async def test_a_subscription_failing_for_the_whole_bound_is_disabled_then_enabled(
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    engine: AsyncEngine,
    hooks: tuple[Hooks, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver, url = hooks
    receiver.status = 500
    settings = short(settings, webhook_disable_after=timedelta(seconds=2))
    caplog.set_level(logging.WARNING, logger="activities.webhooks")
    async with serving(settings, dev_server_env, engine=engine) as api:
        created = (await api.post("/v1/webhooks", json={"url": url, "event_types": ["ticket.opened"]})).json()
        subscription = f"/v1/webhooks/{created['id']}"
        first = await file_report(api)

        async def disabled() -> dict[str, Any] | None:
            shown: dict[str, Any] = (await api.get(subscription)).json()
            return shown if shown["status"] == "disabled" else None

        shown = await eventually(disabled, seconds=30)
        assert shown["disabled_reason"] == "every delivery failed for 2 s or more"
        assert shown["failing_since"] is not None and shown["disabled_at"] is not None
        listed = (await api.get("/v1/webhooks", params={"status": "disabled"})).json()["items"]
        assert [s["id"] for s in listed] == [created["id"]]
        assert (await api.get("/v1/webhooks", params={"status": "active"})).json()["items"] == []
        assert any(f"webhook subscription {created['id']} disabled" in r.getMessage() for r in caplog.records)

        async def letters(count: int) -> list[Any]:
            found = (await api.get("/v1/webhooks/dead-letters")).json()["items"]
            return list(found) if len(found) == count else []

        # The delivery in flight stops at its next try; a new event goes straight to a dead letter.
        await eventually(lambda: letters(1))
        tried = len(receiver.requests)
        second = await file_report(api)
        by_event = {d["event"]["id"]: d for d in await eventually(lambda: letters(2))}
        assert (
            by_event[first]["last_error"] == by_event[second]["last_error"] == "the subscription is disabled"
        )
        assert by_event[second]["attempts"] == 0 and len(receiver.requests) == tried
        redeliver = f"/v1/webhooks/dead-letters/{by_event[first]['delivery_id']}/redeliver"
        refused = await api.post(redeliver)
        assert refused.status_code == 409 and "enable it first" in refused.json()["detail"]

        receiver.status = 200
        enabled = await api.post(f"{subscription}/enable")
        assert enabled.status_code == 200 and enabled.json()["status"] == "active"
        for letter in by_event.values():
            sent = await api.post(f"/v1/webhooks/dead-letters/{letter['delivery_id']}/redeliver")
            assert sent.status_code == 202, sent.text
        for event_id in (first, second):
            await eventually(functools.partial(receiver.arrived, event_id))
        assert (await api.get(subscription)).json()["status"] == "active"
