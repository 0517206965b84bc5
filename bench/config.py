"""The benchmark's settings: flags (``--n 50``) or ``BENCH_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

RESULTS_DIR = Path(__file__).resolve().parent / "results"


class BenchSettings(BaseSettings):
    """How much load, how long to wait, and which parts to run."""

    model_config = SettingsConfigDict(env_prefix="BENCH_", extra="ignore")

    n: int = Field(default=200, ge=1, description="operations counted per throughput figure")
    concurrency: int = Field(default=32, ge=1, description="operations in flight at once")
    rounds: int = Field(default=3, ge=1, description="interleaved rounds of the table and latency figures")
    warmup: int = Field(default=20, ge=0, description="operations run before each figure, not counted")
    latency_samples: int = Field(default=200, ge=1, description="sequential actions per latency figure")
    settle: timedelta = Field(default=timedelta(seconds=1), description="pause before each figure")
    quiet_wait: timedelta = Field(
        default=timedelta(seconds=10),
        description="longest wait before a figure for other processes on the machine to calm down",
    )
    quiet_cores: float = Field(default=0.3, description="other processes' load (cores) that counts as calm")
    step_timeout: timedelta = Field(
        default=timedelta(seconds=120), description="longest wait for one step's effects"
    )
    effects_via: Literal["store", "api"] = Field(
        default="store",
        description="see a step's effects in the outbox file (one reader) or by polling GET .../effects",
    )
    poll_interval: timedelta = Field(default=timedelta(milliseconds=20), description="effects poll period")

    history_checkpoints: list[int] = Field(
        default=[10, 100, 1000], description="messages in one dispute at which its history is read"
    )
    history_text_chars: int = Field(default=500, ge=1, le=4000, description="characters per message")

    many_cases: list[int] = Field(default=[1000, 10000], description="disputes open at once, per part")
    skip_10k: bool = Field(default=False, description="leave out the many-cases parts of 10,000 or more")
    many_open_rate: float | None = Field(
        default=15.0,
        gt=0,
        description="opens per second in the many-cases parts (the issue measured at 15.6/s), so that"
        " timers fall due no faster than the stack carries out their effects; unset: as fast as the"
        " lanes go",
    )
    inactivity: timedelta | None = Field(
        default=None,
        description="DISPUTES_BUYER_INACTIVITY for the many-cases parts; unset: long enough for every"
        " case to be open before the first timer falls due, estimated from the measured open rate",
    )
    inactivity_min: timedelta = Field(
        default=timedelta(seconds=5), description="added to the estimated opening time"
    )
    timer_grace: timedelta = Field(
        default=timedelta(seconds=300), description="how long after the last due time to wait for timers"
    )
    timeline_sample: int = Field(default=100, ge=0, description="cases whose timeline is read for lateness")

    profile_rate: int = Field(default=50, ge=1, description="py-spy samples per second")
    sections: list[Literal["table", "latency", "history", "many", "profile", "help", "reads"]] = Field(
        default=["table", "latency", "history", "many", "profile", "help", "reads"],
        description="the parts to run",
    )
    results_dir: Path = Field(default=RESULTS_DIR, description="where the JSON results go")
    work_dir: Path | None = Field(default=None, description="where the stack keeps its files (temp)")

    def many_case_sizes(self) -> list[int]:
        """The many-cases parts to run."""
        return [size for size in self.many_cases if not (self.skip_10k and size >= 10_000)]


def smoke() -> BenchSettings:
    """A tiny run that checks the harness works, not the performance (``make test``)."""
    return BenchSettings(
        n=4,
        concurrency=2,
        rounds=1,
        warmup=1,
        latency_samples=3,
        settle=timedelta(0),
        quiet_wait=timedelta(0),
        history_checkpoints=[2, 4],
        history_text_chars=50,
        many_cases=[10, 20],
        inactivity=timedelta(seconds=2),
        timer_grace=timedelta(seconds=60),
        timeline_sample=3,
        sections=["table", "latency", "history", "many"],
    )
