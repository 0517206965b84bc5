"""Return and refund, and deliveries as events (issue 20), on the time-skipping server: the return
delivered and confirmed; a seller silent past the inspection window (the system refunds, once);
a seller who refuses (care); a buyer who never ships (reminded, then the funds are released);
a delivery reported twice and one for an unknown tracking number."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from domain.commands import (
    DELIVERED,
    Accept,
    Command,
    ConfirmReturn,
    Decide,
    Delivered,
    IngestedEvent,
    RefuseReturn,
    Ship,
)
from domain.dispute import Dispute, DisputeStatus, Reason, ReturnVerdict
from domain.effects import EffectName
from domain.notices import render
from domain.types import DisputePolicy, Locale, Role, Solution, SolutionKind, Then
from domain.views import DisputeView, merge_timeline
from store.cases import Timelines
from store.outbox import Effect, Outbox
from tests.factories import BUYER, CARE, RETURNS_POLICY, SELLER, TRANSIT
from tests.support import start_dispute
from wiring.temporal import WORKFLOWS, case_activities
from workflows.base import Ack
from workflows.dispute import DisputeWorkflow

TOTAL = 150_000
RETURN = Solution(kind=SolutionKind.RETURN_AND_REFUND, amount=120_000)
RESI = "JNE-RET-1"


class Case:
    """One dispute under test: act on it, report deliveries, read it and its effects."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], outbox: Outbox) -> None:
        self.env = env
        self.handle = handle
        self.outbox = outbox

    async def act(self, command: Command) -> Ack:
        ack: Ack = await self.handle.execute_update(command.action, command, result_type=Ack)
        return ack

    async def deliver(self, tracking_number: str = RESI, at: datetime | None = None) -> Ack:
        delivered_at = at or await self.env.get_current_time()
        delivery = Delivered(tracking_number=tracking_number, delivered_at=delivered_at)
        ack: Ack = await self.handle.execute_update(DELIVERED, delivery, result_type=Ack)
        return ack

    async def dispute(self) -> DisputeView:
        state: Dispute = await self.handle.query(DisputeWorkflow.state)
        stored = await Timelines(self.outbox.engine).for_case(self.handle.id)
        return DisputeView.of(state, merge_timeline(stored, state.timeline))

    async def effects(self, kind: EffectName, party: str | None = None) -> list[Effect]:
        return [
            e
            for e in await self.outbox.for_case(self.handle.id)
            if e.kind is kind and (party is None or e.party == party)
        ]

    async def notices(self, party: str, template: str, **params: Any) -> list[str]:
        """The party's notices of ``template`` (with ``params`` among their parameters), rendered in
        English from what was sent (the parties read Indonesian, the default)."""
        return [
            render(template, e.params or {}, Locale.EN, strict=True)
            for e in await self.effects(EffectName.NOTIFICATION, party)
            if e.template == template and params.items() <= (e.params or {}).items()
        ]


@pytest.fixture
async def running(
    time_skipping_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, engine: AsyncEngine
) -> AsyncIterator[None]:
    settings = Settings(task_queue=task_queue, data_dir=tmp_path)
    activities = case_activities(settings, time_skipping_env.client, engine)
    async with Worker(
        time_skipping_env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities.all()
    ):
        yield


@pytest.fixture
def open_dispute(time_skipping_env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine) -> Any:
    async def _open(solution: Solution = RETURN, policy: DisputePolicy = RETURNS_POLICY) -> Case:
        handle = await start_dispute(
            time_skipping_env,
            task_queue,
            solution=solution,
            policy=policy,
            reason=Reason.NOT_AS_DESCRIBED,
            description="Not the colour in the photos",
        )
        return Case(time_skipping_env, handle, Outbox(engine))

    return _open


async def shipped_back(open_dispute: Any) -> Case:
    """A return and refund agreed, and the item shipped back by the buyer (not yet delivered)."""
    case: Case = await open_dispute()
    await case.act(Accept(actor=SELLER))
    await case.act(Ship(actor=BUYER, tracking_number=RESI, carrier="jne"))
    return case


@pytest.mark.usefixtures("running")
async def test_a_return_delivered_and_confirmed_is_refunded_once(open_dispute: Any) -> None:
    case = await shipped_back(open_dispute)
    in_transit = await case.dispute()
    [transit] = in_transit.deadlines  # care takes over if no delivery is known in time
    assert transit.due_at is not None
    assert (transit.action, transit.then, transit.due_at - in_transit.shipments[-1].at) == (
        "return_delivered",
        Then.ESCALATED,
        TRANSIT,
    )
    assert in_transit.allowed_actions[Role.SELLER] == ["message", "help", "confirm_return", "refuse_return"]

    await case.env.sleep(timedelta(days=4))  # in transit for days: nothing happens by itself
    await case.deliver()
    [inspection] = (await case.dispute()).deadlines
    assert (inspection.party, inspection.action, inspection.then) == (
        Role.SELLER,
        "confirm_return",
        Then.RETURN_CONFIRMED,
    )
    delivered_at = (await case.dispute()).shipments[0].delivered_at
    assert delivered_at is not None and inspection.due_at == delivered_at + timedelta(days=2)
    await case.act(ConfirmReturn(actor=SELLER))
    outcome = await case.handle.result()
    assert len(await case.notices("seller", "dispute.return_delivered", resi=RESI)) == 1
    assert (outcome.refunded_to_buyer, outcome.released_to_seller) == (120_000, 30_000)
    assert [e.amount for e in await case.effects(EffectName.REFUND_TO_BUYER)] == [120_000]
    state = await case.dispute()
    assert state.return_result is not None and state.return_result.by is Role.SELLER
    assert len(await case.notices("buyer", "dispute.return_confirmed")) == 1


@pytest.mark.usefixtures("running")
async def test_a_seller_silent_past_the_inspection_window_is_refunded_by_the_system_once(
    open_dispute: Any,
) -> None:
    case = await shipped_back(open_dispute)
    await case.deliver()
    await case.env.sleep(timedelta(days=1, minutes=1))
    assert len(await case.notices("seller", "dispute.reminder.return_inspection")) == 1  # reminded 24h ahead

    await case.env.sleep(timedelta(days=1))
    outcome = await case.handle.result()
    assert (outcome.refunded_to_buyer, outcome.released_to_seller) == (120_000, 30_000)
    refunds = await case.effects(EffectName.REFUND_TO_BUYER)
    assert [(e.amount, e.idempotency_key) for e in refunds] == [
        (120_000, f"{case.handle.id}:refund_to_buyer")
    ]
    state = await case.dispute()
    assert state.return_result is not None
    assert (state.return_result.verdict, state.return_result.by) == (ReturnVerdict.CONFIRMED, "system")
    assert [e.event for e in state.timeline].count("return_confirmed") == 1
    assert len(await case.notices("buyer", "dispute.return_confirmed_by_system")) == 1


@pytest.mark.usefixtures("running")
async def test_a_seller_who_refuses_the_return_takes_it_to_care(open_dispute: Any) -> None:
    case = await shipped_back(open_dispute)
    await case.deliver()
    await case.act(RefuseReturn(actor=SELLER, reason="It came back used", evidence=["blob:photo-9"]))
    state = await case.dispute()
    assert state.status is DisputeStatus.IN_MEDIATION
    assert (state.escalated_by, state.return_result and state.return_result.verdict) == (
        Role.SELLER,
        ReturnVerdict.REFUSED,
    )
    await case.env.sleep(timedelta(days=3))  # no system refund while care decides
    assert len(await case.effects(EffectName.MEDIATION_OPENED)) == 1
    assert len(await case.notices("buyer", "dispute.return_refused")) == 1
    assert await case.effects(EffectName.REFUND_TO_BUYER) == []

    # care may not order the same return again: the item is back; it decides money instead
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await case.act(Decide(actor=CARE, solution=RETURN))
    assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == "InvalidInput"
    await case.act(Decide(actor=CARE, solution=Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=60_000)))
    await case.env.sleep(timedelta(days=2, minutes=1))  # the appeal window passes
    outcome = await case.handle.result()
    assert (outcome.refunded_to_buyer, outcome.released_to_seller) == (60_000, 90_000)


@pytest.mark.usefixtures("running")
async def test_a_buyer_who_never_ships_is_reminded_then_the_funds_are_released(open_dispute: Any) -> None:
    case: Case = await open_dispute()
    await case.act(Accept(actor=SELLER))
    [window] = (await case.dispute()).deadlines
    assert (window.party, window.action, window.then) == (Role.BUYER, "ship", Then.CLAIM_LAPSED)

    await case.env.sleep(timedelta(days=2, minutes=1))
    assert len(await case.notices("buyer", "dispute.reminder.return_shipment")) == 1

    await case.env.sleep(timedelta(days=1))
    outcome = await case.handle.result()
    assert (outcome.refunded_to_buyer, outcome.released_to_seller) == (0, TOTAL)
    assert await case.effects(EffectName.REFUND_TO_BUYER) == []
    state = await case.dispute()
    assert state.return_result is not None and state.return_result.verdict is ReturnVerdict.NOT_SHIPPED
    assert len(await case.notices("buyer", "dispute.return_lapsed")) == 1


@pytest.mark.usefixtures("running")
async def test_a_return_never_delivered_goes_to_care_when_its_transit_window_closes(
    open_dispute: Any,
) -> None:
    case = await shipped_back(open_dispute)
    [transit] = (await case.dispute()).deadlines
    await case.env.sleep(TRANSIT - timedelta(minutes=1))
    waiting = await case.dispute()
    assert waiting.status is DisputeStatus.AWAITING_FULFILMENT and waiting.deadlines == [transit]
    await case.env.sleep(timedelta(minutes=2))
    mediated = await case.dispute()
    assert (mediated.status, mediated.escalated_by) == (DisputeStatus.IN_MEDIATION, "system")
    assert mediated.escalation_reason == "the returned item was not delivered within 14d"
    assert [d.action for d in mediated.deadlines] == ["reply", "decide"]  # care's targets now
    for party in ("buyer", "seller"):
        [told] = await case.notices(party, "dispute.escalated.return_transit")
        assert "the returned item was not delivered within 14 days" in told
    reminders = [e.template for e in await case.effects(EffectName.NOTIFICATION)]
    assert not [t for t in reminders if t and t.startswith("dispute.reminder")]  # a courier is not reminded
    assert await case.effects(EffectName.REFUND_TO_BUYER) == []


@pytest.mark.usefixtures("running")
async def test_a_return_opened_before_the_transit_window_waits_without_a_clock(open_dispute: Any) -> None:
    old = RETURNS_POLICY.model_copy(update={"return_transit_window": None})
    case: Case = await open_dispute(policy=old)
    await case.act(Accept(actor=SELLER))
    await case.act(Ship(actor=BUYER, tracking_number=RESI, carrier="jne"))
    assert (await case.dispute()).deadlines == []
    await case.env.sleep(TRANSIT + timedelta(days=1))
    state = await case.dispute()
    assert (state.status, state.deadlines) == (DisputeStatus.AWAITING_FULFILMENT, [])


@pytest.mark.usefixtures("running")
async def test_a_delivery_twice_is_applied_once_and_an_unknown_one_is_refused(open_dispute: Any) -> None:
    case = await shipped_back(open_dispute)
    before = await case.dispute()

    with pytest.raises(WorkflowUpdateFailedError) as unknown:
        await case.deliver("JNE-NOPE")
    assert isinstance(unknown.value.cause, ApplicationError)
    assert unknown.value.cause.type == "UnknownShipment"
    after_unknown = await case.dispute()
    assert after_unknown.timeline_seq == before.timeline_seq
    assert after_unknown.deadlines == before.deadlines and before.deadlines[0].action == "return_delivered"

    first = await case.deliver()
    due = (await case.dispute()).deadlines[0].due_at
    await case.env.sleep(timedelta(hours=5))
    again = await case.deliver()  # the marketplace sends it again, later
    assert (first.duplicate, again.duplicate) == (False, True)
    # and once more as a CloudEvent (another event id): still applied once
    event = IngestedEvent(
        id="evt-dup",
        type="com.marketplace.shipment.delivered",
        action=DELIVERED,
        body={"tracking_number": RESI, "delivered_at": (await case.env.get_current_time()).isoformat()},
    )
    await case.handle.signal(DisputeWorkflow.ingest, event)
    state = await case.dispute()
    assert [e.event for e in state.timeline].count("delivered") == 1
    assert "event_rejected" not in [e.event for e in state.timeline]
    assert state.deadlines[0].due_at == due
    await case.act(ConfirmReturn(actor=SELLER))
    await case.handle.result()  # everything the case caused is handed out before it completes
    assert len(await case.notices("seller", "dispute.return_delivered")) == 1


@pytest.mark.usefixtures("running")
async def test_a_delivery_moves_a_receipt_window_that_started_at_sending(open_dispute: Any) -> None:
    case: Case = await open_dispute(Solution(kind=SolutionKind.SEND_REMAINING))
    await case.act(Accept(actor=SELLER))
    await case.act(Ship(actor=SELLER, tracking_number="JNE-9", carrier="jne"))
    [sent] = (await case.dispute()).deadlines
    await case.env.sleep(timedelta(days=2))
    delivered_at = await case.env.get_current_time()
    await case.deliver("JNE-9", delivered_at)
    [moved] = (await case.dispute()).deadlines
    assert sent.due_at is not None and moved.due_at == delivered_at + timedelta(days=3) > sent.due_at
    await case.env.sleep(timedelta(days=2, hours=1))
    assert (await case.dispute()).status is DisputeStatus.AWAITING_FULFILMENT  # sent + 3d passed


@pytest.mark.usefixtures("running")
async def test_a_dispute_opened_before_deliveries_keeps_its_receipt_window(open_dispute: Any) -> None:
    old = RETURNS_POLICY.model_copy(update={"return_inspection_window": None, "windows_from_delivery": False})
    case: Case = await open_dispute(Solution(kind=SolutionKind.SEND_REMAINING), policy=old)
    await case.act(Accept(actor=SELLER))
    await case.act(Ship(actor=SELLER, tracking_number="JNE-9", carrier="jne"))
    [sent] = (await case.dispute()).deadlines
    await case.env.sleep(timedelta(days=2))
    await case.deliver("JNE-9")
    state = await case.dispute()
    assert state.deadlines[0].due_at == sent.due_at  # recorded, not moved
    assert state.shipments[0].delivered_at is not None
