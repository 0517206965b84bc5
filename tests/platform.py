"""A platform's effect endpoints for tests: a payment provider and care desk that apply each
Idempotency-Key once, and can be told to lose responses or to refuse."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support import listening

PREFIX = "/platform"
SIGNING_SECRET = "test-effects-signing-secret-0123456789"  # tests/security checks the signatures


@dataclass
class Seen:
    """One request as the receiver got it."""

    path: str
    key: str | None
    content_type: str | None
    body: dict[str, Any]


@dataclass
class Receiver:
    """A platform's effect endpoints, like a payment provider: it applies each Idempotency-Key
    once (a repeat gets success, a repeat with another body 422), and can be told to lose the
    response after applying (503) or to refuse a path outright."""

    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    ledger: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    fail_after_applying: dict[str, int] = field(default_factory=dict)
    refuse: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def applied(self, path: str) -> list[dict[str, Any]]:
        return [body for at, body in self.ledger.values() if at == path]

    async def handle(self, request: Request) -> JSONResponse:
        path = request.url.path.removeprefix(PREFIX)
        key = request.headers.get("idempotency-key")
        body = await request.json()
        self.requests.append(Seen(path, key, request.headers.get("content-type"), body))
        if path in self.refuse:
            status, headers = self.refuse[path]
            return JSONResponse({"error": "refused"}, status_code=status, headers=headers)
        if key is None:
            return JSONResponse({"error": "Idempotency-Key required"}, status_code=400)
        if key in self.ledger and self.ledger[key] != (path, body):
            return JSONResponse({"error": "key reused with another request"}, status_code=422)
        self.ledger.setdefault(key, (path, body))
        if self.fail_after_applying.get(path, 0) > 0:
            self.fail_after_applying[path] -= 1
            return JSONResponse({"error": "upstream timed out"}, status_code=503)
        return JSONResponse(self.replies.get(path, {}))


@asynccontextmanager
async def platform_receiver() -> AsyncIterator[Receiver]:
    """A Receiver served over real HTTP on a free loopback port."""
    state = Receiver()
    app = Starlette(routes=[Route(PREFIX + "/{path:path}", state.handle, methods=["POST"])])
    async with listening(app) as base_url:
        state.url = base_url + PREFIX
        yield state
