"""The one place that builds the Temporal client and the worker."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime
from temporalio.worker import Worker, WorkerDeploymentConfig

from activities.adapters import OutboxAdapters
from activities.effects import CaseActivities
from activities.http_adapters import HttpAdapters, effects_client
from activities.outbox import Outbox
from activities.webhooks import WebhookActivities, WebhookDispatcher, webhook_store
from core.codec import EncryptionCodec
from core.observability import EffectAttempts, client_interceptors
from core.settings import Settings, get_settings
from store.cases import CaseRecords
from workflows.kinds import case_workflows
from workflows.webhooks import WebhookDeliveryWorkflow

log = logging.getLogger(__name__)

WORKFLOWS = [*case_workflows(), WebhookDeliveryWorkflow]


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic data converter; with ``DISPUTES_PAYLOAD_KEYS`` every payload is encrypted
    (AES-256-GCM) and failure messages and stack traces move into encrypted attributes too.
    Tests that build their own Temporal environments pass this same converter."""
    if not settings.payload_keys:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(settings.payload_key_bytes()),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(runtime: Runtime | None = None, settings: Settings | None = None) -> Client:
    """Connect with the SDK's standard configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
    TLS / API key, or a profile in the TOML config file); defaults to localhost:7233. The data
    converter (``data_converter``), and the tracing interceptor when tracing is on, come with it."""
    settings = settings or get_settings()
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", "localhost:7233")
    return await patiently(
        lambda: Client.connect(
            **config,
            data_converter=data_converter(settings),
            interceptors=client_interceptors(),
            runtime=runtime,
        ),
        settings.temporal_connect_timeout,
    )


async def patiently(connect: Callable[[], Awaitable[Client]], patience: timedelta) -> Client:
    """``connect()``, tried again for up to ``patience`` while the server is not serving yet (a
    server that has just started answers "Frontend is not healthy yet" for a moment)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience.total_seconds()
    while True:
        try:
            return await connect()
        except RuntimeError as error:  # the SDK's "Failed client connect: ..."
            if loop.time() >= deadline:
                raise
            log.info("Temporal is not serving yet (%s); trying again", error)
            await asyncio.sleep(0.5)


def effect_adapters(settings: Settings, engine: AsyncEngine) -> OutboxAdapters | HttpAdapters:
    """The configured adapters for payments, notifications and the care desk: the outbox in the
    service database, or the platform's HTTP endpoints (which also record into the outbox)."""
    outbox = Outbox(engine)
    if settings.effects == "http":
        if not settings.effects_base_url:
            raise ValueError(
                "DISPUTES_EFFECTS=http needs DISPUTES_EFFECTS_BASE_URL (the platform's endpoints)"
            )
        if settings.effects_signing_secret is None:
            raise ValueError(
                "DISPUTES_EFFECTS=http needs DISPUTES_EFFECTS_SIGNING_SECRET: effect requests move money"
                " and are signed so the platform can refuse anyone else's"
            )
        bearer = settings.effects_bearer_token.get_secret_value() if settings.effects_bearer_token else None
        client = effects_client(settings.effects_base_url, settings.activity_timeout, bearer)
        return HttpAdapters(client, outbox, settings.effects_signing_secret.get_secret_value().encode())
    return OutboxAdapters(outbox)


def case_activities(settings: Settings, client: Client, engine: AsyncEngine) -> CaseActivities:
    """The activities wired to the configured adapters; timelines are kept in the service
    database, and case events go to webhook subscribers (one delivery workflow each)."""
    adapters = effect_adapters(settings, engine)
    return CaseActivities(
        payments=adapters,
        notifier=adapters,
        care_desk=adapters,
        records=CaseRecords(engine),
        publisher=WebhookDispatcher(webhook_store(settings, engine), client, settings),
    )


def build_worker(
    client: Client, settings: Settings, activities: CaseActivities, engine: AsyncEngine
) -> Worker:
    """A worker for every case workflow and activity on the configured task queue (webhook
    deliveries have a worker of their own: ``build_webhook_worker``).

    On shutdown it lets running effect steps finish for ``DISPUTES_WORKER_SHUTDOWN_GRACE`` (a
    payout cut off mid-way would be sent again by the next worker); with a deployment name and
    build id set it takes part in worker versioning (docs/deployment.md)."""
    # Deliveries started on this queue before the webhook lane existed still finish here.
    webhooks = WebhookActivities(webhook_store(settings, engine), settings)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[*activities.all(), *webhooks.all()],
        interceptors=[EffectAttempts(settings.effect_alert_attempts)],
        graceful_shutdown_timeout=settings.worker_shutdown_grace,
        deployment_config=deployment(settings),
    )


def build_webhook_worker(client: Client, settings: Settings, engine: AsyncEngine) -> Worker:
    """The webhook lane: a worker of its own on ``settings.webhook_queue`` running at most
    ``DISPUTES_WEBHOOK_MAX_CONCURRENT_DELIVERIES`` deliveries at once, so receivers that are
    down or slow never take a slot that a refund, a care desk call or a clock needs. Run it
    beside ``build_worker`` in the same process (worker.py)."""
    webhooks = WebhookActivities(webhook_store(settings, engine), settings)
    return Worker(
        client,
        task_queue=settings.webhook_queue,
        workflows=[WebhookDeliveryWorkflow],
        activities=webhooks.all(),
        max_concurrent_activities=settings.webhook_max_concurrent_deliveries,
        # A POST in flight is bounded by the webhook timeout; letting it end avoids a duplicate.
        graceful_shutdown_timeout=settings.webhook_timeout,
        deployment_config=deployment(settings),
    )


def deployment(settings: Settings) -> WorkerDeploymentConfig | None:
    """Worker versioning, when ``DISPUTES_WORKER_DEPLOYMENT`` and ``DISPUTES_WORKER_BUILD_ID`` are set:
    every workflow is pinned to the build it started on unless a patch says otherwise."""
    if not (settings.worker_deployment and settings.worker_build_id):
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(
            deployment_name=settings.worker_deployment, build_id=settings.worker_build_id
        ),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )
