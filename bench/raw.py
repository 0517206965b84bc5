"""Raw Temporal ceilings: a minimal workflow, and "the same work" (one activity) as open and update.

Run as ``python -m bench.raw --address HOST:PORT --task-queue Q --store FILE``: a worker process
of its own, as the service's worker is, so both sides are measured the same way. The activity
records one row in a SQLite file per call (connect, insert, commit), as the service's outbox
activity does, so "the same work" includes the same kind of write.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import aiosqlite

RAW_TIMEOUT = timedelta(seconds=30)


@dataclass
class RawInput:
    """What a raw workflow does: run one activity first, and stay open for updates until closed."""

    activity: bool = False
    stay_open: bool = False


class RawActivities:
    """The one activity of "the same work": a durable row per call in a SQLite file."""

    def __init__(self, store: Path) -> None:
        self.store = store

    @activity.defn(name="raw_record")
    async def record(self, key: str) -> None:
        """Insert one row for ``key`` (ignored when it exists, so a retry is harmless)."""
        async with aiosqlite.connect(self.store, timeout=30) as db:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, at TEXT NOT NULL)")
            await db.execute(
                "INSERT OR IGNORE INTO effects (key, at) VALUES (?, ?)", (key, datetime.now(UTC).isoformat())
            )
            await db.commit()


@workflow.defn(name="RawWorkflow")
class RawWorkflow:
    """A minimal workflow; optionally one activity, optionally open for updates until ``close``."""

    def __init__(self) -> None:
        self._closed = False
        self._steps = 0

    @workflow.run
    async def run(self, request: RawInput) -> int:
        """Do the requested work and return how many updates were handled."""
        if request.activity:
            await self._work("open")
        if request.stay_open:
            await workflow.wait_condition(lambda: self._closed)
            await workflow.wait_condition(workflow.all_handlers_finished)
        return self._steps

    async def _work(self, step: str) -> None:
        await workflow.execute_activity_method(
            RawActivities.record, f"{workflow.info().workflow_id}:{step}", start_to_close_timeout=RAW_TIMEOUT
        )

    @workflow.update
    def ping(self) -> int:
        """The minimal update: count and answer."""
        self._steps += 1
        return self._steps

    @workflow.update
    async def work(self) -> int:
        """An update that runs one activity and answers when it is done."""
        self._steps += 1
        step = self._steps
        await self._work(f"update-{step}")
        return step

    @workflow.signal
    def close(self) -> None:
        """Let the workflow complete."""
        self._closed = True


async def serve(address: str, task_queue: str, store: Path) -> None:
    """Poll ``task_queue`` with the raw workflow and activity until SIGINT or SIGTERM."""
    from temporalio.client import Client
    from temporalio.worker import Worker

    from wiring.temporal import patiently

    client = await patiently(lambda: Client.connect(address), timedelta(seconds=60))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[RawWorkflow],
        activities=[RawActivities(store).record],
    ):
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--store", required=True, type=Path)
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.address, arguments.task_queue, arguments.store))
    gc.collect()  # sdk-python#300
