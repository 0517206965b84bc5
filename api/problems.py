"""RFC 9457 problem details: every error response of the API, mapped in one place."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.context import REQUEST_ID_HEADER, request_id
from domain.errors import InvalidInput, InvalidTransition, LimitReached, NotAParty, UnknownShipment

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """An error response: HTTP status, a short title, a human detail and any extra members."""

    def __init__(
        self, status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra


def invalid(field: str, reason: str) -> Problem:
    """The 422 problem for one field and why it is refused."""
    return Problem(422, "Invalid input", f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


def _slug(title: str) -> str:
    return "/problems/" + "-".join(title.lower().split())


def response_for(problem: Problem) -> JSONResponse:
    """The problem+json response for ``problem``."""
    return _response(problem)


def _response(problem: Problem) -> JSONResponse:
    body = {
        "type": _slug(problem.title),
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        **problem.extra,
    }
    return JSONResponse(body, status_code=problem.status, media_type=MEDIA_TYPE, headers=problem.headers)


_BY_TYPE = {
    NotAParty.code: (403, "Not a party"),
    InvalidTransition.code: (409, "Invalid transition"),
    LimitReached.code: (409, "Limit reached"),
    InvalidInput.code: (422, "Invalid input"),
    "IdempotencyKeyReused": (422, "Idempotency key reused"),
    "UnknownAction": (404, "Not found"),
    UnknownShipment.code: (404, "Not found"),
    "CaseBusy": (429, "Too many requests"),
}


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {
            # A JSON syntax error's location is a character position, not a field.
            "field": "body" if item.get("type") == "json_invalid" else _field(tuple(item.get("loc", ()))),
            "reason": item.get("msg", "invalid"),
        }
        for item in error.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return _response(Problem(422, "Invalid input", detail, errors=errors))


async def _problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Problem)
    return _response(error)


async def _update_failed(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, WorkflowUpdateFailedError)
    cause = error.cause
    if not (isinstance(cause, ApplicationError) and cause.type in _BY_TYPE):
        return await unexpected(request, error)
    status, title = _BY_TYPE[cause.type]
    details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    headers = {"Retry-After": "1"} if status == 429 else None
    return _response(Problem(status, title, cause.message, headers=headers, **details))


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    title = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 413: "Content too large"}.get(
        error.status_code, "HTTP error"
    )
    headers = dict(error.headers or {})
    if error.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed on {request.url.path}; allowed: {', '.join(allowed)}"
        return _response(Problem(405, title, detail, headers=headers))
    return _response(Problem(error.status_code, title, str(error.detail), headers=headers or None))


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes on the request's path (RFC 9110: a 405 lists them
    in ``Allow``); the router's own 405 names only the first matching route's methods."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches(dict(request.scope, method=method))[0] is Match.FULL for route in routes)
    ]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


async def unexpected(request: Request, error: Exception) -> JSONResponse:
    """A 5xx problem for a fault no handler knows, logged with the request's correlation id; Temporal
    being busy, slow or away is a 429 or 503 with Retry-After (a keyed retry is applied once)."""
    correlation_id = request_id.get() or uuid.uuid4().hex
    status = error.status if isinstance(error, RPCError) else None
    if status is RPCStatusCode.UNAVAILABLE:
        log.error("temporal unavailable correlation_id=%s: %s", correlation_id, error)
        problem = _retry(503, "Service unavailable", "Temporal is not reachable or set the request aside", 5)
    elif isinstance(error, RPCTimeoutOrCancelledError) or status in _TIMED_OUT:
        log.warning("temporal did not answer in time correlation_id=%s: %s", correlation_id, error)
        problem = _retry(503, "Service unavailable", "Temporal did not answer in time", 5)
    elif isinstance(error, RPCError) and _task_failing(error):
        log.error("case workflow task failing correlation_id=%s: %s", correlation_id, error)
        problem = _retry(
            503, "Service unavailable", "the case cannot take requests until its failing step is fixed", 5
        )
    elif status is RPCStatusCode.RESOURCE_EXHAUSTED:
        log.warning("temporal busy correlation_id=%s: %s", correlation_id, error)
        problem = _retry(429, "Too many requests", "the case is busy with other requests", 1)
    else:
        log.exception("unhandled error correlation_id=%s", correlation_id, exc_info=error)
        problem = Problem(500, "Internal error", "An unexpected error occurred")
    problem.extra["correlation_id"] = correlation_id
    problem.headers = (problem.headers or {}) | {REQUEST_ID_HEADER: correlation_id}
    return _response(problem)


_TIMED_OUT = (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)


def _task_failing(error: RPCError) -> bool:
    """Temporal refuses updates to a case whose workflow task fails (a fault in a step, shown in the
    Web UI and retried until a fix is deployed): the case is unavailable, not the request wrong."""
    return error.status is RPCStatusCode.FAILED_PRECONDITION and any(
        detail.type_url.endswith("WorkflowNotReadyFailure") for detail in error.grpc_status.details
    )


def _retry(status: int, title: str, reason: str, seconds: int) -> Problem:
    detail = f"{reason}; retry in {seconds} s with the same Idempotency-Key (a keyed request applies once)"
    return Problem(status, title, detail, headers={"Retry-After": str(seconds)}, retry_after=seconds)


class ProblemDocument(BaseModel):
    """An RFC 9457 problem, as every error response of this API is."""

    type: str = Field(examples=["/problems/invalid-transition"])
    title: str = Field(examples=["Invalid transition"])
    status: int = Field(examples=[409])
    detail: str
    errors: list[dict[str, str]] | None = Field(default=None, description="422: [{field, reason}]")
    current_status: str | None = Field(default=None, description="409: the case's status now")
    allowed_actions: dict[str, list[str]] | None = Field(default=None, description="409: per role")
    correlation_id: str | None = Field(default=None, description="5xx: the id to find in the logs")
    retry_after: int | None = Field(default=None, description="429, 503: seconds to wait (also Retry-After)")


_MEANINGS = {
    401: "no valid API key",
    403: "the key or the actor may not do this",
    404: "no such case",
    409: "the case's state does not allow this now, or a limit of the case is reached",
    413: "the body is too large",
    415: "the body is not application/json",
    429: "this API key is over its rate limit, or the case is busy: retry after Retry-After seconds",
    422: "invalid input, or an Idempotency-Key reused for another request",
    503: "the case did not take the action in time, or Temporal is unavailable: retry after Retry-After"
    " seconds, with the same Idempotency-Key",
}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": f"{meaning} (problem+json)",
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
    }
    for status, meaning in _MEANINGS.items()
}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json, and document them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("schemas", {})["ProblemDocument"] = (
                ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(WorkflowUpdateFailedError, _update_failed)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, unexpected)
