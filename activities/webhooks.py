"""Signed webhook deliveries: subscriptions, the dispatch of each case event, and each POST."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from core.settings import Settings
from domain.events import CaseEvent

# The repository lives in store.webhooks; callers may keep importing it from here.
from store.webhooks import DeliveryAttempt as DeliveryAttempt
from store.webhooks import WebhookStore as WebhookStore
from store.webhooks import webhook_store as webhook_store

SIGNATURE_HEADER = "Webhook-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 of ``<timestamp>.<body>`` with the subscription's secret, in hex."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex signature>``: what receivers verify (README, Webhooks)."""
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not address.is_global or address.is_multicast


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def literal_internal_address(url: str) -> str | None:
    """The internal address ``url``'s host is, without resolving names (for checks made while
    answering a request): localhost, or a loopback, private, link-local or multicast literal."""
    host = httpx.URL(url).host
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return host
    address = _literal(host)
    return str(address) if address is not None and _internal(address) else None


async def internal_address(url: str) -> str | None:
    """As ``literal_internal_address``, and also what a host name resolves to: webhooks must not
    be a way into internal services."""
    host = httpx.URL(url).host
    if (found := literal_internal_address(url)) or _literal(host) is not None:
        return found
    infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    resolved = [ipaddress.ip_address(info[4][0]) for info in infos]
    return next((str(address) for address in resolved if _internal(address)), None)


def body_of(event: CaseEvent) -> bytes:
    """The JSON a receiver gets for ``event``."""
    payload = {
        "id": event.id,
        "type": event.type.value,
        "created_at": event.occurred_at.isoformat(),
        "case_id": event.case_id,
        "data": event.data,
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


class WebhookActivities:
    """Fans each case event out to its subscribers, and POSTs one signed delivery."""

    def __init__(
        self, store: WebhookStore, client: Client, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.client = client
        self.settings = settings
        self.clock = clock
        self.http = httpx.AsyncClient(follow_redirects=False)

    @activity.defn
    async def dispatch_event(self, event: CaseEvent) -> int:
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
                    static_summary=f"deliver {event.type.value} {event.id} to {subscription.url}",
                )
            except WorkflowAlreadyStartedError:
                pass  # this activity was retried after starting it: one delivery per event
            started += 1
        return started

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
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "Webhook-Id": event.id,
            "Webhook-Timestamp": str(timestamp),
            SIGNATURE_HEADER: signature_header(subscription.secret, timestamp, body),
        }
        status_code: int | None = None
        error: str | None = None
        refused: str | None = None
        try:
            if not self.settings.webhook_allow_private_hosts:
                refused = await internal_address(subscription.url)
            if refused is None:
                response = await self.http.post(
                    subscription.url, content=body, headers=headers, timeout=delivery.timeout.total_seconds()
                )
                status_code = response.status_code
            else:
                error = f"refused: {subscription.url} points at the internal address {refused}"
        except (httpx.HTTPError, OSError) as failure:
            error = f"{type(failure).__name__}: {failure}"
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
        if refused is not None:
            raise ApplicationError(error or "refused", type="WebhookTargetRefused", non_retryable=True)
        if not delivered:
            raise ApplicationError(
                f"receiver answered {status_code or error}; retrying", type="WebhookNotAccepted"
            )
        return DeliveryResult(delivery_id=delivery.delivery_id, status_code=status_code, attempts=attempt)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for the worker."""
        return [self.dispatch_event, self.deliver_webhook]
