"""The client's side of webhooks: a case's publish step hands each event over once (a row and one
fan-out workflow), and delivery workflows are started on the webhook lane's own task queue (by the
fan-out activity, and by the API when it redelivers a dead letter)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.webhooks import Delivery, FanOutInput, payload_of
from core.settings import Settings
from domain.outbound import CaseEvent
from store.webhooks import WebhookStore

#: The workflow id of the one fan-out of a case event.
FAN_OUT_PREFIX = "webhook-fan-out-"


class WebhookPublisher:
    """The case side of webhooks: a case's publish step hands each event over once (a row in
    ``case_events`` and one fan-out workflow on the webhook lane), however many subscribe to it."""

    def __init__(self, store: WebhookStore, client: Client, settings: Settings) -> None:
        self.store = store
        self.client = client
        self.settings = settings

    async def publish(self, event: CaseEvent) -> int:
        """Keep the event and start its fan-out (once: a retried step starts nothing new);
        1 when handed over, 0 when no subscription wants events of its type (then it is only
        kept). Subscriptions are read again when the fan-out runs."""
        if not await self.store.hand_over(event, payload_of(event)):
            return 0
        try:
            await self.client.start_workflow(
                "WebhookFanOutWorkflow",
                FanOutInput(event=event),
                id=f"{FAN_OUT_PREFIX}{event.id}",
                task_queue=self.settings.webhook_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"fan out {event.type.value} {event.id} to its subscribers",
            )
        except WorkflowAlreadyStartedError:
            pass  # the publishing step was retried after handing it over
        return 1


class WebhookDispatcher:
    """Starts delivery workflows, one per subscriber and event, on the webhook lane's own task queue."""

    def __init__(self, client: Client, settings: Settings) -> None:
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
            return False  # the fan-out was retried after starting it: one delivery per event
        return True
