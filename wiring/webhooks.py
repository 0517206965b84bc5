"""Fans a case event out to its webhook subscribers: one delivery workflow each, on the webhook
lane's own task queue. The publishing activity gets it as its publisher; the API redelivers dead
letters with it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.webhooks import DISABLED, Delivery
from core.settings import Settings, WebhookSubscription
from domain.outbound import CaseEvent
from store.webhooks import DeadLetter, Subscription, WebhookStore

#: Deliveries one publishing step starts at once (a case event may have hundreds of subscribers).
FAN_OUT = 20


def subscribed(subscription: WebhookSubscription, event: CaseEvent) -> bool:
    """Whether ``subscription`` wants events of ``event``'s type."""
    return "*" in subscription.event_types or event.type.value in subscription.event_types


class WebhookDispatcher:
    """Fans a case event out to its subscribers: one delivery workflow per subscriber, on the
    webhook lane's own task queue."""

    def __init__(self, store: WebhookStore, client: Client, settings: Settings) -> None:
        self.store = store
        self.client = client
        self.settings = settings

    def delivery(self, subscription_id: str, event: CaseEvent, delivery_id: str | None = None) -> Delivery:
        """The delivery of ``event`` to one subscription, with the configured patience."""
        return Delivery(
            delivery_id=delivery_id or f"{subscription_id}:{event.id}",
            subscription_id=subscription_id,
            event=event,
            timeout=self.settings.webhook_timeout,
            max_retry_interval=self.settings.webhook_max_retry_interval,
            retry_window=self.settings.webhook_retry_window,
        )

    async def start(self, delivery: Delivery, workflow_id: str) -> bool:
        """Start the delivery workflow ``workflow_id``; False when it was started already."""
        try:
            await self.client.start_workflow(
                "WebhookDeliveryWorkflow",
                delivery,
                id=workflow_id,
                task_queue=self.settings.webhook_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                # The subscription's id, not its URL: URLs can carry tokens in their query.
                static_summary=(
                    f"deliver {delivery.event.type.value} {delivery.event.id}"
                    f" to subscription {delivery.subscription_id}"
                ),
            )
        except WorkflowAlreadyStartedError:
            return False  # the publishing step was retried after starting it: one delivery per event
        return True

    async def publish(self, event: CaseEvent) -> int:
        """Start one delivery workflow per subscriber of the event's type; return how many. A
        disabled subscription gets a dead letter instead, to redeliver once it is enabled."""
        wanted = [s for s in await self.store.subscriptions() if subscribed(s, event)]
        slots = asyncio.Semaphore(FAN_OUT)

        async def one(subscription: Subscription) -> int:
            delivery = self.delivery(subscription.id, event)
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
                    return 0
                await self.start(delivery, f"webhook-{delivery.delivery_id}")
                return 1

        return sum(await asyncio.gather(*(one(s) for s in wanted)))
