"""RFC 9457 problem details: every error response of the API, mapped in one place."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.observability import REQUEST_ID_HEADER, request_id
from domain.errors import InvalidInput, InvalidTransition, NotAParty

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
    InvalidInput.code: (422, "Invalid input"),
}


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"field": _field(tuple(item.get("loc", ()))), "reason": item.get("msg", "invalid")}
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
        return await _unexpected(request, error)
    status, title = _BY_TYPE[cause.type]
    details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    return _response(Problem(status, title, cause.message, **details))


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    title = {404: "Not found", 405: "Method not allowed", 413: "Content too large"}.get(
        error.status_code, "HTTP error"
    )
    return _response(Problem(error.status_code, title, str(error.detail)))


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    correlation_id = request_id.get() or uuid.uuid4().hex
    if isinstance(error, RPCError) and error.status is RPCStatusCode.UNAVAILABLE:
        log.error("temporal unavailable correlation_id=%s: %s", correlation_id, error)
        problem = Problem(503, "Service unavailable", "Temporal is not reachable; retry later")
    else:
        log.exception("unhandled error correlation_id=%s", correlation_id, exc_info=error)
        problem = Problem(500, "Internal error", "An unexpected error occurred")
    problem.extra["correlation_id"] = correlation_id
    problem.headers = {REQUEST_ID_HEADER: correlation_id}
    return _response(problem)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(WorkflowUpdateFailedError, _update_failed)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
