"""Bounded history: a long dispute continues as new and reads the same, and a case has a limit."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.commands import MakeOffer, SendMessage
from domain.dispute import OpenDisputeInput, Reason
from domain.ids import dispute_workflow_id
from domain.types import DisputePolicy, Solution, SolutionKind
from tests.factories import BUYER, SELLER
from tests.support import serving
from workflows.base import Ack
from workflows.dispute import DisputeRun, DisputeWorkflow
from workflows.requests import RequestId

TEXT = "x" * 500


def claim(order_id: str, policy: DisputePolicy) -> DisputeRun:
    return DisputeRun(
        open=OpenDisputeInput(
            order_id=order_id,
            buyer_id=BUYER.id,
            seller_id=SELLER.id,
            order_total=100_000,
            reason=Reason.DAMAGED,
            requested_solution=Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=100_000),
            description="Cracked screen",
            policy=policy,
        )
    )


async def history_runs(
    env: WorkflowEnvironment, workflow_id: str, first_run_id: str
) -> list[tuple[int, int]]:
    """(events, bytes) of every run of the workflow, from its first run through each continue-as-new."""
    sizes: list[tuple[int, int]] = []
    run_id: str | None = first_run_id
    while run_id:
        history = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        sizes.append((len(history.events), sum(event.ByteSize() for event in history.events)))
        last = history.events[-1]
        run_id = None
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return sizes


async def say(handle: WorkflowHandle[Any, Any], index: int, *, update_id: str | None = None) -> Ack:
    """One message, retried as a client does while the case asks it to wait (CaseBusy, a 429)."""
    actor = BUYER if index % 2 == 0 else SELLER
    command = SendMessage(actor=actor, text=f"{index} {TEXT}")
    while True:
        try:
            ack: Ack = await handle.execute_update("message", command, id=update_id, result_type=Ack)
            return ack
        except WorkflowUpdateFailedError as error:
            if not (isinstance(error.cause, ApplicationError) and error.cause.type == "CaseBusy"):
                raise
            await asyncio.sleep(0.2)


@pytest.fixture
def settings(task_queue: str, tmp_path: Path) -> Settings:
    return Settings(task_queue=task_queue, data_dir=tmp_path, history_max_events=1000, max_messages=2500)


async def test_two_thousand_messages_continue_as_new_and_read_the_same(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    policy = settings.dispute_policy()
    async with serving(settings, time_skipping_env) as api:
        order = f"o-{uuid.uuid4().hex[:8]}"
        handle = await time_skipping_env.client.start_workflow(
            DisputeWorkflow.run,
            claim(order, policy),
            id=dispute_workflow_id(order),
            task_queue=settings.task_queue,
        )
        first_run = handle.result_run_id
        assert first_run is not None
        early = RequestId("k-early", "fingerprint-1")
        first_ack = await say(handle, 0, update_id=early.update_id())
        await handle.execute_update(
            "offer",
            MakeOffer(actor=SELLER, solution=Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=60_000)),
            result_type=Ack,
        )
        before = (await api.get(f"/v1/disputes/{handle.id}")).json()

        semaphore = asyncio.Semaphore(5)  # below Temporal's 10 in-flight updates per workflow

        async def one(index: int) -> None:
            async with semaphore:
                await say(handle, index)

        await asyncio.gather(*(one(index) for index in range(1, 2000)))
        assert (await say(handle, 2000)).entry == 2003  # the last message, after every other one

        runs = await history_runs(time_skipping_env, handle.id, first_run)
        assert len(runs) >= 3, runs  # it continued as new, more than once
        assert all(events <= 2 * settings.history_max_events for events, _ in runs), runs

        async def settled() -> dict[str, Any]:
            body: dict[str, Any] = (await api.get(f"/v1/disputes/{handle.id}")).json()
            return body if len(body["timeline"]) == 2003 else {}

        async def wait() -> dict[str, Any]:
            for _ in range(200):
                if found := await settled():
                    return found
                await asyncio.sleep(0.1)
            raise AssertionError("the timeline never reached 2003 entries")

        after = await wait()
        timeline = after["timeline"]
        assert [entry["seq"] for entry in timeline] == list(range(1, 2004))
        assert [entry["event"] for entry in timeline].count("message") == 2001
        assert timeline[0]["event"] == "opened" and timeline[2]["event"] == "offer"
        # the same dispute: status, whose turn, deadlines, offers and what each party may do
        for field in ("status", "current_offer", "allowed_actions", "proposals", "requested_solution"):
            assert after[field] == before[field], field
        # the buyer's turn clock restarted with the buyer's last message, as it does in one run
        # (compared as times: "...:13Z" sorts after "...:13.398000Z" as text)
        last_buyer = max(
            datetime.fromisoformat(e["at"]) for e in timeline if e["actor"] and e["actor"]["role"] == "buyer"
        )
        due = last_buyer + policy.turn_inactivity
        assert datetime.fromisoformat(after["buyer_inactive_at"]) == due

        # a request made in the first run is still deduped after continuing as new
        again = await say(handle, 0, update_id=early.update_id())
        assert again.duplicate and again.entry == first_ack.entry
        with pytest.raises(WorkflowUpdateFailedError) as reused:
            await say(handle, 7, update_id=RequestId("k-early", "fingerprint-2").update_id())
        assert isinstance(reused.value.cause, ApplicationError)
        assert reused.value.cause.type == "IdempotencyKeyReused"


async def test_a_three_hundred_message_dispute_stays_under_one_and_a_quarter_megabytes(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    policy = settings.dispute_policy().model_copy(update={"history_max_events": 100_000})
    async with serving(settings, time_skipping_env):
        order = f"o-{uuid.uuid4().hex[:8]}"
        handle = await time_skipping_env.client.start_workflow(
            DisputeWorkflow.run,
            claim(order, policy),
            id=dispute_workflow_id(order),
            task_queue=settings.task_queue,
        )
        for index in range(300):
            await say(handle, index)
        await asyncio.sleep(0.5)
        assert handle.result_run_id is not None
        [(events, size)] = await history_runs(time_skipping_env, handle.id, handle.result_run_id)
    assert size < 1.25 * 1024 * 1024, size
    # about 3.4 KB per message beyond the message itself (its text in the update and in the
    # timeline): each message, answered once stored, has a publish step of its own carrying the
    # case's compact state for the read model, and its notice carries its template, parameters,
    # locale and rendered text (2.6 KB when answers came before the store and notices were English
    # sentences; a change's webhook events get its notices in the activity, not twice in history)
    per_message = size / 300 - 2 * len(TEXT)
    assert per_message < 3500, per_message
    assert events < 300 * 12, events


async def test_a_case_refuses_messages_past_its_limit(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    settings = Settings(task_queue=task_queue, data_dir=tmp_path, max_messages=3)
    async with serving(settings, dev_server_env) as api:
        order = f"o-{uuid.uuid4().hex[:8]}"
        opened = await api.post(
            "/v1/disputes",
            json={
                "order_id": order,
                "buyer_id": BUYER.id,
                "seller_id": SELLER.id,
                "order_total": 10_000,
                "reason": "DAMAGED",
                "requested_solution": {"kind": "EXCHANGE"},
                "description": "Cracked lid",
            },
        )
        dispute_id = opened.json()["id"]
        said = [
            await api.post(
                f"/v1/disputes/{dispute_id}/messages",
                json={"actor": BUYER.model_dump(mode="json"), "text": f"message {index}"},
            )
            for index in range(4)
        ]
        assert [response.status_code for response in said] == [200, 200, 200, 409]
        refused = said[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["title"] == "Limit reached"
        assert refused.json()["limit"] == 3
        assert "3 messages" in refused.json()["detail"]
        # other actions still work: the limit is on messages only
        accepted = await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": SELLER.model_dump()})
        assert accepted.status_code == 200, accepted.text
