"""Hostile input, nothing broken: every route answers a clear 4xx problem+json naming the field and
the reason, never a 5xx, and a refused request changes nothing. Also: a burst of actions on one case
beyond Temporal's in-flight update limit, and actions while no worker runs (429 / 503, never a 500
or a hang), over real HTTP against a real Temporal dev server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.limits import body_problem
from api.problems import unexpected
from core import binaries
from core import search_attributes as sa
from core.settings import Settings
from store.cases import Timelines
from store.db import database
from store.help import starter_id
from store.migrate import migrate
from tests.postgres import PostgresServer, free_port
from tests.support import (
    AS_CARE,
    BUYER,
    CARE,
    PDF,
    SELLER,
    claim,
    eventually,
    new_order,
    serving,
    upload_evidence,
)

JSON = "application/json"


@pytest.fixture
def settings(task_queue: str, tmp_path: Path) -> Settings:
    """Hundreds of requests from one key: the rate limit (tested elsewhere) must not answer them."""
    return Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        webhook_allow_private_hosts=True,
        rate_limit_per_second=10_000,
        rate_limit_burst=10_000,
    )


def message(text: str) -> dict[str, Any]:
    return {"actor": BUYER, "text": text}


def problem(response: httpx.Response) -> dict[str, Any]:
    """The error response as problem+json with its status, a title and a detail."""
    assert response.headers["content-type"] == "application/problem+json", response.text[:300]
    document: dict[str, Any] = response.json()
    assert document["status"] == response.status_code and document["title"] and document["detail"]
    return document


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The response as a client sees a refusal: a 4xx problem."""
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    return problem(response)


def refused(response: httpx.Response, status: int, field: str, reason: str) -> None:
    """A refusal with this status whose first error names ``field`` (or a field under it) and why."""
    problem = problem_of(response)
    assert response.status_code == status, problem
    [first, *_] = problem["errors"]
    assert first["field"] == field or first["field"].startswith(f"{field}."), problem
    assert reason in first["reason"], problem


# -- the body guard, without a server -----------------------------------------------------------

DEEP = b"[" * 50_000 + b"]" * 50_000  # beyond Python's recursion limit
NESTED = b'{"actor": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}"  # parses, but deeper than 32
#: (body, Content-Type) → (status, field, part of the reason)
GUARDED: dict[str, tuple[bytes, str | None, int, str, str]] = {
    "deep JSON": (DEEP, JSON, 422, "body", "nested deeper than 32 levels"),
    "deep JSON in a field": (NESTED, JSON, 422, "actor.a.a", "nested deeper than 32 levels"),
    "NUL in a string": (b'{"text": "a\\u0000b"}', JSON, 422, "text", "control character U+0000"),
    "escape in a string": (b'{"note": "\\u001b[2J"}', JSON, 422, "note", "control character U+001B"),
    "C1 control": (b'{"note": "\xc2\x85"}', JSON, 422, "note", "control character U+0085"),
    "NUL in a key": (b'{"a\\u0000": 1}', JSON, 422, "body", "a key contains the control character U+0000"),
    "lone surrogate": (b'{"text": "\\ud800"}', JSON, 422, "text", "lone surrogate U+D800"),
    "raw control byte": (b'{"text": "a\x01"}', JSON, 422, "body", "not JSON: Invalid control character"),
    "integer beyond 64 bits": (b'{"amount": 9223372036854775808}', JSON, 422, "amount", "beyond 64 bits"),
    "negative beyond 64 bits": (b'{"amount": -9223372036854775809}', JSON, 422, "amount", "beyond 64 bits"),
    "5000 digits": (b'{"amount": ' + b"9" * 5000 + b"}", JSON, 422, "amount", "beyond 64 bits"),
    "1e400": (b'{"solution": {"amount": 1e400}}', JSON, 422, "solution.amount", "1e400 is out of range"),
    "NaN": (b'[{"n": NaN}]', JSON, 422, "0.n", "NaN is not a JSON number"),
    "-Infinity": (b'{"n": -Infinity}', JSON, 422, "n", "-Infinity is not a JSON number"),
    "duplicate key": (b'{"actor": {"id": "b-1", "id": "s-1"}}', JSON, 422, "actor.id", "more than once"),
    "invalid UTF-8": (b'{"text": "\xff"}', JSON, 422, "body", "not UTF-8: byte 0xff at offset 10"),
    "UTF-16": ('{"text": "a"}'.encode("utf-16"), JSON, 422, "body", "not UTF-8"),
    "truncated": (b'{"actor": ', JSON, 422, "body", "not JSON: Expecting value at line 1 column 11"),
    "text/plain": (b'{"text": "a"}', "text/plain", 415, "Content-Type", "text/plain: send application/json"),
    "form post": (
        b"text=a",
        "application/x-www-form-urlencoded",
        415,
        "Content-Type",
        "send application/json",
    ),
    "no Content-Type": (b'{"text": "a"}', None, 415, "Content-Type", "no Content-Type"),
}


@pytest.mark.parametrize("name", list(GUARDED))
def test_the_body_guard_names_the_field_and_the_reason(name: str) -> None:
    body, content_type, status, field, reason = GUARDED[name]
    problem = body_problem(body, content_type, max_depth=32)
    assert problem is not None
    assert problem.status == status
    [error] = problem.extra["errors"]
    assert error["field"].startswith(field) and reason in error["reason"], error
    assert problem.detail == f"{error['field']}: {error['reason']}" or status == 415


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(claim(new_order(), description="Layar retak\tdua kali,\r\nterima kasih 🙏 ² ٣")).encode(),
        b'{"text": "\\ud83d\\ude00 an escaped emoji pair"}',
        b"[" * 32 + b"]" * 32,
        b'{"amount": 9223372036854775807, "ratio": 1e308, "small": -1e-400}',
        b"null",
    ],
)
def test_the_body_guard_lets_ordinary_json_through(body: bytes) -> None:
    assert body_problem(body, "application/cloudevents-batch+json; charset=utf-8", max_depth=32) is None


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [
        (
            RPCError(
                "limit on number of concurrent in-flight updates", RPCStatusCode.RESOURCE_EXHAUSTED, b""
            ),
            429,
            "1",
        ),
        (RPCError("workflow update was aborted", RPCStatusCode.UNAVAILABLE, b""), 503, "5"),
        (RPCError("Timeout expired", RPCStatusCode.CANCELLED, b""), 503, "5"),
        (RPCError("deadline", RPCStatusCode.DEADLINE_EXCEEDED, b""), 503, "5"),
        (WorkflowUpdateRPCTimeoutOrCancelledError(), 503, "5"),
        (RPCError("broken", RPCStatusCode.INTERNAL, b""), 500, None),
        (RuntimeError("bug"), 500, None),
    ],
)
async def test_temporal_busy_or_slow_is_429_or_503_with_retry_after(
    error: Exception, status: int, retry_after: str | None
) -> None:
    response = await unexpected(Request({"type": "http", "headers": []}), error)
    assert response.status_code == status
    assert response.headers.get("retry-after") == retry_after
    body = json.loads(bytes(response.body))
    assert body["status"] == status and body["correlation_id"]
    if retry_after:
        assert body["retry_after"] == int(retry_after) and "same Idempotency-Key" in body["detail"]


# -- every JSON route over HTTP -------------------------------------------------------------------

#: Bodies the guard lets through, refused by validation: the body's shape or a field's pattern.
VALIDATED: dict[str, bytes] = {
    "empty body": b"",
    "null": b"null",
    "array": b"[]",
    "number": b"5",
    "string": b'"text"',
    "unicode digits in ids": json.dumps(
        {"actor": {"role": "buyer", "id": "b-\u00b2"}, "order_id": "o-\u0663"}
    ).encode(),
}


async def _seed(api: httpx.AsyncClient) -> dict[str, str]:
    """A dispute, a report with a care reply in the inbox, cited evidence and a webhook subscription."""
    reference = await upload_evidence(api, "buyer", "b-1")
    opened = await api.post("/v1/disputes", json=claim(new_order(), evidence=[reference]))
    assert opened.status_code == 201, opened.text
    report = {"user_id": "b-1", "role": "buyer", "topic": "PAYMENT", "details": "Charged twice"}
    filed = await api.post("/v1/tickets", json=report)
    assert filed.status_code == 201, filed.text
    ticket_id = filed.json()["id"]
    reply = {"actor": CARE, "text": "Refunded"}
    replied = await api.post(f"/v1/tickets/{ticket_id}/care/replies", json=reply, headers=AS_CARE)
    assert replied.status_code == 200, replied.text

    async def inbox() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await api.get("/v1/users/b-1/inbox")).json()["items"]
        return items

    [note, *_] = await eventually(inbox)
    hook = await api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks"})
    assert hook.status_code == 201, hook.text
    return {
        "dispute_id": opened.json()["id"],
        "ticket_id": ticket_id,
        "user_id": "b-1",
        "message_id": note["id"],
        "reference": reference,
        "subscription_id": hook.json()["id"],
        "case_id": opened.json()["id"],
        "article_id": starter_id("refund-after-complaint.id"),
        "tracking_number": "JNE-HOSTILE-1",
        "macro_id": "mac-0000000000000000",  # a saved reply's id (none needed: bodies are refused first)
    }


async def _snapshot(api: httpx.AsyncClient, ids: dict[str, str]) -> dict[str, Any]:
    """What a refused request must leave as it was: the cases, the inbox, the subscriptions."""
    dispute = (await api.get(f"/v1/disputes/{ids['dispute_id']}")).json()
    ticket = (await api.get(f"/v1/tickets/{ids['ticket_id']}")).json()
    inbox = (await api.get("/v1/users/b-1/inbox")).json()["items"]
    hooks = (await api.get("/v1/webhooks")).json()["items"]
    return {
        "dispute": (
            dispute["status"],
            dispute["timeline_seq"],
            dispute["message_count"],
            dispute["proposals"],
        ),
        "ticket": (ticket["status"], ticket["timeline_seq"], ticket["message_count"]),
        "inbox": [(item["id"], item["read"]) for item in inbox],
        "hooks": sorted(hook["id"] for hook in hooks),
    }


def _json_routes(schema: dict[str, Any], ids: dict[str, str]) -> list[str]:
    """Every POST route that takes a JSON body, its path parameters filled with real ids."""
    routes = []
    for path, operations in schema["paths"].items():
        body = operations.get("post", {}).get("requestBody", {})
        if JSON in body.get("content", {}):
            routes.append(path.format(**ids))
    return routes


async def test_hostile_bodies_on_every_json_route_are_refused_and_change_nothing(
    api: httpx.AsyncClient,
) -> None:
    ids = await _seed(api)
    before = await _snapshot(api, ids)
    routes = _json_routes((await api.get("/openapi.json")).json(), ids)
    assert len(routes) > 20 and f"/v1/disputes/{ids['dispute_id']}/messages" in routes
    assert "/v1/events" in routes and "/codec/decode" in routes
    seen: Counter[int] = Counter()
    for route in routes:
        for name, (body, content_type, status, field, reason) in GUARDED.items():
            headers = {"Content-Type": content_type} if content_type else {}
            response = await api.post(route, content=body, headers=headers)
            assert response.status_code == status, (route, name, response.text[:300])
            refused(response, status, field, reason)
            seen[response.status_code] += 1
        for name, body in VALIDATED.items():
            response = await api.post(route, content=body, headers={"Content-Type": JSON})
            assert response.status_code < 500, (route, name, response.text[:300])
            if response.status_code >= 400:  # a route whose body is optional may take it (rotate-secret)
                problem_of(response)
            seen[response.status_code] += 1
    assert seen[422] > 20 * len(routes) and seen[415] == 3 * len(routes)
    assert await _snapshot(api, ids) == before


async def test_a_batch_with_one_hostile_event_delivers_none(api: httpx.AsyncClient) -> None:
    ids = await _seed(api)
    before = await _snapshot(api, ids)

    def event(text: str) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": f"ev-{uuid.uuid4().hex[:8]}",
            "source": "/checkout",
            "type": "com.marketplace.dispute.buyer.message",
            "subject": ids["dispute_id"],
            "data": message(text),
        }

    batch = [event("fine"), event("not \u0000 fine")]
    response = await api.post(
        "/v1/events",
        content=json.dumps(batch),
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )
    refused(response, 422, "1.data.text", "control character U+0000")
    deep = [event("fine"), {**event("fine"), "extension": json.loads(b"[" * 40 + b"]" * 40)}]
    response = await api.post("/v1/events", json=deep)
    refused(response, 422, "1.extension", "nested deeper than 32 levels")
    assert await _snapshot(api, ids) == before
    accepted = await api.post("/v1/events", json=[event("fine")])  # the same route still works
    assert [item["status"] for item in accepted.json()["items"]] == ["accepted"]


HOSTILE_IDS = {
    "NUL": "a%00b",
    "escape": "a%1Bb",
    "C1 control": "a%C2%85",
    "superscript two": "msg-%C2%B2",
    "Arabic-Indic digit": "%D9%A3",
    "mathematical digit": "%F0%9D%9F%98",
    "invalid UTF-8": "%FF%FE",
    "surrogate as UTF-8": "%ED%A0%80",
    "2,000 characters": "dispute-" + "9" * 2000,
    "beyond 64 bits": "99999999999999999999999",
    "1e400": "1e400",
}


async def test_hostile_path_and_query_parameters_on_every_route(api: httpx.AsyncClient) -> None:
    ids = await _seed(api)
    before = await _snapshot(api, ids)
    schema = (await api.get("/openapi.json")).json()
    tried = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            params = [p for p in operation.get("parameters", []) if p["in"] in ("path", "query")]
            for param in params:
                for name, value in HOSTILE_IDS.items():
                    values = {p["name"]: ids.get(p["name"], "b-1") for p in params if p["in"] == "path"}
                    query = {
                        p["name"]: ids[p["name"]] for p in params if p["in"] == "query" and p["name"] in ids
                    }
                    if param["in"] == "path":
                        values[param["name"]] = value
                    url = path.format(**values)
                    if param["in"] == "query":
                        query[param["name"]] = value
                    if query:
                        url += "?" + "&".join(f"{key}={item}" for key, item in query.items())
                    response = await api.request(method.upper(), url, json={} if method == "post" else None)
                    tried += 1
                    assert response.status_code < 500, (method, url[:120], name, response.text[:300])
                    if response.status_code >= 400:
                        problem_of(response)
                    if name in ("NUL", "escape", "C1 control"):
                        refused(response, 422, param["name"], "control character")
    assert tried > 300
    assert await _snapshot(api, ids) == before


async def test_hostile_evidence_uploads(api: httpx.AsyncClient) -> None:
    def form(**fields: str | bytes) -> dict[str, Any]:
        return {"actor_role": "buyer", "actor_id": "b-1"} | fields

    async def upload(data: dict[str, Any]) -> httpx.Response:
        return await api.post("/v1/evidence", data=data, files={"file": ("f.pdf", PDF, "application/pdf")})

    refused(await upload(form(actor_id="[" * 20_000 + "]" * 20_000)), 422, "actor_id", "pattern")
    refused(await upload(form(actor_id='{"a": ' * 500 + "1" + "}" * 500)), 422, "actor_id", "pattern")
    refused(await upload(form(actor_id="b-\u0000")), 422, "actor_id", "pattern")
    refused(await upload(form(actor_id="b-\u00b2")), 422, "actor_id", "pattern")
    refused(await upload(form(actor_role="buyer\u0000")), 422, "actor_role", "buyer")
    refused(await upload(form(actor_id="x" * 2_000_000)), 422, "body", "")
    as_json = await api.post("/v1/evidence", json={"actor_role": "buyer", "actor_id": "b-1", "file": "x"})
    refused(as_json, 415, "Content-Type", "application/json: send multipart/form-data")
    no_type = await api.post("/v1/evidence", content=PDF, headers={"Content-Type": ""})
    refused(no_type, 415, "Content-Type", "no Content-Type")
    plain = await api.post("/v1/evidence", content=PDF, headers={"Content-Type": "text/plain"})
    refused(plain, 415, "Content-Type", "text/plain")


async def test_huge_numbers_are_refused_by_field(api: httpx.AsyncClient) -> None:
    opened = await api.post("/v1/disputes", json=claim(new_order()))
    dispute_id = opened.json()["id"]
    offers = f"/v1/disputes/{dispute_id}/offers"
    total = claim(new_order(), order_total=10**15 + 1)
    refused(await api.post("/v1/disputes", json=total), 422, "order_total", "less than or equal to")
    refused(
        await api.post("/v1/disputes", json=claim(new_order(), order_total=2**64)),
        422,
        "order_total",
        "beyond 64 bits",
    )
    for amount, reason in [
        (10**15 + 1, "less than or equal to"),
        (2**63, "beyond 64 bits"),
        (0, "greater than"),
    ]:
        offer = {"actor": SELLER, "solution": {"kind": "REFUND_TO_BUYER", "amount": amount}}
        refused(await api.post(offers, json=offer), 422, "solution.amount", reason)
    for query, field in [
        ("limit=99999999999999999999999", "limit"),
        ("limit=1e400", "limit"),
        ("limit=-1", "limit"),
    ]:
        refused(await api.get(f"/v1/disputes?{query}"), 422, field, "")
        refused(await api.get(f"/v1/care/queue?{query}", headers=AS_CARE), 422, field, "")
    after = (await api.get(f"/v1/disputes/{dispute_id}")).json()
    assert (after["status"], after["proposals"]) == (opened.json()["status"], opened.json()["proposals"])


# -- a NUL on PostgreSQL, where it used to break the store ---------------------------------------------


async def test_a_nul_never_reaches_postgresql(
    postgres: PostgresServer, dev_server_env: WorkflowEnvironment, settings: Settings
) -> None:
    """A NUL in a message used to be accepted and then refused by PostgreSQL's text type at every
    store step: the case could never publish again. A NUL in a query or id used to be a 500."""
    url = postgres.create_database("hostile")
    await asyncio.to_thread(migrate, url)
    on_pg = settings.model_copy(update={"database_url": url})
    async with database(on_pg) as engine, serving(on_pg, dev_server_env, engine=engine) as api:
        dispute_id = (await api.post("/v1/disputes", json=claim(new_order()))).json()["id"]
        messages = f"/v1/disputes/{dispute_id}/messages"
        refused(await api.post(messages, json=message("a\u0000b")), 422, "text", "U+0000")
        refused(await api.get("/v1/webhooks/deliveries?event_id=%00"), 422, "event_id", "U+0000")
        refused(
            await api.get("/v1/webhooks/deliveries?subscription_id=%00"), 422, "subscription_id", "U+0000"
        )
        refused(await api.delete("/v1/webhooks/a%00"), 422, "subscription_id", "U+0000")
        assert (await api.post(messages, json=message("still talking"))).status_code == 200

        async def stored() -> list[str]:
            entries = await Timelines(engine).for_case(dispute_id)
            return [entry.detail.get("text", "") for entry in entries if entry.event == "message"]

        assert await eventually(stored) == ["still talking"]


# -- a burst beyond Temporal's in-flight update limit ---------------------------------------------------

IN_FLIGHT_LIMIT = 2


@pytest.fixture(scope="module")
async def strict_server() -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    """A dev server of this module's own that admits fewer updates in flight per workflow than its
    default 10, and serves its Prometheus metrics on a known port: a burst surely goes beyond the
    limit, and the server's count of refusals shows it did."""
    port = free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binaries.temporal_cli(),
        search_attributes=sa.ALL,
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_extra_args=[
            "--metrics-port",
            str(port),
            "--dynamic-config-value",
            f"history.maxInFlightUpdates={IN_FLIGHT_LIMIT}",
        ],
    )
    yield env, f"http://127.0.0.1:{port}/metrics"
    await env.shutdown()


async def _updates_refused(metrics_url: str) -> int:
    """How many updates the server refused for the in-flight limit (RESOURCE_EXHAUSTED)."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(metrics_url)).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("service_errors_resource_exhausted{")
        and 'operation="UpdateWorkflowExecution"' in line
        and 'resource_exhausted_cause="ConcurrentLimit"' in line
        and 'service_name="frontend"' in line
    )


async def test_a_burst_beyond_the_in_flight_update_limit_is_429_or_503_never_500(
    strict_server: tuple[WorkflowEnvironment, str], settings: Settings, engine: AsyncEngine
) -> None:
    """40 messages at once on one dispute, each with its own Idempotency-Key."""
    env, metrics_url = strict_server
    async with serving(settings, env, engine=engine) as api:
        dispute_id = (await api.post("/v1/disputes", json=claim(new_order()))).json()["id"]
        url = f"/v1/disputes/{dispute_id}/messages"
        texts = [f"burst {n}" for n in range(40)]
        keys = {text: {"Idempotency-Key": f"burst-{uuid.uuid4()}"} for text in texts}

        async def send(text: str) -> httpx.Response:
            return await api.post(url, json=message(text), headers=keys[text], timeout=60)

        refused_before = await _updates_refused(metrics_url)
        responses = dict(zip(texts, await asyncio.gather(*map(send, texts)), strict=True))
        refusals = await _updates_refused(metrics_url) - refused_before
        assert refusals > 0, "the burst did not go beyond the server's in-flight update limit"
        statuses = Counter(response.status_code for response in responses.values())
        # 202: taken, but the case was too busy to be read back in time (the body is the stored state).
        assert set(statuses) <= {200, 202, 429, 503}, {t: r.text[:200] for t, r in responses.items()}
        taken = (200, 202)
        for response in responses.values():
            if response.status_code not in taken:
                problem(response)
                assert int(response.headers["retry-after"]) >= 1

        async def timeline() -> Counter[str]:
            entries = (await api.get(f"/v1/disputes/{dispute_id}")).json()["timeline"]
            return Counter(e["detail"]["text"] for e in entries if e["event"] == "message")

        applied = await timeline()
        assert all(applied[text] == 1 for text, r in responses.items() if r.status_code in taken), applied
        # The others are retried with their keys, one at a time as a client backing off would, until
        # taken: each message is there exactly once, however often it was sent.
        pending = [text for text, response in responses.items() if response.status_code not in taken]
        deadline = asyncio.get_running_loop().time() + 120
        while pending:
            assert asyncio.get_running_loop().time() < deadline, pending
            retried = await send(pending[0])
            assert retried.status_code in (*taken, 429, 503), retried.text
            if retried.status_code in taken:
                pending.pop(0)
        assert await timeline() == Counter(texts)
        print(f"burst of {len(texts)}: {refusals} updates refused by the server, answers {dict(statuses)}")


# -- no worker ------------------------------------------------------------------------------------------


async def test_with_no_worker_open_answers_and_an_action_is_503_then_applied_once(
    dev_server_env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine
) -> None:
    quick = settings.model_copy(update={"action_timeout": timedelta(seconds=2)})
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    async with serving(quick, dev_server_env, worker=False, engine=engine) as api:
        opened = await api.post("/v1/disputes", json=claim(new_order()), timeout=20)
        assert opened.status_code == 201, opened.text
        dispute_id = opened.json()["id"]
        assert opened.json()["status"] == "AWAITING_SELLER"
        described = await dev_server_env.client.get_workflow_handle(dispute_id).describe()
        assert described.close_time is None
        report = {"user_id": "b-1", "role": "buyer", "topic": "PAYMENT", "details": "Charged twice"}
        assert (await api.post("/v1/tickets", json=report, timeout=20)).status_code == 201

        url = f"/v1/disputes/{dispute_id}/messages"
        for _ in range(2):  # no worker: the same answer each time, in bounded time
            waited = await api.post(url, json=message("while nobody works"), headers=key, timeout=20)
            assert waited.status_code == 503, waited.text
            assert waited.headers["content-type"] == "application/problem+json"
            assert waited.headers["retry-after"] == "2"
            problem = waited.json()
            assert problem["title"] == "Action not confirmed" and problem["retry_after"] == 2
            assert "may still be applied" in problem["detail"] and "same Idempotency-Key" in problem["detail"]
        other = await api.post(url, json=message("something else"), headers=key, timeout=20)
        refused(other, 422, "Idempotency-Key", "different request")
        unkeyed = await api.post(url, json=message("no key"), timeout=20)
        assert unkeyed.status_code == 503 and "read the case before" in unkeyed.json()["detail"]

    async with serving(quick, dev_server_env, engine=engine) as api:  # a worker is back

        async def messages() -> Counter[str] | None:
            entries = (await api.get(f"/v1/disputes/{dispute_id}")).json()["timeline"]
            found = Counter(e["detail"]["text"] for e in entries if e["event"] == "message")
            return found if len(found) == 2 else None

        # Both were applied late, as their answers warned, each once: the keyed one was sent twice.
        assert await eventually(messages, seconds=30) == Counter({"while nobody works": 1, "no key": 1})
        retried = await api.post(url, json=message("while nobody works"), headers=key, timeout=30)
        assert retried.status_code == 200, retried.text
        assert retried.json()["message_count"] == 2
