"""Request limits and guards: bodies checked before FastAPI parses them (413, 415, 422), control
characters refused in path and query parameters (422), and 429 per API key and, for requests
without a valid key, per client address."""

from __future__ import annotations

import ipaddress
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import auth
from api.auth import CredentialsDep
from api.deps import SettingsDep
from api.problems import Problem, invalid, response_for
from core.settings import Settings

#: Characters no string of this API may hold: C0 controls other than tab, line feed and carriage
#: return, DEL and the C1 controls, and lone UTF-16 surrogates (no UTF-8 can carry them). NUL above
#: all: PostgreSQL refuses it in text, so one accepted NUL would leave a case unable to store.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: The methods whose body a route reads; other bodies are only counted against the size limit.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_INT64 = 2**63


def control_character(text: str) -> str | None:
    """Why ``text`` is refused (the first control character or lone surrogate in it), or None."""
    found = CONTROL_CHARACTERS.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"contains the lone surrogate U+{code:04X}, which is not Unicode text"
    return f"contains the control character U+{code:04X}"


class _Refused:
    """A JSON value this API refuses, left by the parser where the value was, with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Object(dict[str, Any]):
    """A JSON object that remembers the keys it was given more than once."""

    duplicates: list[str]


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    parsed = _Object(pairs)
    parsed.duplicates = []
    if len(parsed) < len(pairs):
        parsed.duplicates = [key for key, seen in Counter(key for key, _ in pairs).items() if seen > 1]
    return parsed


def _integer(text: str) -> int | _Refused:
    if len(text.lstrip("-")) > 19 or not -_INT64 <= int(text) < _INT64:
        return _Refused(f"the integer {text[:24]}{'...' if len(text) > 24 else ''} is beyond 64 bits")
    return int(text)


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"the number {text[:24]} is out of range")


def _constant(text: str) -> _Refused:
    return _Refused(f"{text} is not a JSON number")


def _first_fault(document: Any, max_depth: int) -> tuple[str, str] | None:
    """The first (field, reason) this API refuses in a parsed body, in document order; no recursion,
    so no depth of nesting can exhaust the stack here."""
    stack: list[tuple[tuple[str, ...], Any, int]] = [((), document, 1)]
    while stack:
        path, value, depth = stack.pop()
        field = ".".join(path) or "body"
        if isinstance(value, _Refused):
            return field, value.reason
        if isinstance(value, str) and (reason := control_character(value)):
            return field, reason
        if not isinstance(value, dict | list):
            continue
        if depth > max_depth:
            return field, f"nested deeper than {max_depth} levels"
        if isinstance(value, _Object) and value.duplicates:
            return ".".join((*path, value.duplicates[0])), "the key appears more than once in its object"
        items = list(value.items() if isinstance(value, dict) else enumerate(value))
        for key, item in reversed(items):
            if isinstance(key, str) and (reason := control_character(key)):
                return field, f"a key {reason}"
            stack.append(((*path, str(key)), item, depth + 1))
    return None


def _json_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def body_problem(body: bytes, content_type: str | None, max_depth: int) -> Problem | None:
    """Why a JSON route refuses ``body`` (415 for another media type, 422 naming the field for JSON
    it cannot take: not UTF-8, malformed, too deep, a duplicate key, a number that is not finite or
    beyond 64 bits, a control character in a string), or None for a body FastAPI may parse."""
    if not _json_media_type(content_type):
        given = f"Content-Type {content_type}" if content_type else "no Content-Type"
        reason = f"{given}: send application/json"
        return Problem(
            415, "Unsupported media type", reason, errors=[{"field": "Content-Type", "reason": reason}]
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return invalid("body", f"not UTF-8: byte 0x{body[error.start]:02x} at offset {error.start}")
    try:
        document = json.loads(
            text, object_pairs_hook=_object, parse_int=_integer, parse_float=_float, parse_constant=_constant
        )
    except RecursionError:
        return invalid("body", f"nested deeper than {max_depth} levels")
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        return invalid("body", f"not JSON: {error.msg.removesuffix(' at')} at {where}")
    fault = _first_fault(document, max_depth)
    return invalid(*fault) if fault else None


class BodyGuard:
    """Read each request body (at most ``max_bytes``, 413 above, whatever its framing) and refuse
    one no JSON route can take (``body_problem``) before FastAPI parses it; uploads under
    ``exempt`` (multipart evidence) enforce their own limits."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, max_depth: int, exempt: tuple[str, ...] = ("/v1/evidence",)
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_bytes:
            await response_for(self._too_large())(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away: nobody to answer
            body += message.get("body", b"")
            if len(body) > self.max_bytes:  # a chunked body with no length that keeps growing
                await response_for(self._too_large())(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        if body and scope["method"] in _BODY_METHODS:
            problem = body_problem(bytes(body), headers.get("content-type"), self.max_depth)
            if problem is not None:
                await response_for(problem)(scope, receive, send)
                return
        await self.app(scope, _replaying(bytes(body), receive), send)

    def _too_large(self) -> Problem:
        return Problem(413, "Content too large", f"the request body is larger than {self.max_bytes} bytes")


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app behind a guard that has read the body: the body once, then the rest."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def plain_parameters(request: Request) -> None:
    """422 naming the parameter when a path or query parameter holds a control character."""
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if reason := control_character(str(value)):
            raise invalid(name, reason)


class TokenBucket:
    """Token buckets by key, in this process: ``rate`` requests per second sustained, ``burst`` at once.

    Each API replica keeps its own buckets, so N replicas behind a load balancer allow up to N
    times the rate per key. At most ``max_keys`` buckets are kept (the least recently used go
    first), so callers that never come back, or one that rotates addresses, cannot grow memory."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at), least recently used first

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0 when allowed, else the seconds until one is available."""
        now = self.clock()
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > self.max_keys:
            del self._buckets[next(iter(self._buckets))]
        return 0.0 if allowed else (1 - tokens) / self.rate


def client_address(request: Request) -> str:
    """The bucket key of a request's client address; an IPv6 client by its /64, the block one
    host usually holds. Behind a proxy this is the proxy's address unless uvicorn is told to
    trust its X-Forwarded-For (``--forwarded-allow-ips``, docs/deployment.md)."""
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def install_rate_limit(app: FastAPI, settings: Settings) -> None:
    """The token buckets of this app (this replica): one per API key, and one per client address
    for requests without a valid key; read by ``rate_limited`` and ``anonymous_limited``."""
    app.state.rate_limit = TokenBucket(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.anonymous_limit = TokenBucket(
        settings.anonymous_rate_limit_per_second, settings.anonymous_rate_limit_burst
    )


def _over(wait: float, who: str, bucket: TokenBucket) -> Problem:
    seconds = max(1, math.ceil(wait))
    return Problem(
        429,
        "Too many requests",
        f"{who} is over {bucket.rate:g} requests per second (burst {bucket.burst}); retry after {seconds} s",
        headers={"Retry-After": str(seconds)},
        retry_after=seconds,
    )


def anonymous_limited(request: Request) -> None:
    """429 problem+json with ``Retry-After`` once the client's address has used up the bucket of
    requests without a valid key (called before such a request is answered 401)."""
    bucket: TokenBucket = request.app.state.anonymous_limit
    wait = bucket.take(client_address(request))
    if wait > 0:
        raise _over(wait, "this address, without a valid API key,", bucket)


async def rate_limited(request: Request, settings: SettingsDep, credentials: CredentialsDep) -> None:
    """Authenticate the request, then take from its key's bucket: 429 problem+json with
    ``Retry-After`` once the key has used it up. A request without a valid key takes from its
    client address's bucket first, so guessing keys or flooding without one is limited too."""
    try:
        caller = await auth.caller(settings, credentials)
    except Problem:
        anonymous_limited(request)
        raise
    bucket: TokenBucket = request.app.state.rate_limit
    wait = bucket.take(caller.name)
    if wait > 0:
        raise _over(wait, f"the API key {caller.name}", bucket)
