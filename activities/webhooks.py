"""Signed webhook deliveries: subscriptions, the dispatch of each case event, and each POST."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel
from standardwebhooks import Webhook
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from activities.egress import (
    REFUSED,
    Resolver,
    TargetRefused,
    describe_failure,
    pinned_client,
    resolve,
)
from activities.egress import literal_internal_address as literal_internal_address
from core.settings import Settings
from domain.outbound import CaseEvent

# The repository lives in store.webhooks; callers may keep importing it from here.
from store.webhooks import DeliveryAttempt as DeliveryAttempt
from store.webhooks import WebhookStore as WebhookStore
from store.webhooks import webhook_store as webhook_store

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signer(secret: str) -> Webhook:
    """The Standard Webhooks signer for a subscription's secret: a ``whsec_`` secret is the base64
    of the key, as the specification says; any other string (a secret configured or given before
    ``whsec_`` secrets) is used as its UTF-8 bytes, so receivers verify with
    ``Webhook(secret.encode())``."""
    return Webhook(secret) if secret.startswith(SECRET_PREFIX) else Webhook(secret.encode())


def sign(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``
    for each active secret, space-separated (several while a rotated secret overlaps)."""
    if not secrets_:
        raise ValueError("a delivery is signed with at least one secret")
    at = datetime.fromtimestamp(timestamp, tz=UTC)
    return " ".join(signer(secret).sign(message_id, at, body.decode()) for secret in secrets_)


def signed_headers(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one delivery attempt."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets_, message_id, timestamp, body),
    }


def body_of(event: CaseEvent) -> bytes:
    """The JSON a receiver gets for ``event``."""
    payload = {
        "id": event.id,
        "type": event.type.value,
        "created_at": event.occurred_at.isoformat(),
        "case_id": event.case_id,
        "data": event.wire_data(),
    }
    return json.dumps(payload, separators=(",", ":")).encode()


class Delivery(BaseModel):
    """One event for one subscription, and how patiently to retry it."""

    delivery_id: str
    subscription_id: str
    event: CaseEvent
    timeout: timedelta
    max_retry_interval: timedelta


class DeliveryResult(BaseModel):
    """How a delivery ended."""

    delivery_id: str
    status_code: int | None
    attempts: int
    skipped: bool = False


class PublicSubscription(BaseModel):
    """A subscription without its secret."""

    id: str
    url: str
    event_types: list[str]
    source: str


class WebhookDispatcher:
    """Fans a case event out to its subscribers: one delivery workflow per subscriber."""

    def __init__(self, store: WebhookStore, client: Client, settings: Settings) -> None:
        self.store = store
        self.client = client
        self.settings = settings

    async def publish(self, event: CaseEvent) -> int:
        """Start one delivery workflow per subscriber of the event's type; return how many."""
        started = 0
        for subscription in await self.store.subscriptions():
            if "*" not in subscription.event_types and event.type.value not in subscription.event_types:
                continue
            delivery = Delivery(
                delivery_id=f"{subscription.id}:{event.id}",
                subscription_id=subscription.id,
                event=event,
                timeout=self.settings.webhook_timeout,
                max_retry_interval=self.settings.webhook_max_retry_interval,
            )
            try:
                await self.client.start_workflow(
                    "WebhookDeliveryWorkflow",
                    delivery,
                    id=f"webhook-{delivery.delivery_id}",
                    task_queue=self.settings.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    # The subscription's id, not its URL: URLs can carry tokens in their query.
                    static_summary=f"deliver {event.type.value} {event.id} to subscription {subscription.id}",
                )
            except WorkflowAlreadyStartedError:
                pass  # the publishing step was retried after starting it: one delivery per event
            started += 1
        return started


class WebhookActivities:
    """POSTs one signed delivery of a case event to one subscriber, at a checked address."""

    def __init__(
        self,
        store: WebhookStore,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        resolver: Resolver = resolve,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        # ``transport`` (tests) stands in for the network behind the address check and the pinning.
        self.http = pinned_client(
            allow_private=settings.webhook_allow_private_hosts, resolver=resolver, inner=transport
        )

    @activity.defn
    async def deliver_webhook(self, delivery: Delivery) -> DeliveryResult:
        """POST the signed event; anything but 2xx raises, so Temporal retries with backoff."""
        attempt = activity.info().attempt
        subscription = await self.store.get(delivery.subscription_id)
        if subscription is None:
            return DeliveryResult(
                delivery_id=delivery.delivery_id, status_code=None, attempts=attempt, skipped=True
            )
        event = delivery.event
        body = body_of(event)
        # One secret per subscription for now; the signature takes every active one (rotation).
        headers = signed_headers([subscription.secret], event.id, int(self.clock()), body)
        status_code: int | None = None
        error: str | None = None
        refused = False
        try:
            response = await self.http.post(
                subscription.url, content=body, headers=headers, timeout=delivery.timeout.total_seconds()
            )
            status_code = response.status_code
        except TargetRefused:
            refused, error = True, REFUSED
        except (httpx.HTTPError, OSError) as failure:
            error = describe_failure(failure)
        delivered = status_code is not None and 200 <= status_code < 300
        await self.store.record(
            DeliveryAttempt(
                delivery_id=delivery.delivery_id,
                event_id=event.id,
                event_type=event.type.value,
                subscription_id=subscription.id,
                attempt=attempt,
                status_code=status_code,
                error=error,
                delivered=delivered,
                at=datetime.now(UTC),
            )
        )
        if refused:
            raise ApplicationError(REFUSED, type="WebhookTargetRefused", non_retryable=True)
        if not delivered:
            raise ApplicationError(
                f"receiver answered {status_code or error}; retrying", type="WebhookNotAccepted"
            )
        return DeliveryResult(delivery_id=delivery.delivery_id, status_code=status_code, attempts=attempt)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for the worker."""
        return [self.deliver_webhook]
