"""How the API answers faults it did not expect: a case whose workflow task fails is unavailable
(503 with Retry-After), not an internal error of the API."""

from __future__ import annotations

import json

from google.protobuf.any_pb2 import Any as AnyDetail
from starlette.requests import Request
from temporalio.api.common.v1 import GrpcStatus
from temporalio.service import RPCError, RPCStatusCode

from api.problems import unexpected

REQUEST = Request(
    {"type": "http", "method": "POST", "path": "/v1/disputes/dispute-o-1/offers", "headers": []}
)


def _failed_precondition(detail_type: str) -> RPCError:
    status = GrpcStatus(code=RPCStatusCode.FAILED_PRECONDITION, details=[AnyDetail(type_url=detail_type)])
    return RPCError(
        "Unable to perform workflow execution update due to Workflow Task in failed state.",
        RPCStatusCode.FAILED_PRECONDITION,
        status.SerializeToString(),
    )


async def test_an_update_to_a_case_whose_workflow_task_fails_is_503_with_retry_after() -> None:
    error = _failed_precondition("type.googleapis.com/temporal.api.errordetails.v1.WorkflowNotReadyFailure")
    response = await unexpected(REQUEST, error)
    body = json.loads(bytes(response.body))
    assert (response.status_code, body["title"]) == (503, "Service unavailable"), body
    assert response.headers["Retry-After"] == "5"
    assert "failing step" in body["detail"]


async def test_another_failed_precondition_is_still_an_internal_error() -> None:
    response = await unexpected(REQUEST, _failed_precondition("type.googleapis.com/some.OtherFailure"))
    assert response.status_code == 500
