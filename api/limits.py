"""Request limits: 413 before an oversized body is read, whatever its framing; 429 per API key."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import CallerDep
from api.problems import Problem, response_for
from core.settings import Settings


class BodyLimit:
    """Refuse JSON bodies above ``max_bytes`` (413); uploads under ``exempt`` enforce their own."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ("/v1/evidence",)) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await response_for(self._problem())(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # a chunked body with no length that keeps growing
                    raise HTTPException(413, self._problem().detail)
            return message

        await self.app(scope, counted, send)

    def _problem(self) -> Problem:
        return Problem(413, "Content too large", f"the request body is larger than {self.max_bytes} bytes")


class TokenBucket:
    """Per-key token buckets, in this process: ``rate`` requests per second sustained, ``burst`` at once.

    Each API replica keeps its own buckets, so N replicas behind a load balancer allow up to N
    times the rate per key."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key name → (tokens, at)

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0 when allowed, else the seconds until one is available."""
        now = self.clock()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate


def install_rate_limit(app: FastAPI, settings: Settings) -> None:
    """One token bucket set for this app (this replica), read by ``rate_limited``."""
    app.state.rate_limit = TokenBucket(settings.rate_limit_per_second, settings.rate_limit_burst)


async def rate_limited(request: Request, caller: CallerDep) -> None:
    """429 problem+json with ``Retry-After`` once the caller's key has used up its bucket."""
    bucket: TokenBucket = request.app.state.rate_limit
    wait = bucket.take(caller.name)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise Problem(
            429,
            "Too many requests",
            f"the API key {caller.name} is over {bucket.rate:g} requests per second (burst {bucket.burst});"
            f" retry after {seconds} s",
            headers={"Retry-After": str(seconds)},
            retry_after=seconds,
        )
