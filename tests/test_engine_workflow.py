"""The engine's guarantees, whatever the kind of case: a lane that raises fails the workflow task
(visible, retried) and a worker with the fix carries the case on; the unpublished-entries limit
holds for CloudEvents (signals) too; continue-as-new comes before Temporal's own limits."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.effects import CaseActivities
from activities.models import PublishInput, PublishResult
from core.settings import Settings
from domain.commands import IngestedEvent, SendMessage
from domain.dispute import Dispute, DisputeStatus
from domain.effects import EffectName, Lane, Repair
from domain.ids import dispute_workflow_id
from domain.kinds import KINDS
from domain.types import (
    HISTORY_BYTES_CEILING,
    HISTORY_EVENTS_CEILING,
    TEMPORAL_HISTORY_BYTES,
    TEMPORAL_HISTORY_EVENTS,
    CasePolicy,
    DisputePolicy,
    history_ceilings,
)
from tests.factories import BUYER, SELLER
from tests.support import eventually, serving
from tests.test_long_case import claim
from workflows.base import UNPUBLISHED_LIMIT, Ack, Jobs
from workflows.dispute import DisputeRun, DisputeWorkflow
from workflows.kinds import case_workflows, workflow_of


def opening(order: str) -> DisputeRun:
    return claim(order, DisputePolicy())


def accepted_by_seller(event_id: str) -> IngestedEvent:
    return IngestedEvent(
        id=event_id,
        type="com.marketplace.dispute.seller.accept",
        action="accept",
        body={"actor": SELLER.model_dump(mode="json")},
    )


# -- failures are visible ---------------------------------------------------------------------


async def workflow_task_failures(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The messages of the workflow task failures in the case's history."""
    history = await handle.fetch_history()
    return [
        event.workflow_task_failed_event_attributes.failure.message
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]


async def test_a_lane_that_raises_fails_the_workflow_task_and_a_fixed_worker_carries_the_case_on(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A faulty rule in the money lane: the workflow task fails (in history, and the pending
    task's attempts count up, as the Web UI shows), the case does not silently wait; a worker
    without the fault replays the same history and pays out and closes the same case."""
    settings = Settings(task_queue=task_queue, data_dir=tmp_path)
    client = dev_server_env.client
    order = f"o-{uuid.uuid4().hex[:8]}"

    def faulty(self: Dispute) -> list[Any]:
        raise RuntimeError("faulty payout rule")

    with monkeypatch.context() as fault:
        fault.setattr(Dispute, "remaining_payouts", faulty)
        async with serving(settings, dev_server_env):
            handle = await client.start_workflow(
                DisputeWorkflow.run, opening(order), id=dispute_workflow_id(order), task_queue=task_queue
            )
            await handle.signal(DisputeWorkflow.ingest, accepted_by_seller("accept-1"))

            failures = await eventually(lambda: workflow_task_failures(handle), seconds=30)
            assert any("faulty payout rule" in message for message in failures), failures

            async def attempts() -> int:
                described = await handle.describe()
                return described.raw_description.pending_workflow_task.attempt

            assert await eventually(lambda: _at_least(2, attempts), seconds=30)
    gc.collect()

    async with serving(settings, dev_server_env):
        outcome = await asyncio.wait_for(handle.result(), timeout=60)
    gc.collect()
    assert outcome.status is DisputeStatus.RESOLVED
    assert outcome.refunded_to_buyer == 100_000
    assert (await handle.describe()).run_id == handle.result_run_id


async def _at_least(least: int, count: Callable[[], Awaitable[int]]) -> bool:
    return await count() >= least


# -- hard ceilings ----------------------------------------------------------------------------


def test_a_policy_cannot_set_history_bounds_that_twice_pass_temporals_limits() -> None:
    assert 2 * HISTORY_EVENTS_CEILING < TEMPORAL_HISTORY_EVENTS
    assert 2 * HISTORY_BYTES_CEILING < TEMPORAL_HISTORY_BYTES
    with pytest.raises(ValidationError, match="history_max_events"):
        Settings(history_max_events=30_000)
    with pytest.raises(ValidationError, match="history_max_bytes"):
        Settings(history_max_bytes=30 * 1024 * 1024)


def test_a_policy_recorded_with_larger_bounds_still_decodes_and_is_held_to_the_ceilings() -> None:
    """A running case's input recorded before the check keeps decoding; the engine clamps it."""
    recorded = CasePolicy.model_validate({"history_max_events": 10**6, "history_max_bytes": 10**10})
    assert history_ceilings(recorded) == (HISTORY_EVENTS_CEILING, HISTORY_BYTES_CEILING)
    assert history_ceilings(DisputePolicy()) == (10_000, 4 * 1024 * 1024)


async def test_cloudevents_wait_while_a_case_holds_its_limit_of_unpublished_entries(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """The store is slow: the first publish step hangs. Actions over HTTP are refused (CaseBusy)
    past the limit, and CloudEvents (signals, which cannot be refused) wait in the case instead of
    growing its backlog; once the store answers, every one of them is applied, in order, once."""
    gate = asyncio.Event()

    @activity.defn(name="publish_change")
    async def slow_store(change: PublishInput) -> PublishResult:
        await gate.wait()
        return PublishResult()

    client = time_skipping_env.client
    order = f"o-{uuid.uuid4().hex[:8]}"
    count = UNPUBLISHED_LIMIT + 30
    async with Worker(client, task_queue=task_queue, workflows=case_workflows(), activities=[slow_store]):
        handle = await client.start_workflow(
            DisputeWorkflow.run, opening(order), id=dispute_workflow_id(order), task_queue=task_queue
        )
        for index in range(count):
            said = {"actor": BUYER.model_dump(mode="json"), "text": f"message {index}"}
            await handle.signal(
                DisputeWorkflow.ingest,
                IngestedEvent(
                    id=f"chat-{index}",
                    type="com.marketplace.dispute.buyer.message",
                    action="message",
                    body=said,
                ),
            )
        state: Dispute = await handle.query(DisputeWorkflow.state)
        assert len(state.timeline) == UNPUBLISHED_LIMIT  # the opening entry and the first messages
        assert state.message_count == UNPUBLISHED_LIMIT - 1
        with pytest.raises(WorkflowUpdateFailedError) as busy:
            await handle.execute_update("message", SendMessage(actor=SELLER, text="hello"), result_type=Ack)
        assert isinstance(busy.value.cause, ApplicationError) and busy.value.cause.type == "CaseBusy"
        # a redelivered event is still applied once
        await handle.signal(
            DisputeWorkflow.ingest,
            IngestedEvent(
                id="chat-0",
                type="com.marketplace.dispute.buyer.message",
                action="message",
                body={"text": "again"},
            ),
        )

        gate.set()

        async def caught_up() -> Dispute | None:
            state: Dispute = await handle.query(DisputeWorkflow.state)
            return state if state.message_count == count and not state.timeline else None

        state = await eventually(caught_up, seconds=30)
        assert state.timeline_seq == 1 + count
        await handle.terminate("test over")
    gc.collect()


# -- the registries ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS), ids=lambda kind: kind.name)
def test_every_registered_effect_names_an_activity_the_worker_runs(kind: Any) -> None:
    """A kind of effect is one registry entry plus one adapter method behind a case activity."""
    for spec in kind.effects:
        defined = activity._Definition.from_callable(getattr(CaseActivities, spec.activity))
        assert defined is not None and defined.name == spec.activity, spec
    assert kind.effects[EffectName.PUBLISH].lane is Lane.PUBLISH
    assert not kind.effects[EffectName.PUBLISH].repaired_by(Repair.BY_HAND)
    assert workflow_of(kind).workflow in case_workflows()


def test_keys_and_windows_come_from_the_registry() -> None:
    dispute = KINDS.named("dispute")
    policy = DisputePolicy(money_retry_window=timedelta(hours=3))
    refund = dispute.effects[EffectName.REFUND_TO_BUYER]
    assert refund.key("dispute-o-1") == "dispute-o-1:refund_to_buyer"
    assert refund.retry_window(policy) == timedelta(hours=3)
    assert refund.repaired_by(Repair.NEW_DECISION)
    assert dispute.effects[EffectName.CARE_ASSIGNED].key("dispute-o-1") == "dispute-o-1:assign"
    assert EffectName.MEDIATION_OPENED.recorded_as == "MEDIATION_OPENED"
    assert EffectName.MEDIATION_OPENED.value == "mediation"
    assert Lane.MONEY not in KINDS.named("ticket").effects.lanes()


def test_care_desk_steps_carried_from_a_run_before_the_effect_registry_still_decode() -> None:
    """A run that continued as new on older code carried its care desk steps as ``CareJob``
    (a ``kind`` tag with optional fields); they decode as the registry's steps, same keys."""
    mediation = {
        "case_id": "dispute-o-1",
        "order_id": "o-1",
        "buyer_id": "b-1",
        "seller_id": "s-1",
        "escalated_by": "buyer",
        "idempotency_key": "dispute-o-1:mediation",
    }
    target = {
        "case_id": "dispute-o-1",
        "due_at": "2026-01-02T00:00:00Z",
        "summary": "care decision on dispute-o-1",
        "idempotency_key": "dispute-o-1:care_decision_breached:2026-01-01T00:00:00+00:00",
    }
    jobs = Jobs.model_validate(
        {
            "publish": [],
            "care": [
                {"kind": "mediation", "mediation": mediation, "target": None, "aim": "care_reply"},
                {"kind": "breach", "mediation": None, "target": target, "aim": "care_decision"},
                {"kind": "warning", "target": target | {"idempotency_key": "k-w"}},
            ],
        }
    )
    assert [(job.effect, job.key, job.summary) for job in jobs.care] == [
        (EffectName.MEDIATION_OPENED, "dispute-o-1:mediation", "open mediation case"),
        (EffectName.CARE_DECISION_BREACHED, target["idempotency_key"], "care decision breach escalation"),
        (EffectName.CARE_REPLY_WARNING, "k-w", "care reply warning"),
    ]
    assert jobs.care[0].input == mediation
