"""The current request's id, shared by the telemetry middleware, error responses and logs."""

from __future__ import annotations

import contextvars

REQUEST_ID_HEADER = "X-Request-Id"
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
