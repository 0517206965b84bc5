"""Signed webhook deliveries: subscriptions, the dispatch of each case event, and each POST."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
from activities.outbox import sqlite_db
from core.settings import Settings, WebhookSubscription
from domain.outbound import CaseEvent

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


class DeliveryAttempt(BaseModel):
    """One POST to a receiver, as ``GET /v1/webhooks/deliveries`` shows it."""

    delivery_id: str
    event_id: str
    event_type: str
    subscription_id: str
    attempt: int
    status_code: int | None
    error: str | None
    delivered: bool
    at: datetime


class PublicSubscription(BaseModel):
    """A subscription without its secret."""

    id: str
    url: str
    event_types: list[str]
    source: str


_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, event_types TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL, event_id TEXT NOT NULL,
    event_type TEXT NOT NULL, subscription_id TEXT NOT NULL, attempt INTEGER NOT NULL,
    status_code INTEGER, error TEXT, delivered INTEGER NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_event ON attempts (event_id);
"""


class WebhookStore:
    """Subscriptions (from settings, and added through the API) and delivery attempts, in SQLite."""

    def __init__(self, path: Path, configured: list[WebhookSubscription]) -> None:
        self.path = path
        self.configured = {s.id: s for s in configured}

    async def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        async with sqlite_db(self.path, _SCHEMA) as db:
            cursor = await db.execute(sql, args)
            rows = [tuple(row) for row in await cursor.fetchall()]
            await db.commit()
        return rows

    async def subscriptions(self) -> list[WebhookSubscription]:
        """Every subscription: configured ones first."""
        rows = await self._query("SELECT id, url, secret, event_types FROM subscriptions ORDER BY created_at")
        added = [
            WebhookSubscription(id=id_, url=url, secret=secret, event_types=json.loads(types))
            for id_, url, secret, types in rows
        ]
        return list(self.configured.values()) + added

    async def get(self, subscription_id: str) -> WebhookSubscription | None:
        """One subscription, with its secret."""
        return next((s for s in await self.subscriptions() if s.id == subscription_id), None)

    async def add(
        self,
        url: str,
        event_types: list[str],
        secret: str | None,
        created_by: str,
        subscription_id: str | None = None,
    ) -> WebhookSubscription:
        """Add a subscription (a secret is generated when none is given); adding an id that
        exists returns that subscription unchanged, so a retried request adds nothing."""
        if subscription_id and (existing := await self.get(subscription_id)):
            return existing
        subscription = WebhookSubscription(
            id=subscription_id or f"wh-{secrets.token_hex(8)}",
            url=url,
            secret=secret or f"whsec-{secrets.token_urlsafe(24)}",
            event_types=event_types,
        )
        await self._query(
            "INSERT INTO subscriptions (id, url, secret, event_types, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                subscription.id,
                subscription.url,
                subscription.secret,
                json.dumps(event_types),
                created_by,
                datetime.now(UTC).isoformat(),
            ),
        )
        return subscription

    async def remove(self, subscription_id: str) -> bool:
        """Remove an API-added subscription (configured ones change with the settings)."""
        if await self.get(subscription_id) is None or subscription_id in self.configured:
            return False
        await self._query("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))
        return True

    async def record(self, attempt: DeliveryAttempt) -> None:
        """Record one POST and its result."""
        await self._query(
            "INSERT INTO attempts (delivery_id, event_id, event_type, subscription_id, attempt,"
            " status_code, error, delivered, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                attempt.delivery_id,
                attempt.event_id,
                attempt.event_type,
                attempt.subscription_id,
                attempt.attempt,
                attempt.status_code,
                attempt.error,
                int(attempt.delivered),
                attempt.at.isoformat(),
            ),
        )

    async def attempts(
        self, event_id: str | None = None, subscription_id: str | None = None
    ) -> list[DeliveryAttempt]:
        """Delivery attempts, newest first, optionally for one event or one subscription."""
        where, args = [], []
        for column, value in (("event_id", event_id), ("subscription_id", subscription_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = (
            "SELECT delivery_id, event_id, event_type, subscription_id, attempt, status_code, error,"
            " delivered, at FROM attempts"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY seq DESC LIMIT 1000"
        )
        names = list(DeliveryAttempt.model_fields)
        return [
            DeliveryAttempt.model_validate(dict(zip(names, row, strict=True)))
            for row in await self._query(sql, tuple(args))
        ]


def webhook_store(settings: Settings) -> WebhookStore:
    """The store in the data folder, with the configured subscriptions."""
    return WebhookStore(settings.data_dir / "webhooks.sqlite3", settings.webhooks)


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
