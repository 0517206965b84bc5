"""Signed webhook deliveries: each POST to a subscriber, and the dead letter of one that gave up."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from core.egress import (
    REFUSED,
    Resolver,
    TargetRefused,
    describe_failure,
    pinned_client,
    resolve,
)
from core.settings import Settings, WebhookSubscription
from domain.outbound import CaseEvent
from store.webhooks import DeadLetter, DeliveryAttempt, Subscription, WebhookStore, signer, span

#: The error types a delivery gives up on at once (no retry): they go straight to a dead letter.
TARGET_REFUSED = "WebhookTargetRefused"
SUBSCRIPTION_DISABLED = "WebhookSubscriptionDisabled"
DISABLED = "the subscription is disabled"
#: Deliveries one fan-out starts at once (a case event may have hundreds of subscribers).
FAN_OUT = 20
#: The most of a receiver's response body an attempt reads; the rest is dropped unread (the
#: connection is closed). Only the status code counts, so a receiver answering gigabytes costs
#: the webhook worker this much memory, not what it sends.
RESPONSE_READ_LIMIT = 4096

log = logging.getLogger(__name__)


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


def payload_of(event: CaseEvent) -> dict[str, Any]:
    """The document a receiver gets for ``event``."""
    return {
        "id": event.id,
        "type": event.type.value,
        "created_at": event.occurred_at.isoformat(),
        "case_id": event.case_id,
        "version": event.version,
        "data": event.wire_data(),
        "notices": [notice.model_dump(mode="json") for notice in event.notices],
    }


def body_of(event: CaseEvent) -> bytes:
    """The JSON a receiver gets for ``event``."""
    return json.dumps(payload_of(event), separators=(",", ":")).encode()


class Delivery(BaseModel):
    """One event for one subscription, and how patiently to retry it."""

    delivery_id: str
    subscription_id: str
    event: CaseEvent
    timeout: timedelta
    max_retry_interval: timedelta
    retry_window: timedelta | None = Field(
        default=None,
        description="retried this long, then a dead letter (None: deliveries started before the bound)",
    )


class DeliveryResult(BaseModel):
    """How a delivery ended: accepted, skipped (subscription removed) or a dead letter."""

    delivery_id: str
    status_code: int | None
    attempts: int
    skipped: bool = False
    dead: bool = False


class FanOutInput(BaseModel):
    """A case event handed over to the webhook side, to deliver to each of its subscribers."""

    event: CaseEvent


class FanOutResult(BaseModel):
    """What the fan-out of one event started: deliveries, and dead letters for disabled subscribers."""

    deliveries: int = 0
    dead_letters: int = 0


class DeadLetterInput(BaseModel):
    """A delivery that gave up, and why."""

    delivery: Delivery
    reason: str


class DeadLetterResult(BaseModel):
    """The dead letter kept, and whether it disabled its subscription."""

    delivery_id: str
    attempts: int
    subscription_disabled: bool


def report_disabled(subscription_id: str, reason: str) -> None:
    """Say that a subscription was disabled: a warning in the log and ``webhook_subscriptions_disabled``."""
    activity.metric_meter().create_counter(
        "webhook_subscriptions_disabled", "Webhook subscriptions disabled after failing too long"
    ).add(1)
    log.warning(
        "webhook subscription %s disabled: %s",
        subscription_id,
        reason,
        extra={"subscription_id": subscription_id, "event": "webhook.subscription_disabled"},
    )


class StartsDeliveries(Protocol):
    """Starts delivery workflows (``wiring.webhooks.WebhookDispatcher``, a Temporal client's side)."""

    def delivery(self, subscription_id: str, event: CaseEvent, delivery_id: str | None = None) -> Delivery:
        """The delivery of ``event`` to one subscription, with the configured patience."""
        ...

    async def start(self, delivery: Delivery, workflow_id: str) -> bool:
        """Start the delivery workflow ``workflow_id``; False when it was started already."""
        ...


def subscribed(subscription: WebhookSubscription, event: CaseEvent) -> bool:
    """Whether ``subscription`` wants events of ``event``'s type."""
    return "*" in subscription.event_types or event.type.value in subscription.event_types


class WebhookFanOut:
    """The webhook side's fan-out: one delivery workflow per subscriber of a case event, on the
    webhook lane's own task queue."""

    def __init__(self, store: WebhookStore, dispatcher: StartsDeliveries) -> None:
        self.store = store
        self.dispatcher = dispatcher

    async def fan_out(self, event: CaseEvent) -> FanOutResult:
        """Start one delivery workflow per subscriber of the event's type. A disabled
        subscription gets a dead letter instead, to redeliver once it is enabled."""
        wanted = [s for s in await self.store.subscriptions() if subscribed(s, event)]
        slots = asyncio.Semaphore(FAN_OUT)
        result = FanOutResult()

        async def one(subscription: Subscription) -> None:
            delivery = self.dispatcher.delivery(subscription.id, event)
            async with slots:
                if subscription.disabled:
                    await self.store.add_dead_letter(
                        DeadLetter(
                            delivery_id=delivery.delivery_id,
                            subscription_id=subscription.id,
                            event=event.model_dump(mode="json"),
                            last_error=DISABLED,
                            attempts=0,
                            dead_at=datetime.now(UTC),
                        )
                    )
                    result.dead_letters += 1
                    return
                await self.dispatcher.start(delivery, f"webhook-{delivery.delivery_id}")
                result.deliveries += 1

        await asyncio.gather(*(one(s) for s in wanted))
        return result

    @activity.defn
    async def fan_out_webhook_event(self, handed_over: FanOutInput) -> FanOutResult:
        """Start the deliveries of one case event (safe to repeat: each starts once)."""
        return await self.fan_out(handed_over.event)


async def read_some(answer: httpx.Response) -> None:
    """Read at most ``RESPONSE_READ_LIMIT`` bytes of a streamed response; closing it then drops
    the rest unread with the connection."""
    read = 0
    async for chunk in answer.aiter_raw(RESPONSE_READ_LIMIT):
        read += len(chunk)
        if read >= RESPONSE_READ_LIMIT:
            break


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

    def now(self) -> datetime:
        """The activities' clock (tests may set it)."""
        return datetime.fromtimestamp(self.clock(), UTC)

    @activity.defn
    async def deliver_webhook(self, delivery: Delivery) -> DeliveryResult:
        """POST the signed event; anything but 2xx raises, so Temporal retries with backoff. A
        subscription failing for ``DISPUTES_WEBHOOK_DISABLE_AFTER`` is disabled here."""
        attempt = activity.info().attempt
        subscription = await self.store.get(delivery.subscription_id)
        if subscription is None:
            return DeliveryResult(
                delivery_id=delivery.delivery_id, status_code=None, attempts=attempt, skipped=True
            )
        if subscription.disabled:
            raise ApplicationError(DISABLED, type=SUBSCRIPTION_DISABLED, non_retryable=True)
        event = delivery.event
        body = body_of(event)
        now = self.now()
        # Every active secret signs: the new one, and the previous one while a rotation overlaps.
        headers = signed_headers(subscription.signing_secrets(now), event.id, int(now.timestamp()), body)
        status_code: int | None = None
        error: str | None = None
        refused = False
        try:
            status_code = await self.post(subscription.url, body, headers, delivery.timeout)
        except TargetRefused:
            refused, error = True, REFUSED
        except TimeoutError:
            error = f"AttemptTimeout: no answer within {span(delivery.timeout)}"
        except (httpx.HTTPError, OSError) as failure:
            error = describe_failure(failure)
        delivered = status_code is not None and 200 <= status_code < 300
        record = DeliveryAttempt(
            delivery_id=delivery.delivery_id,
            event_id=event.id,
            event_type=event.type.value,
            subscription_id=subscription.id,
            attempt=attempt,
            status_code=status_code,
            error=error,
            delivered=delivered,
            at=now,
        )
        if await self.store.record(record, self.settings.webhook_disable_after):
            report_disabled(subscription.id, f"failing for {span(self.settings.webhook_disable_after)}")
        if not delivered:
            self.failed(subscription.id, attempt, status_code, error)
        # A receiver's failure is the receiver's, not a bug here: BENIGN keeps the SDK from logging
        # each attempt's traceback at WARNING (``failed`` logs one line instead).
        if refused:
            raise ApplicationError(
                REFUSED, type=TARGET_REFUSED, non_retryable=True, category=ApplicationErrorCategory.BENIGN
            )
        if not delivered:
            raise ApplicationError(
                f"receiver answered {'HTTP ' + str(status_code) if status_code else error}; retrying",
                type="WebhookNotAccepted",
                category=ApplicationErrorCategory.BENIGN,
            )
        return DeliveryResult(delivery_id=delivery.delivery_id, status_code=status_code, attempts=attempt)

    async def post(self, url: str, body: bytes, headers: dict[str, str], within: timedelta) -> int:
        """POST ``body`` and return the status code, reading at most ``RESPONSE_READ_LIMIT`` bytes
        of the response; the whole attempt (connecting, sending, the answer) ends within
        ``within`` (``TimeoutError``), however slowly the receiver trickles bytes."""
        seconds = within.total_seconds()
        async with asyncio.timeout(seconds):
            sent = self.http.stream("POST", url, content=body, headers=headers, timeout=seconds)
            async with sent as answer:
                if not answer.is_stream_consumed:  # (a response made in memory, in tests, is read)
                    await read_some(answer)
                return answer.status_code

    @staticmethod
    def failed(subscription_id: str, attempt: int, status_code: int | None, error: str | None) -> None:
        """One line for an attempt the receiver did not accept: subscription, attempt, reason
        class (never the URL, its address or a secret), and ``webhook_delivery_attempts_failed``."""
        reason = f"HTTP {status_code}" if status_code is not None else (error or "").split(":", 1)[0]
        activity.metric_meter().create_counter(
            "webhook_delivery_attempts_failed", "Webhook delivery attempts a receiver did not accept"
        ).add(1, {"reason": "http_status" if status_code is not None else reason})
        log.info(
            "webhook delivery to subscription %s failed (attempt %d): %s",
            subscription_id,
            attempt,
            reason,
            extra={
                "subscription_id": subscription_id,
                "attempt": attempt,
                "reason": reason,
                "event": "webhook.attempt_failed",
            },
        )

    @activity.defn
    async def dead_letter_webhook(self, given_up: DeadLetterInput) -> DeadLetterResult:
        """Keep a delivery that gave up as a dead letter (listed and redeliverable through the
        API), count it, and disable its subscription if that has been failing long enough."""
        delivery = given_up.delivery
        attempts, last = await self.store.last_attempt(delivery.delivery_id)
        reason = given_up.reason
        if last is not None and not last.delivered and reason != DISABLED:
            reason += f"; last attempt: {'HTTP ' + str(last.status_code) if last.status_code else last.error}"
        now = self.now()
        await self.store.add_dead_letter(
            DeadLetter(
                delivery_id=delivery.delivery_id,
                subscription_id=delivery.subscription_id,
                event=delivery.event.model_dump(mode="json"),
                last_error=reason,
                attempts=attempts,
                dead_at=now,
            )
        )
        activity.metric_meter().create_counter(
            "webhook_dead_letters", "Webhook deliveries that gave up and became dead letters"
        ).add(1)
        log.warning(
            "webhook delivery %s is a dead letter: %s",
            delivery.delivery_id,
            reason,
            extra={"subscription_id": delivery.subscription_id, "event_id": delivery.event.id},
        )
        disable_after = self.settings.webhook_disable_after
        disabled = await self.store.disable_if_failing(delivery.subscription_id, now, disable_after)
        if disabled:
            report_disabled(delivery.subscription_id, f"failing for {span(disable_after)}")
        return DeadLetterResult(
            delivery_id=delivery.delivery_id, attempts=attempts, subscription_disabled=disabled
        )

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for the webhook worker."""
        return [self.deliver_webhook, self.dead_letter_webhook]
