"""Service settings, read from ``DISPUTES_*`` environment variables (durations as ISO-8601)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.ticket import TicketPolicy
from domain.types import DisputePolicy


class KeyRole(StrEnum):
    """What an API key's holder is: a platform system, a care tool, or an administrator."""

    PLATFORM = "platform"
    CARE = "care"
    ADMIN = "admin"


class ApiKey(BaseModel):
    """Who holds an API key."""

    name: str
    role: KeyRole


class WebhookSubscription(BaseModel):
    """Where to deliver which events, signed with which secret."""

    id: str
    url: str
    secret: str = Field(repr=False)
    event_types: list[str] = Field(default=["*"], description="event types, or '*' for all")


class Settings(BaseSettings):
    """Everything configurable; the Temporal connection itself follows the SDK's TEMPORAL_* config."""

    model_config = SettingsConfigDict(env_prefix="DISPUTES_", extra="ignore")

    task_queue: str = "disputes"
    api_keys: dict[str, ApiKey] = Field(
        default={},
        repr=False,  # keys are secrets: never in logs or reprs
        description='JSON: {"<key>": {"name": "checkout", "role": "platform" | "care" | "admin"}}',
    )
    data_dir: Path = Field(
        default=Path("data"), description="local state: the embedded service database, dev server db"
    )
    database_url: str | None = Field(
        default=None,
        repr=False,  # may carry a password
        description="the service's own database (SQLAlchemy URL), e.g. postgresql+psycopg://user:pw@host/db;"
        " unset: SQLite in <data_dir>/service.sqlite3, migrated at start-up",
    )
    database_pool_size: int = Field(default=5, ge=1, description="connections each process keeps open")
    database_timeout: timedelta = Field(
        default=timedelta(seconds=30), description="longest wait for a database connection or lock"
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    dev_server_port: int = Field(default=7233, description="make run's local Temporal frontend")
    dev_ui_port: int = Field(default=8233, description="make run's local Temporal Web UI")

    buyer_inactivity: timedelta = timedelta(days=3)
    care_reply_target: timedelta = timedelta(hours=24)
    care_reply_warning: timedelta = timedelta(hours=20)
    ticket_quiet_period: timedelta = Field(
        default=timedelta(days=3), description="a solved help-center report closes after this quiet period"
    )
    activity_timeout: timedelta = timedelta(seconds=30)
    activity_max_retry_interval: timedelta = timedelta(minutes=1)

    # -- limits --------------------------------------------------------------------------------
    max_body_bytes: int = Field(default=256 * 1024, description="largest JSON request body (413 above)")

    # -- evidence uploads ----------------------------------------------------------------------
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, description="largest evidence file (413)")
    blob_store: Literal["local", "s3"] = Field(default="local", description="where evidence files go")
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = Field(default=None, description="for S3-compatible stores (MinIO, ...)")
    s3_region: str | None = None
    evidence_dir: Path | None = Field(
        default=None,
        description="the local blob store's folder (shared by every host); unset: <data_dir>/evidence",
    )

    # -- outbound: webhooks and effect adapters ------------------------------------------------
    webhooks: list[WebhookSubscription] = Field(
        default=[], repr=False, description="JSON list of subscriptions: url, secret, event types"
    )
    webhook_timeout: timedelta = timedelta(seconds=10)
    webhook_max_retry_interval: timedelta = timedelta(minutes=5)
    webhook_allow_private_hosts: bool = Field(
        default=False,
        description="deliver to loopback / private / link-local addresses (make run allows it locally)",
    )
    effects: Literal["outbox", "http"] = Field(
        default="outbox", description="record effects in the local outbox, or POST them to the platform"
    )
    effects_base_url: str | None = Field(default=None, description="the platform's effect endpoints (http)")

    # -- observability -------------------------------------------------------------------------
    worker_metrics_port: int | None = Field(default=9464, description="the worker's Prometheus /metrics")
    otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP traces endpoint; unset: off")
    log_format: Literal["json", "text"] = "json"

    @model_validator(mode="after")
    def _policy_is_consistent(self) -> Self:
        self.dispute_policy()  # fail at start-up, not when the first dispute opens
        return self

    def ticket_policy(self) -> TicketPolicy:
        """The durations a help-center report filed now runs under."""
        return TicketPolicy(
            care_reply_target=self.care_reply_target,
            care_reply_warning=self.care_reply_warning,
            solved_quiet_period=self.ticket_quiet_period,
            activity_timeout=self.activity_timeout,
            activity_max_retry_interval=self.activity_max_retry_interval,
        )

    @property
    def store_url(self) -> str:
        """The service database's URL: ``database_url``, or the embedded SQLite file in ``data_dir``."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'service.sqlite3'}"

    @property
    def evidence_path(self) -> Path:
        """The folder of the local blob store."""
        return self.evidence_dir or self.data_dir / "evidence"

    def dispute_policy(self) -> DisputePolicy:
        """The durations a dispute opened now runs under (validated together)."""
        return DisputePolicy(
            buyer_inactivity=self.buyer_inactivity,
            care_reply_target=self.care_reply_target,
            care_reply_warning=self.care_reply_warning,
            activity_timeout=self.activity_timeout,
            activity_max_retry_interval=self.activity_max_retry_interval,
        )


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once; tests override the API dependency instead."""
    return Settings()
