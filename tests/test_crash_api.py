"""The API killed between a client's request and its response: the client's retry with the same
Idempotency-Key gets the first outcome, and the case applies the action once.

Real processes against the session's dev server: the API under uvicorn (SIGKILLed and started
again on the same port) and ``worker.py``, effects sent to the platform's endpoints in the test."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sqlite3
import uuid
from collections import Counter
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from tests.processes import (
    APPLIED,
    Platform,
    Service,
    effects_over_http,
    endpoint,
    fresh,
    open_dispute,
    post,
    record_figures,
    scale,
    service,
    settled,
    temporal_address,
    until,
)
from tests.support import API_KEYS, BUYER, PLATFORM_KEY, SELLER
from workflows.requests import RequestId


class KeyedRequest:
    """One keyed POST as the API and the case know it: the key's record in the service database and
    the update id the case runs it under (both derived as api/cases.py derives them)."""

    def __init__(self, path: str, body: dict[str, Any]) -> None:
        self.path = path
        self.body = body
        self.key = f"k-{uuid.uuid4().hex}"
        caller = API_KEYS[PLATFORM_KEY].name
        self.digest = hashlib.sha256(f"{caller}\0{self.key}".encode()).hexdigest()[:40]
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        fingerprint = hashlib.sha256(f"POST {path}\n{canonical}".encode()).hexdigest()
        self.update_id = RequestId(self.digest, fingerprint[:32]).update_id()
        self.first: httpx.Response | None = None

    @property
    def case_id(self) -> str:
        return self.path.split("/")[3]

    async def send(self, http: httpx.AsyncClient) -> None:
        """The first attempt; the API may die before it answers."""
        try:
            self.first = await http.post(self.path, json=self.body, headers={"Idempotency-Key": self.key})
        except httpx.TransportError:
            self.first = None

    def record(self, deployment: Service) -> tuple[bool, int | None]:
        """Whether the API recorded the key, and the status of the answer it stored, if any."""
        with sqlite3.connect(f"file:{deployment.database}?mode=ro", uri=True, timeout=30) as db:
            row = db.execute(
                "SELECT status_code FROM idempotency_keys WHERE digest = ?", (self.digest,)
            ).fetchone()
        return (row is not None, row[0] if row else None)


async def admitted(env: WorkflowEnvironment, request: KeyedRequest) -> bool:
    """Whether the case has received the request as an update that it has not run yet."""
    handle = env.client.get_workflow_handle(request.case_id).get_update_handle(request.update_id)
    try:
        await handle.result(rpc_timeout=timedelta(seconds=1))
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        return True  # known to the server, waiting for a worker
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    raise AssertionError("the update ran although no worker was polling")


async def right_after_sending(batch: list[KeyedRequest], deployment: Service) -> bool:
    """Kill within 50 ms of sending: most requests have not reached the API yet."""
    await asyncio.sleep(random.uniform(0, 0.05))
    return True


def once_a_key_is_recorded(batch: list[KeyedRequest], deployment: Service) -> bool:
    """Kill once the API has recorded the first key of the batch."""
    return any(request.record(deployment)[0] for request in batch)


def once_an_answer_is_out(batch: list[KeyedRequest], deployment: Service) -> bool:
    """Kill once the first request of the batch has its answer."""
    return any(request.first is not None for request in batch)


#: When each round kills the API, in turn.
KILL_WHEN = [right_after_sending, once_a_key_is_recorded, once_an_answer_is_out]


def message(text: str) -> dict[str, Any]:
    return {"actor": BUYER, "text": text}


def entries(view: dict[str, Any], request: KeyedRequest) -> list[dict[str, Any]]:
    """The timeline entries of the request's action on its case."""
    if request.path.endswith("/messages"):
        text = request.body["text"]
        return [e for e in view["timeline"] if e["event"] == "message" and e["detail"].get("text") == text]
    return [e for e in view["timeline"] if e["event"] == "accept"]


def applied_once(view: dict[str, Any], request: KeyedRequest, notices: list[dict[str, Any]]) -> None:
    """The case shows the request's action once on its timeline, and told the other party once."""
    assert len(entries(view, request)) == 1, (request.case_id, view["timeline"])
    action = "message" if request.path.endswith("/messages") else "accept"
    told = [
        n
        for n in notices
        if n["case_id"] == request.case_id
        and n["template"] == "dispute.party_acted"
        and n["params"]["action"] == action
    ]
    assert len(told) == 1, (request.case_id, told)


async def test_a_retry_after_the_api_died_mid_request_gets_the_first_outcome_once(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    rounds, per_round = scale("API_KILLS", 3), scale("API_REQUESTS", 6)
    platform = Platform()
    async with endpoint(platform.app()) as platform_http:
        settings = effects_over_http(platform_http.url + "/platform")
        async with service(temporal_address(dev_server_env), task_queue, tmp_path, **settings) as deployment:
            worker = deployment.start_worker()
            api = deployment.start_api()
            await deployment.api_ready()
            async with deployment.client() as http:
                # 1. The request reached the case, which has not run it: no worker polls. The API
                #    is killed while it waits; the case runs the update once a worker is back.
                held_case = await open_dispute(http, f"o-{uuid.uuid4().hex[:10]}")
                await worker.stop()
                held = KeyedRequest(f"/v1/disputes/{held_case}/messages", message("Where is my parcel?"))
                sending = asyncio.create_task(held.send(http))
                await until(lambda: held.record(deployment)[0], 60, "the API to record the key")
                await until(lambda: admitted(dev_server_env, held), 60, "the update to reach the case")
                api.kill()
                await sending
                assert held.first is None  # the client saw the connection drop, no answer
                api = deployment.start_api()
                worker = deployment.start_worker()
                await deployment.api_ready()
                retried = await post(http, held.path, held.body, held.key)
                assert retried.status_code in APPLIED, retried.text
                requests = [held]
                retries = {held.key: retried}

                # 2. Rounds of requests, the API killed right after they left the client, as soon
                #    as it recorded the first key, or as soon as the first answer reached the client:
                #    the others are then anywhere between recording their key and being answered.
                cases = await asyncio.gather(
                    *(open_dispute(http, f"o-{uuid.uuid4().hex[:10]}") for _ in range(rounds * per_round))
                )
                for round_ in range(rounds):
                    batch = []
                    for n, case_id in enumerate(cases[round_ * per_round : (round_ + 1) * per_round]):
                        if n % 2:
                            batch.append(KeyedRequest(f"/v1/disputes/{case_id}/accept", {"actor": SELLER}))
                        else:
                            batch.append(KeyedRequest(f"/v1/disputes/{case_id}/messages", message(f"m-{n}")))
                    sending_all = asyncio.gather(*(r.send(http) for r in batch))
                    trigger = KILL_WHEN[round_ % len(KILL_WHEN)]
                    await until(partial(trigger, batch, deployment), 60, "the moment to kill", every=0.01)
                    api.kill()
                    await sending_all
                    api = deployment.start_api()
                    await deployment.api_ready()
                    requests += batch

                where: Counter[str] = Counter()
                for request in requests[1:]:
                    recorded, stored = request.record(deployment)
                    view = await fresh(http, f"/v1/disputes/{request.case_id}")
                    ran = bool(entries(view, request))
                    if request.first is not None:
                        where[f"answered_{request.first.status_code}_before_the_kill"] += 1
                    elif stored is not None:
                        where["after_the_answer_was_stored"] += 1
                    elif ran:
                        where["after_the_case_ran_it"] += 1
                    elif recorded:
                        where["after_the_key_was_recorded"] += 1
                    else:
                        where["before_the_key_was_recorded"] += 1
                    retries[request.key] = await post(http, request.path, request.body, request.key)

                # Every retry succeeds; a retry of a request that was answered gets that answer
                # (the state then, not now); asked again, the API gives the same answer. (A 503,
                # "retry shortly", is no answer to keep: the retry runs the request, once.)
                for request in requests:
                    retry = retries[request.key]
                    assert retry.status_code in APPLIED, (request.path, retry.text)
                    if request.first is not None and request.first.status_code < 500:
                        assert request.first.status_code in APPLIED, request.first.text
                        assert retry.json() == request.first.json()
                    again = await post(http, request.path, request.body, request.key)
                    assert again.json() == retry.json()

                accepted = [r.case_id for r in requests if r.path.endswith("/accept")]
                await settled(http, accepted, seconds=120)
                notices = platform.applied("/notifications")
                for request in requests:
                    applied_once(await fresh(http, f"/v1/disputes/{request.case_id}"), request, notices)
                refunds = platform.applied_per_case("/refunds")
                assert refunds == Counter(accepted)  # one refund per accepted dispute, no other
                errors = deployment.server_errors()
                assert 500 not in errors, errors
    record_figures(
        "api_sigkill",
        {
            "api_kills": rounds + 1,
            "requests": len(requests),
            "kill_landed": dict(where) | {"while_the_case_waited_for_a_worker": 1},
            "retries_answered_200": len(requests),
            "refunds_applied": sum(refunds.values()),
            "duplicates": 0,
            "lost": 0,
            "api_5xx": errors,
        },
    )
