"""Service settings, read from ``DISPUTES_*`` environment variables (durations as ISO-8601)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.care import ANY as ANY_ROUTE
from domain.care import known_groups
from domain.dispute import Reason
from domain.ticket import TicketPolicy, TicketTopic
from domain.types import (
    HISTORY_BYTES_CEILING,
    HISTORY_EVENTS_CEILING,
    CasePolicy,
    DisputePolicy,
    Identifier,
    OptionalDuration,
    ReplyPolicy,
)

PAYLOAD_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: The payload keys' file in the data folder, read when DISPUTES_PAYLOAD_KEYS is unset (make run
#: and compose create it: ``python -m core.codec``).
PAYLOAD_KEYS_FILE = "payload-keys.json"
#: The clocks that act by themselves at their length for cases opened now (a policy stored before a
#: clock existed has it off, which is the policy's own default). An empty value turns one off.
#: ``windows_from_delivery`` is the one switch among them: on for disputes opened now, off (the
#: policy's default) for those opened before delivery events existed.
FOR_NEW_CASES: dict[str, timedelta | bool] = {
    "seller_response": timedelta(days=2),
    "shipment_window": timedelta(days=3),
    "receipt_window": timedelta(days=3),
    "care_decision_target": timedelta(days=3),
    "care_decision_warning": timedelta(days=2),
    "decision_appeal_window": timedelta(days=2),
    "reminder_lead": timedelta(hours=24),
    "ticket_user_wait": timedelta(days=7),
    "return_inspection_window": timedelta(days=2),
    "return_transit_window": timedelta(days=14),
    "windows_from_delivery": True,
}
#: The care group a case moves to when a care target is missed, for cases opened now.
SUPERVISORS_GROUP = "supervisors"
#: A report's policy fields that the settings name after the report.
_TICKET_NAMES = {"solved_quiet_period": "ticket_quiet_period", "user_wait": "ticket_user_wait"}


def _setting(policy: type[BaseModel], name: str, **overrides: Any) -> Any:
    """A policy field as a setting: its constraints, description and default as the policy declares them."""
    declared = policy.model_fields[name]
    return FieldInfo.merge_field_infos(declared, annotation=declared.annotation, **overrides)


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


class Settings(BaseSettings, DisputePolicy):
    """Everything configurable; the Temporal connection itself follows the SDK's TEMPORAL_* config.

    The durations and limits of the cases opened now are the dispute policy's own fields (declared
    once, in domain/types.py) with the clocks that act on (``FOR_NEW_CASES``), and a report's two
    clocks of its own; each is copied into a case when it opens."""

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

    # -- a report's own clocks: the ticket policy's, under names that say they are the report's --
    # -- the policy's turn_inactivity keeps the setting's first name, DISPUTES_BUYER_INACTIVITY --
    turn_inactivity: timedelta = _setting(
        DisputePolicy, "turn_inactivity", validation_alias=AliasChoices("disputes_buyer_inactivity")
    )
    ticket_quiet_period: timedelta = _setting(TicketPolicy, "solved_quiet_period")
    ticket_user_wait: OptionalDuration = _setting(TicketPolicy, "user_wait")

    # -- care ownership (domain/care.py): the policy's groups and routing; cases opened now move
    # -- to the supervisors' group when a care target is missed (cases opened before stay put) --
    care_supervisors_group: Identifier | None = _setting(
        CasePolicy, "care_supervisors_group", default=SUPERVISORS_GROUP
    )

    help_deflection_window: timedelta = Field(
        default=timedelta(days=1),
        description="a user who opened a Help Center article and filed no report this long after: deflected",
    )
    help_metrics_interval: timedelta = Field(
        default=timedelta(seconds=60), description="how often the API refreshes the Help Center's gauges"
    )
    help_search_cache_size: int = Field(
        default=2000, ge=0, description="Help Center searches kept per API process"
    )
    help_search_cache_recheck: timedelta = Field(
        default=timedelta(seconds=1),
        description="a cached search sees another process's article write this soon",
    )
    help_search_cache_max_age: timedelta = Field(
        default=timedelta(minutes=5), description="the oldest a cached Help Center search result may be"
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

    read_timeout: timedelta = Field(
        default=timedelta(seconds=2),
        description="how long opening a case another request is opening waits for its first row; then 503",
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
    anonymous_rate_limit_per_second: float = Field(
        default=1.0,
        gt=0,
        description="requests per second per client address without a valid key (401s), sustained",
    )
    anonymous_rate_limit_burst: int = Field(
        default=20, ge=1, description="requests per client address without a valid key allowed at once"
    )
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
    webhook_max_subscriptions: int = Field(
        default=25, ge=1, description="subscriptions one API key may add (the next one is refused with 409)"
    )
    webhook_secret_overlap: timedelta = Field(
        default=timedelta(days=1),
        description="how long a rotated secret still signs, unless the request says",
    )
    webhook_secret_max_overlap: timedelta = Field(
        default=timedelta(days=7), description="the longest overlap a rotation may ask for"
    )
    event_retention: timedelta = Field(
        default=timedelta(days=30),
        gt=timedelta(0),
        description="how long GET /v1/case-events keeps an event (ISO 8601 duration); older ones are pruned",
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
        description='JSON {"<key id>": "<base64 of 32 random bytes>"}: AES-256-GCM keys, the first encrypts;'
        " unset: those of <data_dir>/payload-keys.json when it exists",
    )
    codec_ui_origin: str | None = Field(
        default=None, description="the Temporal Web UI's origin, allowed by CORS to call /codec"
    )
    codec_ui_token: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="the secret in the codec endpoint the Web UI is given, /codec/ui/<token>"
        " (make run makes one per start); unset: admin API keys only",
    )

    # -- observability -------------------------------------------------------------------------
    worker_metrics_port: int | None = Field(default=9464, description="the worker's Prometheus /metrics")
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="the interface the worker's metrics bind (compose: 0.0.0.0)"
    )
    otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP traces endpoint; unset: off")
    log_format: Literal["json", "text"] = "json"

    @model_validator(mode="before")
    @classmethod
    def _defaults_for_new_cases(cls, data: object) -> object:
        if isinstance(data, dict):
            data = {**FOR_NEW_CASES, **data}
        return data

    @field_validator(*(name for name, value in FOR_NEW_CASES.items() if value is not True), mode="before")
    @classmethod
    def _empty_turns_a_clock_off(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("return_inspection_window")
    @classmethod
    def _returns_are_inspected(cls, value: timedelta | None) -> timedelta | None:
        # A dispute's policy without the window is one opened before returns existed.
        if value is None:
            raise ValueError("return_inspection_window cannot be turned off (RETURN_AND_REFUND needs it)")
        return value

    @field_validator("care_calendar")
    @classmethod
    def _calendar_of_a_known_country(cls, value: Any) -> Any:
        return None if value is None else value.checked()

    @field_validator("care_supervisors_group", mode="before")
    @classmethod
    def _empty_keeps_cases_where_they_are(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("history_max_events", "history_max_bytes")
    @classmethod
    def _history_bounds_under_temporals_limits(cls, value: int, info: ValidationInfo) -> int:
        # Twice a bound (the engine's escape hatch) must stay under Temporal's own hard limits
        # (domain/types.py); the policy itself has no upper bound so recorded inputs still decode.
        ceiling = HISTORY_EVENTS_CEILING if info.field_name == "history_max_events" else HISTORY_BYTES_CEILING
        if value > ceiling:
            raise ValueError(
                f"{info.field_name} must be at most {ceiling} (twice it stays under Temporal's limit)"
            )
        return value

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

    @model_validator(mode="after")
    def _care_routing_names_known_groups(self) -> Self:
        """Every routing rule names a report topic or a dispute reason (or ``*``) and a group."""
        keys = {ANY_ROUTE, *TicketTopic, *Reason}
        groups = known_groups(self)
        for key, group in self.care_routing.items():
            if key not in keys:
                raise ValueError(f"care_routing: {key!r} is no report topic or dispute reason (nor '*')")
            if group not in groups:
                raise ValueError(f"care_routing: {key!r} goes to {group!r}, which is not in care_groups")
        return self

    @model_validator(mode="after")
    def _payload_keys_from_the_data_folder(self) -> Self:
        """Without DISPUTES_PAYLOAD_KEYS, the keys of the data folder's file: the one place every
        process (API, worker, ``make replay-check``) learns them, so none of them reads the
        ciphertext of a ``make run`` or compose stack without its keys."""
        if "payload_keys" not in self.model_fields_set:  # DISPUTES_PAYLOAD_KEYS={} turns encryption off
            path = self.data_dir / PAYLOAD_KEYS_FILE
            if path.is_file():
                try:
                    keys = json.loads(path.read_text())
                except (OSError, ValueError) as error:
                    raise ValueError(f"{path} is not a JSON object of payload keys ({error})") from None
                if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
                    raise ValueError(f"{path} is not a JSON object of payload keys")
                try:
                    self.payload_keys = self._payload_keys_are_aes_256(keys)
                except ValueError as error:
                    raise ValueError(f"{path}: {error}") from None
        return self

    def payload_key_bytes(self) -> dict[str, bytes]:
        """The payload keys decoded, in their configured order (the first encrypts)."""
        return {key_id: base64.b64decode(value) for key_id, value in self.payload_keys.items()}

    @model_validator(mode="after")
    def _encrypted_payloads_are_redacted(self) -> Self:
        # Runs after the keys are known (set, or read from the data folder): with encrypted
        # payloads, free text stays out of Temporal's plain metadata too, unless set explicitly.
        if "redact_details" not in self.model_fields_set:
            self.redact_details = bool(self.payload_keys)
        if self.payload_keys and not self.redact_details:
            raise ValueError(
                "redact_details cannot be off while payloads are encrypted (DISPUTES_PAYLOAD_KEYS)"
            )
        return self

    def dispute_policy(self) -> DisputePolicy:
        """The durations a dispute opened now runs under (the settings' own policy fields)."""
        policy = DisputePolicy.model_validate(self.model_dump(include=set(DisputePolicy.model_fields)))
        return _opened_now(policy)

    def ticket_policy(self) -> TicketPolicy:
        """The durations a help-center report filed now runs under."""
        fields = self.model_dump(include=set(CasePolicy.model_fields))
        for field, setting in _TICKET_NAMES.items():
            fields[field] = getattr(self, setting)
        return _opened_now(TicketPolicy.model_validate(fields))

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


PolicyT = TypeVar("PolicyT", bound=ReplyPolicy)


def _opened_now(policy: PolicyT) -> PolicyT:
    """``policy`` as a case opened now carries it: its calendar with the public holidays of this
    year and the next ones listed, so the case keeps them whatever the library learns later."""
    calendar = policy.care_calendar
    if calendar is None:
        return policy
    year = datetime.now(UTC).year
    return policy.model_copy(update={"care_calendar": calendar.for_cases_opened(year)})


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once; tests override the API dependency instead."""
    return Settings()


def env_name(field: str) -> str:
    """The environment variable the setting ``field`` is read from."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0]).upper()
    return f"DISPUTES_{field.upper()}"
