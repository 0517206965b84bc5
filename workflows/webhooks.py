"""The webhook lane's workflows: WebhookFanOutWorkflow, one per case event, starts a
WebhookDeliveryWorkflow per (subscription, event), which retries with backoff for a bounded
window, then keeps the delivery as a dead letter."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import (
        DISABLED,
        SUBSCRIPTION_DISABLED,
        DeadLetterInput,
        Delivery,
        DeliveryResult,
        FanOutInput,
        FanOutResult,
        WebhookActivities,
        WebhookFanOut,
    )
    from store.webhooks import span

#: Keeping a dead letter only writes to the service database.
DEAD_LETTER_TIMEOUT = timedelta(seconds=30)
#: Starting the deliveries of one event: a read of the subscriptions and one start each.
FAN_OUT_TIMEOUT = timedelta(minutes=5)
#: The longest wait between tries of a fan-out (while Temporal or the database is down).
FAN_OUT_MAX_INTERVAL = timedelta(minutes=1)


@workflow.defn
class WebhookFanOutWorkflow:
    """Delivers one case event to every subscriber of its type: the case handed the event over
    once, and the webhook lane does the per-subscription work, away from the case's steps."""

    @workflow.run
    async def run(self, handed_over: FanOutInput) -> FanOutResult:
        """Start one delivery workflow per subscriber (each once, however often this is tried).
        A local activity: it needs no slot of the lane, whose slots a backlog of failing
        deliveries may hold for minutes, so a new event is fanned out at once all the same."""
        return await workflow.execute_local_activity_method(
            WebhookFanOut.fan_out_webhook_event,
            handed_over,
            start_to_close_timeout=FAN_OUT_TIMEOUT,
            retry_policy=RetryPolicy(maximum_interval=FAN_OUT_MAX_INTERVAL),
            summary=f"start the deliveries of {handed_over.event.id}",
        )


def gave_up_because(failure: ActivityError, delivery: Delivery) -> str:
    """Why the delivery stopped, in a dead letter's words."""
    cause = failure.cause
    # The window closes during an attempt (a timeout) or before the next one (the last failure,
    # with the retry state saying the retries timed out).
    timed_out = isinstance(cause, ActivityTimeout) or failure.retry_state == RetryState.TIMEOUT
    if timed_out and delivery.retry_window is not None:
        return f"gave up after {span(delivery.retry_window)} of retries"
    if isinstance(cause, ApplicationError) and cause.type == SUBSCRIPTION_DISABLED:
        return DISABLED
    return str(cause) if cause is not None else failure.message


@workflow.defn
class WebhookDeliveryWorkflow:
    """Delivers one event to one subscriber; a receiver that is down for hours loses nothing, and
    one that is down for longer than the retry window leaves a dead letter to redeliver."""

    @workflow.run
    async def run(self, delivery: Delivery) -> DeliveryResult:
        """POST with backoff (1 s doubling up to the configured maximum) until accepted, or until
        the retry window closes or the delivery is refused: then a dead letter."""
        try:
            return await workflow.execute_activity_method(
                WebhookActivities.deliver_webhook,
                delivery,
                start_to_close_timeout=delivery.timeout + timedelta(seconds=5),
                schedule_to_close_timeout=delivery.retry_window,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    backoff_coefficient=2.0,
                    maximum_interval=delivery.max_retry_interval,
                ),
                summary=f"POST {delivery.event.type.value} {delivery.event.id}",
            )
        except ActivityError as failure:
            reason = gave_up_because(failure, delivery)
        letter = await workflow.execute_activity_method(
            WebhookActivities.dead_letter_webhook,
            DeadLetterInput(delivery=delivery, reason=reason),
            start_to_close_timeout=DEAD_LETTER_TIMEOUT,
            # The service database may be down for a while: keep trying, it costs no case anything.
            retry_policy=RetryPolicy(maximum_interval=delivery.max_retry_interval),
            summary=f"dead letter {delivery.event.id}",
        )
        return DeliveryResult(
            delivery_id=delivery.delivery_id, status_code=None, attempts=letter.attempts, dead=True
        )
