"""Runs the service's Temporal workers until SIGINT or SIGTERM: the cases' worker, the webhook
lane's, or both (``python worker.py --role cases|webhooks|all``)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Literal

from temporalio.worker import Worker

from core.observability import configure_logging, setup_tracing, worker_runtime
from core.settings import get_settings
from store.db import database
from wiring.temporal import build_webhook_worker, build_worker, case_activities, connect

log = logging.getLogger("worker")

Role = Literal["cases", "webhooks", "all"]
ROLES: tuple[Role, ...] = ("cases", "webhooks", "all")


def role_of(argv: Sequence[str] | None = None) -> Role:
    """The ``--role`` asked for: ``all`` (both workers in this process) unless told otherwise;
    ``make run`` and compose run ``cases`` and ``webhooks`` as two processes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="cases: disputes and help-center reports; webhooks: webhook fan-out and deliveries",
    )
    role: Role = parser.parse_args(argv).role
    return role


async def main(role: Role = "all") -> None:
    """Connect, poll the role's task queues, and shut down gracefully on a signal."""
    settings = get_settings()
    configure_logging(settings)
    setup_tracing(settings)
    client = await connect(runtime=worker_runtime(settings), settings=settings)
    # The service database (migrated first when embedded); its connections close on the way out.
    async with database(settings) as engine:
        workers: list[Worker] = []
        if role in ("cases", "all"):
            workers.append(build_worker(client, settings, case_activities(settings, client, engine), engine))
        if role in ("webhooks", "all"):
            workers.append(build_webhook_worker(client, settings, engine))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "worker polling",
            extra={
                "role": role,
                "task_queues": [w.task_queue for w in workers],
                "namespace": client.namespace,
                "metrics": f":{settings.worker_metrics_port}/metrics"
                if settings.worker_metrics_port
                else None,
            },
        )
        async with AsyncExitStack() as running:
            for worker in workers:
                await running.enter_async_context(worker)
            await stop.wait()
            # All stop at once: a stop grace period covers the longest of them, not their sum.
            await asyncio.gather(*(worker.shutdown() for worker in workers))


if __name__ == "__main__":
    asyncio.run(main(role_of()))
    # sdk-python#300: free the worker's native resources before interpreter exit, or the
    # process can abort in PyGILState_Release after a clean shutdown.
    gc.collect()
