"""Runs the service's Temporal worker until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from core.settings import get_settings
from core.temporal import build_worker, case_activities, connect


async def main() -> None:
    """Connect, poll the task queue, and shut down gracefully on a signal."""
    settings = get_settings()
    client = await connect()
    worker = build_worker(client, settings, case_activities(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    logging.info("worker polling task queue %r on %s", settings.task_queue, client.namespace)
    async with worker:
        await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main())
    # sdk-python#300: free the worker's native resources before interpreter exit, or the
    # process can abort in PyGILState_Release after a clean shutdown.
    gc.collect()
