"""Request body limits: 413 before an oversized body is read, whatever its framing."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import Problem, response_for


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
