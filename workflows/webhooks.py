"""WebhookDeliveryWorkflow: one per (subscription, event); retries until the receiver says 2xx."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import Delivery, DeliveryResult, WebhookActivities


@workflow.defn
class WebhookDeliveryWorkflow:
    """Delivers one event to one subscriber; a receiver that is down for hours loses nothing."""

    @workflow.run
    async def run(self, delivery: Delivery) -> DeliveryResult:
        """POST with backoff (1 s doubling up to the configured maximum) until accepted."""
        return await workflow.execute_activity_method(
            WebhookActivities.deliver_webhook,
            delivery,
            start_to_close_timeout=delivery.timeout + timedelta(seconds=5),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1),
                backoff_coefficient=2.0,
                maximum_interval=delivery.max_retry_interval,
            ),
            summary=f"POST {delivery.event.type.value} {delivery.event.id}",
        )
