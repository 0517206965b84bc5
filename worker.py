"""Runs the service's Temporal workers (cases, and the webhook delivery lane) until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from core.observability import configure_logging, setup_tracing, worker_runtime
from core.settings import get_settings
from store.db import database
from wiring.temporal import build_webhook_worker, build_worker, case_activities, connect

log = logging.getLogger("worker")


async def main() -> None:
    """Connect, poll the case and webhook task queues, and shut down gracefully on a signal."""
    settings = get_settings()
    configure_logging(settings)
    setup_tracing(settings)
    client = await connect(runtime=worker_runtime(settings), settings=settings)
    # The service database (migrated first when embedded); its connections close on the way out.
    async with database(settings) as engine:
        worker = build_worker(client, settings, case_activities(settings, client, engine), engine)
        webhook_worker = build_webhook_worker(client, settings, engine)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "worker polling",
            extra={
                "task_queue": settings.task_queue,
                "webhook_task_queue": settings.webhook_queue,
                "namespace": client.namespace,
                "metrics": f":{settings.worker_metrics_port}/metrics"
                if settings.worker_metrics_port
                else None,
            },
        )
        async with worker, webhook_worker:
            await stop.wait()
            # Both stop at once: a stop grace period covers the longer of the two, not their sum.
            await asyncio.gather(worker.shutdown(), webhook_worker.shutdown())


if __name__ == "__main__":
    asyncio.run(main())
    # sdk-python#300: free the worker's native resources before interpreter exit, or the
    # process can abort in PyGILState_Release after a clean shutdown.
    gc.collect()
