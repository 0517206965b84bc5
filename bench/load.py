"""Driving load: lanes of sequential operations, their latencies, and waiting for effects."""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench import service
from bench.periodic import Periodic


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float], scale: float = 1.0) -> dict[str, float]:
    """p50 / p95 / p99 / max of ``values`` times ``scale`` (e.g. 1000 for milliseconds)."""
    return {
        "p50": round(percentile(values, 50) * scale, 2),
        "p95": round(percentile(values, 95) * scale, 2),
        "p99": round(percentile(values, 99) * scale, 2),
        "max": round(max(values) * scale, 2) if values else math.nan,
    }


@dataclass
class LoadResult:
    """How ``n`` operations went: wall time, successes, errors and each one's latency."""

    n: int
    seconds: float
    latencies: list[float]
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        """Operations that succeeded."""
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Successful operations per second of wall time."""
        return self.ok / self.seconds if self.seconds > 0 else 0.0


Operation = Callable[[int, int], Awaitable[Any]]


async def run_lanes(n: int, concurrency: int, operation: Operation) -> LoadResult:
    """Run ``operation(lane, i)`` for i in 0..n-1 on ``concurrency`` lanes; each lane runs its
    operations one after another, so a lane can own a target (one workflow per lane)."""
    next_index = 0
    latencies: list[float] = []
    errors: list[str] = []

    async def lane(number: int) -> None:
        nonlocal next_index
        while next_index < n:
            index = next_index
            next_index += 1
            began = time.monotonic()
            try:
                await operation(number, index)
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}"[:300])
            else:
                latencies.append(time.monotonic() - began)

    began = time.monotonic()
    await asyncio.gather(*(lane(number) for number in range(min(concurrency, n))))
    return LoadResult(n=n, seconds=time.monotonic() - began, latencies=latencies, errors=errors)


class EffectWatcher(Periodic):
    """Follows the service's outbox in the background: how many effects each case has, and
    when each was recorded; waiters are told as soon as a case reaches a count."""

    def __init__(self, store: service.EffectStore, interval: float) -> None:
        super().__init__(interval)
        self.store = store
        self.counts: dict[str, int] = defaultdict(int)
        self.recorded: dict[str, list[datetime]] = defaultdict(list)
        self._seq = 0
        self._waiters: dict[str, list[tuple[int, asyncio.Future[None]]]] = defaultdict(list)

    async def stop(self) -> None:
        """Stop following the outbox and release the store."""
        await super().stop()
        await self.store.close()

    async def tick(self) -> None:
        """Read what was recorded since the last poll and wake the waiters it satisfies."""
        for row in await self.store.after(self._seq):
            self._seq = row.seq
            self.counts[row.case_id] += 1
            self.recorded[row.case_id].append(row.created_at)
            waiting = self._waiters.get(row.case_id)
            if not waiting:
                continue
            for entry in list(waiting):
                count, future = entry
                if self.counts[row.case_id] >= count:
                    waiting.remove(entry)
                    if not future.done():
                        future.set_result(None)

    async def wait(self, case_id: str, count: int, within: float) -> None:
        """Return once ``case_id`` has at least ``count`` effects; TimeoutError after ``within`` s."""
        if self.counts[case_id] >= count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (count, future)
        self._waiters[case_id].append(entry)
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError:
            raise TimeoutError(
                f"{case_id} has {self.counts[case_id]} effects, not {count}, after {within:.0f}s"
            ) from None
        finally:
            if entry in self._waiters[case_id]:
                self._waiters[case_id].remove(entry)
