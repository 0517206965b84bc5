"""The one place that builds the Temporal client and the worker."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from activities.adapters import OutboxAdapters
from activities.effects import CaseActivities
from activities.http_adapters import HttpAdapters, effects_client
from activities.outbox import Outbox
from activities.webhooks import WebhookActivities, webhook_store
from core.observability import client_interceptors
from core.settings import Settings
from workflows.dispute import DisputeWorkflow
from workflows.idempotency import IdempotencyKeyWorkflow
from workflows.ticket import CareTicketWorkflow
from workflows.webhooks import WebhookDeliveryWorkflow

WORKFLOWS = [DisputeWorkflow, CareTicketWorkflow, WebhookDeliveryWorkflow, IdempotencyKeyWorkflow]


async def connect(runtime: Runtime | None = None) -> Client:
    """Connect with the SDK's standard configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
    TLS / API key, or a profile in the TOML config file); defaults to localhost:7233. The
    pydantic data converter, and the tracing interceptor when tracing is on, come with it."""
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", "localhost:7233")
    return await Client.connect(
        **config,
        data_converter=pydantic_data_converter,
        interceptors=client_interceptors(),
        runtime=runtime,
    )


def case_activities(settings: Settings, engine: AsyncEngine) -> CaseActivities:
    """The activities wired to the configured adapters: the outbox in the service database, or
    the platform's HTTP endpoints (which also record into the outbox)."""
    outbox = Outbox(engine)
    adapters: OutboxAdapters | HttpAdapters
    if settings.effects == "http":
        if not settings.effects_base_url:
            raise ValueError(
                "DISPUTES_EFFECTS=http needs DISPUTES_EFFECTS_BASE_URL (the platform's endpoints)"
            )
        adapters = HttpAdapters(effects_client(settings.effects_base_url, settings.activity_timeout), outbox)
    else:
        adapters = OutboxAdapters(outbox)
    return CaseActivities(payments=adapters, notifier=adapters, care_desk=adapters)


def build_worker(
    client: Client, settings: Settings, activities: CaseActivities, engine: AsyncEngine
) -> Worker:
    """A worker for every workflow and activity of the service on the configured task queue."""
    webhooks = WebhookActivities(webhook_store(settings, engine), client, settings)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[*activities.all(), *webhooks.all()],
    )
