"""Service settings, read from ``DISPUTES_*`` environment variables (durations as ISO-8601)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self

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


class Settings(BaseSettings):
    """Everything configurable; the Temporal connection itself follows the SDK's TEMPORAL_* config."""

    model_config = SettingsConfigDict(env_prefix="DISPUTES_", extra="ignore")

    task_queue: str = "disputes"
    api_keys: dict[str, ApiKey] = Field(
        default={},
        repr=False,  # keys are secrets: never in logs or reprs
        description='JSON: {"<key>": {"name": "checkout", "role": "platform" | "care" | "admin"}}',
    )
    data_dir: Path = Field(default=Path("data"), description="local state: outbox, dev server db")
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
    def outbox_path(self) -> Path:
        """The SQLite file where the embedded adapters record every outside effect."""
        return self.data_dir / "outbox.sqlite3"

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
