"""The HTTP effect adapters against a real local receiver that dedupes by Idempotency-Key."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.http_adapters import HttpAdapters
from activities.models import AssignInput, MediationInput, NotifyInput, PayoutInput, ReplyTargetInput
from core.settings import Settings
from domain.commands import Accept, MakeOffer
from domain.dispute import OpenDisputeInput, Reason
from domain.effects import EffectName
from domain.ids import dispute_workflow_id
from domain.types import DisputePolicy, Solution, SolutionKind
from store.cases import Timelines
from store.outbox import Outbox
from tests.factories import BUYER, SELLER
from tests.platform import SIGNING_SECRET, Receiver, Seen
from tests.support import eventually
from wiring.temporal import build_worker, case_activities, effect_adapters
from workflows.base import Ack
from workflows.dispute import DisputeRun, DisputeWorkflow


@pytest.fixture
async def http_adapters(
    receiver: Receiver, tmp_path: Path, engine: AsyncEngine
) -> AsyncIterator[HttpAdapters]:
    adapters = effect_adapters(
        Settings(
            effects="http",
            effects_signing_secret=SIGNING_SECRET,
            effects_base_url=receiver.url,
            data_dir=tmp_path,
        ),
        engine,
    )
    assert isinstance(adapters, HttpAdapters)
    yield adapters
    await adapters.aclose()


# -- the real workflow, retried payouts ----------------------------------------------------------


async def start_dispute(env: WorkflowEnvironment, task_queue: str) -> Any:
    order_id = f"o-{uuid.uuid4().hex[:8]}"
    return await env.client.start_workflow(
        DisputeWorkflow.run,
        DisputeRun(
            open=OpenDisputeInput(
                order_id=order_id,
                buyer_id=BUYER.id,
                seller_id=SELLER.id,
                order_total=150_000,
                reason=Reason.NOT_RECEIVED,
                requested_solution=Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=150_000),
                description="The parcel never arrived",
                policy=DisputePolicy(),
            )
        ),
        id=dispute_workflow_id(order_id),
        task_queue=task_queue,
    )


async def test_retried_payouts_reach_the_platform_once_per_key(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    tmp_path: Path,
    engine: AsyncEngine,
    receiver: Receiver,
) -> None:
    settings = Settings(
        effects="http",
        effects_signing_secret=SIGNING_SECRET,
        effects_base_url=receiver.url,
        task_queue=task_queue,
        data_dir=tmp_path,
    )
    activities = case_activities(settings, time_skipping_env.client, engine)
    assert isinstance(activities.payments, HttpAdapters)
    # the provider applies the first two refund calls and the first release call, then the
    # responses are lost: only the stable key keeps the retries from paying again
    receiver.fail_after_applying = {"/refunds": 2, "/releases": 1}
    try:
        async with build_worker(time_skipping_env.client, settings, activities, engine):
            handle = await start_dispute(time_skipping_env, task_queue)
            offer = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=40_000)
            await handle.execute_update("offer", MakeOffer(actor=SELLER, solution=offer), result_type=Ack)
            await handle.execute_update("accept", Accept(actor=BUYER), result_type=Ack)
            outcome = await handle.result()
    finally:
        await activities.payments.aclose()

    assert (outcome.refunded_to_buyer, outcome.released_to_seller) == (40_000, 110_000)
    refund_calls, release_calls = receiver.seen("/refunds"), receiver.seen("/releases")
    assert len(refund_calls) == 3 and len(release_calls) == 2
    assert {c.key for c in refund_calls} == {f"{handle.id}:refund_to_buyer"}
    assert {c.key for c in release_calls} == {f"{handle.id}:release_to_seller"}
    assert receiver.applied("/refunds") == [{"case_id": handle.id, "party_id": "b-1", "amount": 40_000}]
    assert receiver.applied("/releases") == [{"case_id": handle.id, "party_id": "s-1", "amount": 110_000}]

    recorded = await Outbox(engine).for_case(handle.id)
    payouts = [(e.kind, e.party_id, e.amount) for e in recorded if e.amount is not None]
    assert payouts == [
        (EffectName.REFUND_TO_BUYER, "b-1", 40_000),
        (EffectName.RELEASE_TO_SELLER, "s-1", 110_000),
    ]
    # the notifications the platform delivered are in the outbox too (the API's view of effects)
    notified = {e.idempotency_key for e in recorded if e.kind is EffectName.NOTIFICATION}
    assert notified == {c.key for c in receiver.seen("/notifications")} and notified


async def test_refused_notification_is_recorded_and_the_case_goes_on(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    tmp_path: Path,
    engine: AsyncEngine,
    receiver: Receiver,
) -> None:
    settings = Settings(
        effects="http",
        effects_signing_secret=SIGNING_SECRET,
        effects_base_url=receiver.url,
        task_queue=task_queue,
        data_dir=tmp_path,
    )
    activities = case_activities(settings, time_skipping_env.client, engine)
    assert isinstance(activities.payments, HttpAdapters)
    receiver.refuse["/notifications"] = (400, {})

    try:
        async with build_worker(time_skipping_env.client, settings, activities, engine):
            handle = await start_dispute(time_skipping_env, task_queue)

            async def recorded_on_the_case() -> list[Any]:
                stored = await Timelines(engine).for_case(handle.id)
                state = await handle.query(DisputeWorkflow.state)
                return [e for e in [*stored, *state.timeline] if e.event == "effect_failed"]

            # the refusal is recorded on the case, which goes on (a lost notice must not fail it)
            failed = await eventually(recorded_on_the_case, seconds=5)
            assert failed[0].detail["idempotency_key"] == f"{handle.id}:notice:1"
            assert "answered 400" in failed[0].detail["reason"]
            described = await handle.describe()
            assert described.status == WorkflowExecutionStatus.RUNNING
            # the publish step itself succeeded: nothing was retried, nothing failed in history
            failures = [
                event
                async for event in handle.fetch_history_events()
                if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
            ]
            assert failures == []
    finally:
        await activities.payments.aclose()

    assert len(receiver.seen("/notifications")) == 1
    assert [e for e in await Outbox(engine).for_case(handle.id) if e.kind is EffectName.NOTIFICATION] == []


# -- one activity at a time ----------------------------------------------------------------------


async def test_payout_is_posted_as_json_under_its_key(
    http_adapters: HttpAdapters, receiver: Receiver, tmp_path: Path, engine: AsyncEngine
) -> None:
    request = PayoutInput(
        case_id="dispute-o-9", party_id="b-9", amount=25_000, idempotency_key="dispute-o-9:k"
    )

    effect = await http_adapters.refund_buyer(request)

    [seen] = receiver.requests
    assert seen == Seen(
        path="/refunds",
        key="dispute-o-9:k",
        content_type="application/json",
        body={"case_id": "dispute-o-9", "party_id": "b-9", "amount": 25_000},
    )
    assert (effect.kind, effect.party_id, effect.amount, effect.seq) == (
        EffectName.REFUND_TO_BUYER,
        "b-9",
        25_000,
        1,
    )
    assert await Outbox(engine).for_case("dispute-o-9") == [effect]


async def test_care_desk_answers_are_used(
    http_adapters: HttpAdapters, receiver: Receiver, tmp_path: Path, engine: AsyncEngine
) -> None:
    receiver.replies = {
        "/care-desk/mediations": {"case_ref": "CD-77"},
        "/care-desk/assignments": {"assignee": "agent-42"},
    }
    mediation = MediationInput(
        case_id="dispute-o-9", order_id="o-9", buyer_id="b-9", seller_id="s-9", escalated_by="buyer",
        idempotency_key="dispute-o-9:mediation",
    )  # fmt: skip
    due = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    target = ReplyTargetInput(
        case_id="dispute-o-9", due_at=due, summary="reply due", idempotency_key="k-warn"
    )

    case = await http_adapters.open_mediation(mediation)
    assigned = await http_adapters.assign(
        AssignInput(case_id="dispute-o-9", case_ref=case.case_ref, idempotency_key="dispute-o-9:assign"),
    )
    await http_adapters.reply_target(EffectName.CARE_REPLY_WARNING, target)

    assert (case.case_ref, assigned.assignee) == ("CD-77", "agent-42")
    assert receiver.seen("/care-desk/assignments")[0].body == {"case_id": "dispute-o-9", "case_ref": "CD-77"}
    assert receiver.seen("/care-desk/reply-targets")[0].body == {
        "kind": "CARE_REPLY_WARNING",
        "case_id": "dispute-o-9",
        "due_at": "2030-01-02T03:04:00Z",
        "summary": "reply due",
    }
    recorded = await Outbox(engine).for_case("dispute-o-9")
    assert [(e.kind, e.party_id) for e in recorded] == [
        (EffectName.MEDIATION_OPENED, None),
        (EffectName.CARE_ASSIGNED, "agent-42"),
        (EffectName.CARE_REPLY_WARNING, "care-supervisor"),
    ]
    assert recorded[1].text == "CD-77 assigned to agent-42"


async def test_mediation_reference_is_derived_when_the_desk_sends_none(
    http_adapters: HttpAdapters, receiver: Receiver
) -> None:
    mediation = MediationInput(
        case_id="dispute-o-8", order_id="o-8", buyer_id="b-8", seller_id="s-8", escalated_by="seller",
        idempotency_key="dispute-o-8:mediation",
    )  # fmt: skip
    case = await http_adapters.open_mediation(mediation)
    assert case.case_ref == "med-dispute-o-8"


NOTICE = NotifyInput(case_id="dispute-o-9", party="seller", party_id="s-9", text="hi", idempotency_key="n-1")


@pytest.mark.parametrize(
    ("status", "headers", "error_type", "retry_delay"),
    [
        (400, {}, "EffectRejected", None),
        (404, {}, "EffectRejected", None),
        (422, {}, "EffectRejected", None),
        (408, {}, "EffectUnavailable", None),
        (409, {}, "EffectUnavailable", None),
        (429, {"Retry-After": "7"}, "EffectUnavailable", timedelta(seconds=7)),
        (500, {}, "EffectUnavailable", None),
        (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, "EffectUnavailable", None),
    ],
)
async def test_only_final_client_errors_are_not_retried(
    http_adapters: HttpAdapters,
    receiver: Receiver,
    tmp_path: Path,
    engine: AsyncEngine,
    status: int,
    headers: dict[str, str],
    error_type: str,
    retry_delay: timedelta | None,
) -> None:
    receiver.refuse["/notifications"] = (status, headers)

    with pytest.raises(ApplicationError) as failure:
        await http_adapters.notify(NOTICE)

    assert failure.value.type == error_type
    assert failure.value.non_retryable is (error_type == "EffectRejected")
    assert failure.value.next_retry_delay == retry_delay
    assert f"answered {status}" in failure.value.message
    assert await Outbox(engine).for_case("dispute-o-9") == []


async def test_unreachable_platform_is_retried(tmp_path: Path, engine: AsyncEngine) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapters = effect_adapters(
        Settings(
            effects="http",
            effects_signing_secret=SIGNING_SECRET,
            effects_base_url=f"http://127.0.0.1:{port}",
            data_dir=tmp_path,
        ),
        engine,
    )
    assert isinstance(adapters, HttpAdapters)
    try:
        with pytest.raises(ApplicationError) as failure:
            await adapters.notify(NOTICE)
        # retryable, short, and unchained (a long chain would outgrow the server's failure limit)
        assert failure.value.type == "EffectUnavailable"
        assert not failure.value.non_retryable
        assert "ConnectError" in failure.value.message and len(failure.value.message) <= 500
        assert failure.value.__cause__ is None
    finally:
        await adapters.aclose()
    assert await Outbox(engine).for_case("dispute-o-9") == []


@pytest.mark.parametrize("base_url", [None, "", "ftp://platform.example"])
async def test_http_mode_needs_an_http_base_url(
    tmp_path: Path, engine: AsyncEngine, base_url: str | None
) -> None:
    with pytest.raises(ValueError, match=r"DISPUTES_EFFECTS_BASE_URL|http\(s\)"):
        effect_adapters(
            Settings(
                effects="http",
                effects_signing_secret=SIGNING_SECRET,
                effects_base_url=base_url,
                data_dir=tmp_path,
            ),
            engine,
        )
