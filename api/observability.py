"""Per-request telemetry: a request id on every response and log line, Prometheus metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

from api import problems
from api.context import REQUEST_ID_HEADER, request_id
from api.deps import EngineDep
from store.metrics import CaseGauges

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_CASE_IN_PATH = re.compile(r"/v1/(?:disputes|tickets)/((?:dispute|care-ticket)-[A-Za-z0-9._:-]+)")

REQUESTS = Counter("api_requests_total", "HTTP requests to the API", ["method", "route", "status"])
LATENCY = Histogram("api_request_duration_seconds", "Time to answer an API request", ["method", "route"])
#: Cases open, needing attention and waiting for care, read from the service database (store/metrics.py).
CASE_GAUGES = CaseGauges()
REGISTRY.register(CASE_GAUGES)
log = logging.getLogger("api.access")

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(engine: EngineDep) -> Response:
    """Prometheus metrics of this API process, and the service's case gauges (every replica
    serves the same gauges: aggregate them with ``max``, not ``sum``)."""
    await CASE_GAUGES.refresh(engine)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class RequestContext(logging.Filter):
    """Adds the current request id to every log record made while serving a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current and not getattr(record, "request_id", None):
            record.request_id = current
        return True


def _route(request: Request) -> str:
    # The route template keeps the label set small: /v1/disputes/{dispute_id}, not every id.
    return str(getattr(request.scope.get("route"), "path", "unmatched"))


def install(app: FastAPI) -> None:
    """Request ids, access logs and request metrics for every route, plus ``GET /metrics``."""

    @app.middleware("http")
    async def telemetry(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        case = _CASE_IN_PATH.search(request.url.path)
        context = {"request_id": rid, "case_id": case.group(1) if case else None}
        try:
            response = await call_next(request)
        except Exception as error:
            # Answered here, with this request's id as the correlation id, and logged once.
            response = await problems.unexpected(request, error)
        request_id.reset(token)
        elapsed = time.perf_counter() - started
        route = _route(request)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        LATENCY.labels(request.method, route).observe(elapsed)
        response.headers[REQUEST_ID_HEADER] = rid
        log.info(
            "%s %s %s",
            request.method,
            route,
            response.status_code,
            extra=context | {"status": response.status_code, "duration_ms": round(elapsed * 1000, 1)},
        )
        return response

    app.include_router(router)
