"""Service settings, read from ``DISPUTES_*`` environment variables (durations as ISO-8601)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.ticket import TicketPolicy
from domain.types import HISTORY_BYTES_CEILING, HISTORY_EVENTS_CEILING, DisputePolicy, OptionalDuration

PAYLOAD_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: The durations of the clocks that act by themselves: an empty value turns one off.
_CLOCKS_THAT_ACT = (
    "seller_response",
    "shipment_window",
    "receipt_window",
    "care_decision_target",
    "care_decision_warning",
    "decision_appeal_window",
    "ticket_user_wait",
    "reminder_lead",
)


class KeyRole(StrEnum):
    """What an API key's holder is: a platform system, a care tool, a care supervisors' tool, or an
    administrator."""

    PLATFORM = "platform"
    CARE = "care"
    SUPERVISOR = "supervisor"
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
    owner: str | None = Field(
        default=None,
        description="the API key name that sees and manages it (configured ones: admin keys only when unset)",
    )


class Settings(BaseSettings):
    """Everything configurable; the Temporal connection itself follows the SDK's TEMPORAL_* config."""

    # Settings carry secrets (keys, tokens): a validation error names the field, never its value.
    model_config = SettingsConfigDict(env_prefix="DISPUTES_", extra="ignore", hide_input_in_errors=True)

    task_queue: str = "disputes"
    temporal_connect_timeout: timedelta = Field(
        default=timedelta(seconds=30), description="how long to keep trying while Temporal is starting up"
    )
    api_keys: dict[str, ApiKey] = Field(
        default={},
        repr=False,  # keys are secrets: never in logs or reprs
        description='JSON: {"<key>": {"name": "checkout", "role": "platform" | "care" | "supervisor"'
        ' | "admin"}}',
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
    # -- clocks that act by themselves (empty: off); copied into each case's policy at opening --
    seller_response: OptionalDuration = Field(
        default=timedelta(days=2), description="the seller's turn; when it passes care takes over"
    )
    shipment_window: OptionalDuration = Field(
        default=timedelta(days=3), description="for whoever must ship; when it passes care takes over"
    )
    receipt_window: OptionalDuration = Field(
        default=timedelta(days=3),
        description="after the last shipment; when it passes receipt is confirmed and the funds released",
    )
    care_decision_target: OptionalDuration = Field(
        default=timedelta(days=3), description="care owes a decision this long after the escalation"
    )
    care_decision_warning: OptionalDuration = Field(
        default=timedelta(days=2), description="care is warned this long after the escalation"
    )
    decision_appeal_window: OptionalDuration = Field(
        default=timedelta(days=2),
        description="care's decision may be appealed once this long, then it is final",
    )
    ticket_user_wait: OptionalDuration = Field(
        default=timedelta(days=7), description="a report waiting on the user is solved after this long"
    )
    reminder_lead: OptionalDuration = Field(
        default=timedelta(hours=24), description="a party is reminded this long before its window closes"
    )
    activity_timeout: timedelta = timedelta(seconds=30)
    activity_max_retry_interval: timedelta = timedelta(minutes=1)
    money_retry_window: timedelta = Field(
        default=timedelta(days=1), description="a refund or release is retried this long, then it parks"
    )
    care_desk_retry_window: timedelta = Field(
        default=timedelta(hours=12), description="a care desk call is retried this long, then it parks"
    )
    publish_retry_window: timedelta = Field(
        default=timedelta(days=1), description="handing out a change is retried this long, then it parks"
    )
    effect_alert_attempts: int = Field(
        default=5, ge=2, description="an effect step retried this often raises effect_attempts_over_threshold"
    )
    worker_shutdown_grace: timedelta = Field(
        default=timedelta(seconds=30),
        description="how long a stopping worker lets running effect steps finish",
    )
    worker_deployment: str | None = Field(default=None, description="worker versioning: the deployment name")
    worker_build_id: str | None = Field(default=None, description="worker versioning: this build's id")
    max_messages: int = Field(default=2000, ge=1, description="party messages one case accepts (409 above)")
    history_max_events: int = Field(
        default=10_000,
        ge=100,
        le=HISTORY_EVENTS_CEILING,  # twice it stays under Temporal's 51,200 events (domain/types.py)
        description="a case's run continues as new past this many history events",
    )
    history_max_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        le=HISTORY_BYTES_CEILING,  # twice it stays under Temporal's 50 MB
        description="... or past this many bytes of history",
    )

    read_timeout: timedelta = Field(
        default=timedelta(seconds=2),
        description="how long a read waits for an open case; then the store's last state (stale) or 503",
    )

    # -- limits --------------------------------------------------------------------------------
    max_body_bytes: int = Field(default=256 * 1024, description="largest JSON request body (413 above)")
    max_json_depth: int = Field(
        default=32, ge=2, description="deepest nesting of arrays and objects in a JSON body (422 above)"
    )
    action_timeout: timedelta = Field(
        default=timedelta(seconds=5),
        gt=timedelta(0),
        description="how long an action waits for its case to take it; then 503 with Retry-After",
    )
    rate_limit_per_second: float = Field(
        default=50.0, gt=0, description="requests per second per API key, sustained (per API replica)"
    )
    rate_limit_burst: int = Field(default=100, ge=1, description="requests per API key allowed at once")
    events_max_openings: int = Field(
        default=10, ge=0, description="cases one CloudEvents batch may open; later 'opened' events: limited"
    )

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
    webhook_retry_window: timedelta = Field(
        default=timedelta(days=3),
        description="a delivery is retried this long, then it becomes a dead letter",
    )
    webhook_disable_after: timedelta = Field(
        default=timedelta(days=3),
        description="a subscription whose every delivery failed for this long is disabled",
    )
    webhook_task_queue: str | None = Field(
        default=None, description="the delivery lane's task queue; unset: <task_queue>-webhooks"
    )
    webhook_max_concurrent_deliveries: int = Field(
        default=50, ge=1, description="deliveries one worker process runs at once (its webhook lane's slots)"
    )
    webhook_secret_overlap: timedelta = Field(
        default=timedelta(days=1),
        description="how long a rotated secret still signs, unless the request says",
    )
    webhook_secret_max_overlap: timedelta = Field(
        default=timedelta(days=7), description="the longest overlap a rotation may ask for"
    )
    webhook_allow_private_hosts: bool = Field(
        default=False,
        description="deliver to loopback / private / link-local addresses (make run allows it locally)",
    )
    effects: Literal["outbox", "http"] = Field(
        default="outbox", description="record effects in the local outbox, or POST them to the platform"
    )
    effects_base_url: str | None = Field(default=None, description="the platform's effect endpoints (http)")
    effects_signing_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="HMAC key signing every effect request (required with effects=http)",
    )
    effects_bearer_token: SecretStr | None = Field(
        default=None, description="sent as Authorization: Bearer on every effect request"
    )

    # -- payload encryption and the codec server -----------------------------------------------
    payload_keys: dict[str, str] = Field(
        default={},
        repr=False,
        description='JSON {"<key id>": "<base64 of 32 random bytes>"}: AES-256-GCM keys, the first encrypts',
    )
    codec_ui_origin: str | None = Field(
        default=None, description="the Temporal Web UI's origin, allowed by CORS to call /codec"
    )

    # -- observability -------------------------------------------------------------------------
    worker_metrics_port: int | None = Field(default=9464, description="the worker's Prometheus /metrics")
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="the interface the worker's metrics bind (compose: 0.0.0.0)"
    )
    otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP traces endpoint; unset: off")
    log_format: Literal["json", "text"] = "json"

    @field_validator(*_CLOCKS_THAT_ACT, mode="before")
    @classmethod
    def _empty_turns_a_clock_off(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("payload_keys")
    @classmethod
    def _payload_keys_are_aes_256(cls, keys: dict[str, str]) -> dict[str, str]:
        for key_id, value in keys.items():
            if not PAYLOAD_KEY_ID.fullmatch(key_id):
                raise ValueError(f"payload key id {key_id!r} must match {PAYLOAD_KEY_ID.pattern}")
            try:
                size = len(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                raise ValueError(f"payload key {key_id!r} is not base64") from None
            if size != 32:
                raise ValueError(f"payload key {key_id!r} must be 32 bytes (AES-256), not {size}")
        return keys

    def payload_key_bytes(self) -> dict[str, bytes]:
        """The payload keys decoded, in their configured order (the first encrypts)."""
        return {key_id: base64.b64decode(value) for key_id, value in self.payload_keys.items()}

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
            user_wait=self.ticket_user_wait,
            **self._case_limits(),
        )

    def _case_limits(self) -> dict[str, object]:
        return {
            "activity_timeout": self.activity_timeout,
            "activity_max_retry_interval": self.activity_max_retry_interval,
            "money_retry_window": self.money_retry_window,
            "care_desk_retry_window": self.care_desk_retry_window,
            "publish_retry_window": self.publish_retry_window,
            "max_messages": self.max_messages,
            "history_max_events": self.history_max_events,
            "history_max_bytes": self.history_max_bytes,
            # With encrypted payloads, free text stays out of Temporal's plain metadata too.
            "redact_details": bool(self.payload_keys),
            "reminder_lead": self.reminder_lead,
        }

    @property
    def store_url(self) -> str:
        """The service database's URL: ``database_url``, or the embedded SQLite file in ``data_dir``."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'service.sqlite3'}"

    @property
    def webhook_queue(self) -> str:
        """The task queue of webhook deliveries, apart from the cases' so dead receivers take no
        slot a refund or a clock needs."""
        return self.webhook_task_queue or f"{self.task_queue}-webhooks"

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
            seller_response=self.seller_response,
            shipment_window=self.shipment_window,
            receipt_window=self.receipt_window,
            care_decision_target=self.care_decision_target,
            care_decision_warning=self.care_decision_warning,
            decision_appeal_window=self.decision_appeal_window,
            **self._case_limits(),
        )


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once; tests override the API dependency instead."""
    return Settings()
