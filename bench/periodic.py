"""A task that runs one step every interval in the background, between ``start`` and ``stop``."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod


class Periodic(ABC):
    """Runs ``tick`` every ``interval`` seconds from ``start`` until ``stop``."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def tick(self) -> None:
        """One step."""

    def start(self) -> None:
        """Start ticking."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop ticking (a step under way is cancelled)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self.interval)
