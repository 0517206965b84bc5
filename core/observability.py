"""Logs, metrics and traces, set up once per process from the settings."""

from __future__ import annotations

import logging
import sys
from typing import Any

import temporalio.activity
import temporalio.workflow
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from pythonjsonlogger.json import JsonFormatter
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput
from temporalio.worker import Interceptor as WorkerInterceptor

from core.settings import Settings

#: Loggers held at WARNING whatever the root level: httpx logs each request's URL at INFO,
#: httpcore the address it connects to and aiosqlite each statement's parameters (subscription
#: URLs and secrets among them) at DEBUG.
QUIET_LOGGERS = ("httpx", "httpcore", "aiosqlite")


class CaseContext(logging.Filter):
    """Lift the workflow id out of the SDK's ``temporal_workflow`` / ``temporal_activity`` log
    extras into ``workflow_id`` and ``case_id`` fields (a case's id is its workflow id)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for extra in ("temporal_workflow", "temporal_activity"):
            context = getattr(record, extra, None)
            if isinstance(context, dict) and context.get("workflow_id"):
                record.workflow_id = context["workflow_id"]
                record.case_id = getattr(record, "case_id", None) or context["workflow_id"]
        return True


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """One handler on the root logger: JSON lines (or plain text) with the case context."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(CaseContext())
    # The SDK appends its context dict to workflow and activity messages; as JSON fields it is
    # already there (see CaseContext), so keep the message itself readable.
    temporalio.workflow.logger.workflow_info_on_message = settings.log_format != "json"
    temporalio.activity.logger.activity_info_on_message = settings.log_format != "json"
    root = logging.getLogger()
    for existing in [h for h in root.handlers if getattr(h, "_disputes", False)]:
        root.removeHandler(existing)
    handler._disputes = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # A webhook URL can carry a token in its query, and the SSRF guard puts the checked address
    # in the URL it sends: webhook logs name the subscription instead (activities/webhooks.py).
    for chatty in QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return handler


_tracing_ready = False


def setup_tracing(settings: Settings, exporter: SpanExporter | None = None) -> bool:
    """Install the global tracer provider when an OTLP endpoint is set (or an exporter is given,
    as tests do); returns whether tracing is on. Safe to call more than once."""
    global _tracing_ready
    if _tracing_ready:
        return True
    if exporter is None and not settings.otlp_endpoint:
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": "marketplace-disputes"}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _tracing_ready = True
    return True


def tracing_on() -> bool:
    """Whether ``setup_tracing`` installed a provider in this process."""
    return _tracing_ready


def client_interceptors() -> list[Interceptor]:
    """The SDK's tracing interceptor when tracing is on: spans for starts, updates, signals,
    workflow runs and activities, joined to the caller's trace through Temporal headers."""
    return [TracingInterceptor()] if _tracing_ready else []


def metrics_bind_address(settings: Settings) -> str | None:
    """``host:port`` the worker's Prometheus endpoint binds (loopback unless
    ``DISPUTES_WORKER_METRICS_HOST`` says otherwise); None when the port is unset."""
    if settings.worker_metrics_port is None:
        return None
    host = settings.worker_metrics_host
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{host}:{settings.worker_metrics_port}"


def worker_runtime(settings: Settings) -> Runtime | None:
    """A runtime whose Prometheus endpoint serves the SDK's metrics and the workflows' business
    metrics (``http://<DISPUTES_WORKER_METRICS_HOST>:<DISPUTES_WORKER_METRICS_PORT>/metrics``);
    None when the port is unset."""
    address = metrics_bind_address(settings)
    if address is None:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


class EffectAttempts(WorkerInterceptor):
    """Counts effect steps retried past a threshold (``effect_attempts_over_threshold{activity}``,
    and a warning in the log), the alert before an effect runs out of retries and parks."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountAttempts(next, self.threshold)


class _CountAttempts(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, threshold: int) -> None:
        super().__init__(next)
        self.threshold = threshold

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = temporalio.activity.info()
        if info.attempt >= self.threshold:
            temporalio.activity.metric_meter().create_counter(
                "effect_attempts_over_threshold", "Effect steps retried past the alert threshold"
            ).add(1, {"activity": info.activity_type})
            temporalio.activity.logger.warning(
                "%s attempt %d (alert threshold %d)", info.activity_type, info.attempt, self.threshold
            )
        return await self.next.execute_activity(input)
