"""DisputeWorkflow on the time-skipping server: the 3-day rule, the 24-hour care target, payouts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.adapters import OutboxAdapters
from activities.models import PayoutInput
from core import search_attributes as sa
from core.settings import Settings
from domain.commands import (
    Accept,
    Appeal,
    CareReply,
    Command,
    ConfirmReceipt,
    Decide,
    MakeOffer,
    Reject,
    RequestHelp,
    SendMessage,
    Ship,
)
from domain.dispute import Dispute, DisputeStatus, OpenDisputeInput, Reason
from domain.effects import EffectName
from domain.ids import dispute_workflow_id
from domain.types import Actor, DisputePolicy, Role, Solution, SolutionKind
from domain.views import DisputeView, merge_timeline
from store.cases import Timelines
from store.outbox import Effect, Outbox
from tests.factories import BUYER, CARE, SELLER
from tests.support import search_attributes
from wiring.temporal import build_worker, case_activities
from workflows.base import Ack
from workflows.dispute import DisputeRun, DisputeWorkflow

REFUND = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=150_000)
POLICY = DisputePolicy(
    buyer_inactivity=timedelta(days=3),
    care_reply_target=timedelta(hours=24),
    care_reply_warning=timedelta(hours=20),
)


class FlakyPayments(OutboxAdapters):
    """Records through the outbox but fails the first call of each payout, as a flaky PSP would,
    after having applied it: the retry must not pay twice."""

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(outbox)
        self.calls: list[str] = []

    async def refund_buyer(self, request: PayoutInput) -> Effect:
        self.calls.append(request.idempotency_key)
        effect = await super().refund_buyer(request)
        if self.calls.count(request.idempotency_key) == 1:
            raise RuntimeError("payment provider timed out after applying the refund")
        return effect

    async def release_to_seller(self, request: PayoutInput) -> Effect:
        self.calls.append(request.idempotency_key)
        effect = await super().release_to_seller(request)
        if self.calls.count(request.idempotency_key) == 1:
            raise RuntimeError("payment provider timed out after applying the release")
        return effect


class Case:
    """One dispute under test: its handle, outbox and helpers to act on it."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], outbox: Outbox) -> None:
        self.env = env
        self.handle = handle
        self.outbox = outbox

    async def act(self, command: Command) -> DisputeView:
        await self.handle.execute_update(command.action, command, result_type=Ack)
        return await self.state()

    async def refused(self, command: Command) -> ApplicationError:
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await self.handle.execute_update(command.action, command, result_type=Ack)
        cause = failure.value.cause
        assert isinstance(cause, ApplicationError)
        return cause

    async def state(self) -> DisputeView:
        """The dispute as the API shows it: the state merged with the stored timeline."""
        dispute: Dispute = await self.handle.query(DisputeWorkflow.state)
        return DisputeView.of(
            dispute,
            merge_timeline(await Timelines(self.outbox.engine).for_case(self.handle.id), dispute.timeline),
        )

    async def effects(self, kind: EffectName | None = None) -> list[Effect]:
        effects = await self.outbox.for_case(self.handle.id)
        return [e for e in effects if kind is None or e.kind is kind]


@pytest.fixture
async def worker_and_payments(
    time_skipping_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, engine: AsyncEngine
) -> AsyncIterator[FlakyPayments]:
    settings = Settings(task_queue=task_queue, data_dir=tmp_path)
    adapters = FlakyPayments(Outbox(engine))
    activities = case_activities(settings, time_skipping_env.client, engine)
    activities.payments = adapters
    worker: Worker = build_worker(time_skipping_env.client, settings, activities, engine)
    async with worker:
        yield adapters


@pytest.fixture
async def open_case(
    time_skipping_env: WorkflowEnvironment, task_queue: str, worker_and_payments: FlakyPayments
) -> Any:
    async def _open(solution: Solution = REFUND, order_total: int = 150_000) -> Case:
        order_id = f"o-{uuid.uuid4().hex[:8]}"
        handle = await time_skipping_env.client.start_workflow(
            DisputeWorkflow.run,
            DisputeRun(
                open=OpenDisputeInput(
                    order_id=order_id,
                    buyer_id=BUYER.id,
                    seller_id=SELLER.id,
                    order_total=order_total,
                    reason=Reason.NOT_RECEIVED,
                    requested_solution=solution,
                    description="The parcel never arrived",
                    evidence=["ev-tracking-screenshot"],
                    policy=POLICY,
                )
            ),
            id=dispute_workflow_id(order_id),
            task_queue=task_queue,
        )
        return Case(time_skipping_env, handle, worker_and_payments.outbox)

    return _open


async def test_seller_help_refused_until_buyer_silent_three_days(open_case: Any) -> None:
    case: Case = await open_case()
    await case.act(
        MakeOffer(actor=SELLER, solution=Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=50_000)),
    )

    refused = await case.refused(RequestHelp(actor=SELLER))
    assert refused.type == "InvalidTransition"

    await case.env.sleep(timedelta(days=3, minutes=1))
    state = await case.state()
    assert state.inactive_party is Role.BUYER
    assert "help" in state.allowed_actions[Role.SELLER]
    told = [e for e in await case.effects(EffectName.NOTIFICATION) if e.party == "seller"]
    assert any(e.template == "dispute.party_inactive" and "Minta Bantuan" in (e.text or "") for e in told)

    escalated = await case.act(RequestHelp(actor=SELLER, note="buyer is gone"))
    assert escalated.status is DisputeStatus.IN_MEDIATION
    assert escalated.escalated_by is Role.SELLER


async def test_buyer_action_restarts_the_inactivity_clock(open_case: Any) -> None:
    case: Case = await open_case()
    await case.act(Appeal(actor=SELLER, reason="Tracking shows delivered"))

    await case.env.sleep(timedelta(days=2))
    after_message = await case.act(SendMessage(actor=BUYER, text="Still waiting"))
    assert after_message.buyer_inactive_at is not None

    await case.env.sleep(timedelta(days=2))  # four days since the appeal, two since the message
    refused = await case.refused(RequestHelp(actor=SELLER))
    assert refused.type == "InvalidTransition"
    assert refused.details[0]["allowed_actions"]["seller"] == ["message", "offer"]

    await case.env.sleep(timedelta(days=1, minutes=1))
    escalated = await case.act(RequestHelp(actor=SELLER))
    assert escalated.status is DisputeStatus.IN_MEDIATION


async def test_care_reply_in_time_has_no_warning_and_no_breach(open_case: Any) -> None:
    case: Case = await open_case()
    await case.act(MakeOffer(actor=SELLER, solution=Solution(kind=SolutionKind.SEND_REMAINING)))
    await case.act(RequestHelp(actor=BUYER))

    await case.env.sleep(timedelta(hours=19))
    replied = await case.act(CareReply(actor=CARE, text="Looking into it"))
    assert replied.care_reply_due_at is None

    await case.env.sleep(timedelta(days=2))
    state = await case.state()
    assert state.sla_breached is False
    assert await case.effects(EffectName.CARE_REPLY_WARNING) == []
    assert await case.effects(EffectName.CARE_REPLY_BREACHED) == []
    kinds = [e.kind for e in await case.effects()]
    assert EffectName.MEDIATION_OPENED in kinds and EffectName.CARE_ASSIGNED in kinds


async def test_missed_care_reply_warns_then_breaches_and_escalates(open_case: Any) -> None:
    case: Case = await open_case()
    await case.act(MakeOffer(actor=SELLER, solution=Solution(kind=SolutionKind.SEND_REMAINING)))
    escalated = await case.act(RequestHelp(actor=BUYER))
    assert escalated.care_reply_due_at == escalated.escalated_at + timedelta(hours=24)  # type: ignore[operator]

    await case.env.sleep(timedelta(hours=20, minutes=1))
    assert len(await case.effects(EffectName.CARE_REPLY_WARNING)) == 1
    assert (await case.state()).sla_breached is False

    await case.env.sleep(timedelta(hours=4))
    state = await case.state()
    assert state.sla_breached is True
    assert state.sla_breaches == 1
    assert len(await case.effects(EffectName.CARE_REPLY_BREACHED)) == 1
    assert "care_reply_breached" in [entry.event for entry in state.timeline]
    described = await search_attributes(case.env.client, case.handle.id)
    assert described.get(sa.SLA_BREACHED) is True

    # A breach never loses the case: care can still reply and decide.
    await case.act(Decide(actor=CARE, solution=REFUND))
    assert (await case.handle.result()).refunded_to_buyer == 150_000


async def test_party_message_in_mediation_starts_the_next_reply_target(open_case: Any) -> None:
    case: Case = await open_case()
    await case.act(MakeOffer(actor=SELLER, solution=Solution(kind=SolutionKind.SEND_REMAINING)))
    await case.act(RequestHelp(actor=BUYER))
    await case.act(CareReply(actor=CARE, text="Please send photos"))

    await case.env.sleep(timedelta(hours=30))
    sent = await case.act(SendMessage(actor=BUYER, text="Photos", evidence=["ev-2"]))
    assert sent.care_reply_due_at is not None
    await case.env.sleep(timedelta(hours=24, minutes=1))
    assert (await case.state()).sla_breached is True


@pytest.mark.parametrize(
    ("solution", "refunded", "released"),
    [
        (Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=150_000), 150_000, 0),
        (Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=40_000), 40_000, 110_000),
        (Solution(kind=SolutionKind.RELEASE_TO_SELLER), 0, 150_000),
    ],
)
async def test_agreed_money_solution_is_paid_exactly_once(
    open_case: Any, worker_and_payments: FlakyPayments, solution: Solution, refunded: int, released: int
) -> None:
    case: Case = await open_case()
    await case.act(MakeOffer(actor=SELLER, solution=solution))
    await case.act(Accept(actor=BUYER))

    outcome = await case.handle.result()
    assert (outcome.refunded_to_buyer, outcome.released_to_seller) == (refunded, released)
    refunds = await case.effects(EffectName.REFUND_TO_BUYER)
    releases = await case.effects(EffectName.RELEASE_TO_SELLER)
    assert [e.amount for e in refunds] == ([refunded] if refunded else [])
    assert [e.amount for e in releases] == ([released] if released else [])
    # every payout was attempted twice (the first attempt "timed out") yet applied once
    assert len(worker_and_payments.calls) == 2 * (len(refunds) + len(releases))
    assert refunds == [] or refunds[0].idempotency_key == f"{case.handle.id}:refund_to_buyer"
    assert (await case.state()).status is DisputeStatus.RESOLVED


async def test_exchange_waits_for_both_shipments_and_receipt(open_case: Any) -> None:
    case: Case = await open_case(solution=Solution(kind=SolutionKind.EXCHANGE))
    agreed = await case.act(Accept(actor=SELLER))
    assert agreed.status is DisputeStatus.AWAITING_FULFILMENT
    assert agreed.allowed_actions[Role.BUYER] == ["message", "ship"]

    refused = await case.refused(Ship(actor=SELLER, tracking_number="JNE1", carrier="jne"))
    assert refused.type == "InvalidTransition"
    await case.act(Ship(actor=BUYER, tracking_number="JNE-RET-1", carrier="jne"))
    await case.act(Ship(actor=SELLER, tracking_number="JNE-NEW-1", carrier="jne"))
    assert await case.effects(EffectName.RELEASE_TO_SELLER) == []
    await case.act(ConfirmReceipt(actor=BUYER))

    outcome = await case.handle.result()
    assert outcome.released_to_seller == 150_000
    assert len(await case.effects(EffectName.RELEASE_TO_SELLER)) == 1


async def test_rejected_actions_leave_no_trace(open_case: Any) -> None:
    case: Case = await open_case()
    before = await case.state()
    stranger = await case.refused(Accept(actor=Actor(role=Role.SELLER, id="s-other")))
    assert stranger.type == "NotAParty"
    too_much = await case.refused(
        MakeOffer(actor=SELLER, solution=Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=150_001)),
    )
    assert too_much.type == "InvalidInput"
    wrong_turn = await case.refused(Reject(actor=BUYER))
    assert wrong_turn.type == "InvalidTransition"
    assert (await case.state()).timeline == before.timeline
