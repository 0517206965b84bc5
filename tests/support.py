"""Helpers for end-to-end tests: the API and a worker served for real, and polling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.settings import Settings
from core.temporal import build_worker, case_activities


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 15) -> Any:
    """Poll ``check`` until it returns something truthy (workflows move on after an update returns)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {seconds}s")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def serving(settings: Settings, env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    """The worker plus the API on an ephemeral port, and an HTTP client pointed at it."""
    app = create_app(settings, client=env.client)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    worker = build_worker(env.client, settings, case_activities(settings))
    try:
        async with worker, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        await serving
