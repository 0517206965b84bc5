"""The clocks that act (issue 11) on the time-skipping server: the seller's response window,
shipment and receipt windows, the care decision target, reminders, one appeal of care's decision
and a report waiting on its user. Each rule: the window passes and the system acts, an action
just before it changes nothing, an action racing the timer wins."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.webhooks import WebhookActivities
from core import search_attributes as sa
from core.settings import Settings
from domain.commands import (
    Accept,
    AppealDecision,
    CareReply,
    Command,
    ConfirmReceipt,
    Decide,
    MakeOffer,
    ReplaceDecision,
    RequestHelp,
    Ship,
)
from domain.dispute import Dispute, DisputeStatus
from domain.effects import EffectName
from domain.ids import ticket_workflow_id
from domain.ticket import OpenTicketInput, ReporterRole, Ticket, TicketReply, TicketStatus, TicketTopic
from domain.types import DisputePolicy, Role, Solution, SolutionKind, Then
from domain.views import DisputeView, TicketView, merge_timeline
from store.cases import Timelines
from store.outbox import Effect, Outbox
from store.webhooks import webhook_store
from tests.factories import BUYER, CARE, CLOCKED_POLICY, CLOCKED_TICKET_POLICY, SELLER, SUPERVISOR, USER
from tests.support import eventually, search_attributes, start_dispute
from wiring.temporal import WORKFLOWS, case_activities
from workflows.base import Ack
from workflows.dispute import DisputeWorkflow
from workflows.ticket import CareTicketWorkflow, TicketRun

TOTAL = 150_000
REFUND = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=100_000)
EXCHANGE = Solution(kind=SolutionKind.EXCHANGE)
SEND_REMAINING = Solution(kind=SolutionKind.SEND_REMAINING)
#: Every clock on, at the settings' defaults: seller 2d, shipment 3d, receipt 3d, care decision 3d
#: (warning at 2d), appeal window 2d, reminders 24h ahead; the seed's 3d inactivity, 24h reply.
POLICY: DisputePolicy = CLOCKED_POLICY
MINUTE = timedelta(minutes=1)


class Case:
    """One case under test: its handle, outbox and helpers to act on it and read it."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], outbox: Outbox) -> None:
        self.env = env
        self.handle = handle
        self.outbox = outbox

    async def act(self, command: Command) -> None:
        await self.handle.execute_update(command.action, command, result_type=Ack)

    async def refused(self, command: Command) -> ApplicationError:
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await self.act(command)
        assert isinstance(failure.value.cause, ApplicationError)
        return failure.value.cause

    async def dispute(self) -> DisputeView:
        state: Dispute = await self.handle.query(DisputeWorkflow.state)
        stored = await Timelines(self.outbox.engine).for_case(self.handle.id)
        return DisputeView.of(state, merge_timeline(stored, state.timeline))

    async def ticket(self) -> TicketView:
        state: Ticket = await self.handle.query(CareTicketWorkflow.state)
        stored = await Timelines(self.outbox.engine).for_case(self.handle.id)
        return TicketView.of(state, merge_timeline(stored, state.timeline))

    async def effects(self, kind: EffectName, party: str | None = None) -> list[Effect]:
        return [
            e
            for e in await self.outbox.for_case(self.handle.id)
            if e.kind is kind and (party is None or e.party == party)
        ]

    async def notices(self, party: str, template: str, **params: Any) -> list[str]:
        """The party's notices of ``template`` (with ``params`` among their parameters), as read."""
        return [
            e.text or ""
            for e in await self.effects(EffectName.NOTIFICATION, party)
            if e.template == template and params.items() <= (e.params or {}).items()
        ]


@pytest.fixture
def worker(
    time_skipping_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, engine: AsyncEngine
) -> Callable[[], AbstractAsyncContextManager[Worker]]:
    """A worker for the test's task queue, to run around the test or to stop and start again: it
    keeps no workflow cached, so the next worker gets the workflow's tasks (the time-skipping
    server would hold them on the stopped worker's sticky queue)."""
    settings = Settings(task_queue=task_queue, data_dir=tmp_path)
    activities = case_activities(settings, time_skipping_env.client, engine)

    webhooks = WebhookActivities(webhook_store(settings, engine), settings)
    return lambda: Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[*activities.all(), *webhooks.all()],
        max_cached_workflows=0,
    )


@pytest.fixture
async def running(worker: Callable[[], AbstractAsyncContextManager[Worker]]) -> AsyncIterator[None]:
    """The worker, running for the whole test."""
    async with worker():
        yield


@pytest.fixture
def open_dispute(time_skipping_env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine) -> Any:
    async def _open(solution: Solution = REFUND, policy: DisputePolicy = POLICY) -> Case:
        handle = await start_dispute(time_skipping_env, task_queue, solution=solution, policy=policy)
        return Case(time_skipping_env, handle, Outbox(engine))

    return _open


async def mediated(open_dispute: Any) -> Case:
    """A dispute the buyer took to care after the seller's counter-offer."""
    case: Case = await open_dispute()
    await case.act(
        MakeOffer(actor=SELLER, solution=Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=10_000))
    )
    await case.act(RequestHelp(actor=BUYER))
    return case


# -- the seller's response window --------------------------------------------------------------


@pytest.mark.usefixtures("running")
async def test_a_silent_seller_is_reminded_once_then_escalated_by_the_system(open_dispute: Any) -> None:
    case: Case = await open_dispute()
    opened = await case.dispute()
    [window] = [d for d in opened.deadlines if d.then is Then.ESCALATED]
    assert (window.party, window.action) == (Role.SELLER, "respond")
    assert (await search_attributes(case.env.client, case.handle.id)).get(
        sa.NEXT_DEADLINE_AT
    ) == window.due_at

    await case.env.sleep(timedelta(days=1, minutes=1))
    await case.env.sleep(timedelta(hours=12))
    assert (
        len(await case.notices("seller", "dispute.reminder.care_takes_over", todo="respond")) == 1
    )  # once, 24h before

    await case.env.sleep(timedelta(hours=12))
    state = await case.dispute()
    assert state.status is DisputeStatus.IN_MEDIATION
    assert (state.escalated_by, state.escalation_reason) == ("system", "the seller did not respond within 2d")
    assert [e.event for e in state.timeline].count("reminder_sent") == 1
    assert "escalated" in [e.event for e in state.timeline]
    assert len(await case.notices("seller", "dispute.reminder.care_takes_over")) == 1
    assert len(await case.notices("buyer", "dispute.escalated.seller_response", waited="P2D")) == 1
    assert len(await case.effects(EffectName.MEDIATION_OPENED)) == 1
    assert [d.action for d in state.deadlines] == ["reply", "decide"]
    attributes = await search_attributes(case.env.client, case.handle.id)
    assert attributes.get(sa.NEXT_DEADLINE_AT) == state.care_reply_due_at
    assert attributes.get(sa.CARE_DECISION_DUE_AT) == state.care_decision_due_at
    assert attributes.get(sa.DISPUTE_STATUS) == "IN_MEDIATION"


@pytest.mark.usefixtures("running")
async def test_a_seller_answer_just_before_the_window_closes_changes_nothing(open_dispute: Any) -> None:
    case: Case = await open_dispute()
    await case.env.sleep(timedelta(days=2) - MINUTE)
    await case.act(
        MakeOffer(actor=SELLER, solution=Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=50_000))
    )
    await case.env.sleep(timedelta(hours=6))
    state = await case.dispute()
    assert state.status is DisputeStatus.AWAITING_BUYER
    assert state.escalated_by is None
    assert "escalated" not in [e.event for e in state.timeline]


async def test_a_seller_answer_racing_the_timer_wins(
    open_dispute: Any, worker: Callable[[], AbstractAsyncContextManager[Worker]]
) -> None:
    """The timer fires while no worker runs and the seller's accept arrives: the workflow sees
    both in one task, and the accept wins (the rules decide on the state, as for every clock)."""
    async with worker():
        # No reminder: the window's timer is the first thing due.
        case: Case = await open_dispute(policy=POLICY.model_copy(update={"reminder_lead": None}))

        async def published() -> bool:
            # The opening was handed out and the case has taken the result in (it forgets the
            # stored entries then): nothing is in flight, so time may skip with no worker running.
            state: Dispute = await case.handle.query(DisputeWorkflow.state)
            return state.timeline == [] and bool(await case.notices("seller", "dispute.opened"))

        await eventually(published)
    await case.env.sleep(timedelta(days=2))  # the window's timer fires; no worker handles it
    accepting = asyncio.create_task(case.act(Accept(actor=SELLER)))
    async with worker():
        await accepting
        outcome = await case.handle.result()
        state = await case.dispute()
    assert outcome.decided_by == "agreement"
    assert state.escalated_by is None
    assert "escalated" not in [e.event for e in state.timeline]
    events = [event.event_type async for event in case.handle.fetch_history_events()]
    timer_fired = events.index(EventType.EVENT_TYPE_TIMER_FIRED)
    assert timer_fired < events.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)


# -- fulfilment: shipments and receipt ---------------------------------------------------------


@pytest.mark.usefixtures("running")
async def test_an_exchange_the_buyer_never_confirms_is_completed_by_the_system(open_dispute: Any) -> None:
    case: Case = await open_dispute(EXCHANGE)
    await case.act(Accept(actor=SELLER))
    await case.act(Ship(actor=BUYER, tracking_number="JNE-RET-1", carrier="jne"))
    await case.act(Ship(actor=SELLER, tracking_number="JNE-NEW-1", carrier="jne"))
    [receipt] = (await case.dispute()).deadlines
    assert (receipt.party, receipt.action, receipt.then) == (
        Role.BUYER,
        "confirm_receipt",
        Then.RECEIPT_CONFIRMED,
    )

    await case.env.sleep(timedelta(days=3, minutes=1))
    outcome = await case.handle.result()
    assert (outcome.released_to_seller, outcome.refunded_to_buyer) == (TOTAL, 0)
    assert [e.amount for e in await case.effects(EffectName.RELEASE_TO_SELLER)] == [TOTAL]
    state = await case.dispute()
    assert state.status is DisputeStatus.RESOLVED
    assert [e.event for e in state.timeline][-3:] == ["receipt_confirmed", "paid", "resolved"]
    assert len(await case.notices("buyer", "dispute.reminder.receipt")) == 1


@pytest.mark.usefixtures("running")
async def test_a_buyer_confirming_just_before_the_window_is_the_buyers_confirmation(
    open_dispute: Any,
) -> None:
    case: Case = await open_dispute(SEND_REMAINING)
    await case.act(Accept(actor=SELLER))
    await case.act(Ship(actor=SELLER, tracking_number="JNE-1", carrier="jne"))
    await case.env.sleep(timedelta(days=3) - MINUTE)
    await case.act(ConfirmReceipt(actor=BUYER))
    await case.handle.result()
    events = [e.event for e in (await case.dispute()).timeline]
    assert "confirm_receipt" in events and "receipt_confirmed" not in events
    assert len(await case.effects(EffectName.RELEASE_TO_SELLER)) == 1


@pytest.mark.usefixtures("running")
async def test_a_shipment_not_made_in_time_goes_to_care(open_dispute: Any) -> None:
    case: Case = await open_dispute(SEND_REMAINING)
    await case.act(Accept(actor=SELLER))
    await case.env.sleep(timedelta(days=3, minutes=1))
    state = await case.dispute()
    assert state.status is DisputeStatus.IN_MEDIATION
    assert (state.escalated_by, state.escalation_reason) == ("system", "the seller did not ship within 3d")
    assert len(await case.notices("seller", "dispute.reminder.care_takes_over", todo="ship")) == 1


# -- the care decision target ------------------------------------------------------------------


@pytest.mark.usefixtures("running")
async def test_a_missed_decision_target_warns_then_breaches(open_dispute: Any) -> None:
    case = await mediated(open_dispute)
    await case.act(CareReply(actor=CARE, text="Looking into it"))  # the reply target is met
    await case.env.sleep(timedelta(days=2, minutes=1))
    [warning] = await case.effects(EffectName.CARE_REPLY_WARNING)
    assert (warning.text or "").startswith(f"care decision on {case.handle.id} due")
    assert (await case.dispute()).sla_breached is False

    await case.env.sleep(timedelta(days=1))
    state = await case.dispute()
    assert (state.sla_breached, state.sla_breaches) == (True, 1)
    assert "care_decision_breached" in [e.event for e in state.timeline]
    [breach] = await case.effects(EffectName.CARE_REPLY_BREACHED)
    assert (breach.text or "").startswith("care decision")
    assert (await search_attributes(case.env.client, case.handle.id)).get(sa.SLA_BREACHED) is True


@pytest.mark.usefixtures("running")
async def test_a_decision_in_time_has_no_warning(open_dispute: Any) -> None:
    case = await mediated(open_dispute)
    await case.env.sleep(timedelta(hours=19))
    await case.act(Decide(actor=CARE, solution=REFUND))
    await case.env.sleep(timedelta(days=4))
    assert await case.effects(EffectName.CARE_REPLY_WARNING) == []
    assert (await case.dispute()).sla_breached is False


# -- one appeal of care's decision -------------------------------------------------------------


@pytest.mark.usefixtures("running")
async def test_an_appeal_within_the_window_goes_to_a_supervisor_who_replaces_it(open_dispute: Any) -> None:
    case = await mediated(open_dispute)
    await case.act(Decide(actor=CARE, solution=REFUND, note="split the loss"))
    await case.env.sleep(timedelta(days=2) - MINUTE)
    await case.act(AppealDecision(actor=SELLER, reason="The courier broke it", evidence=["ev-courier"]))
    await case.env.sleep(timedelta(hours=2))  # the appeal window no longer runs
    appealed = await case.dispute()
    assert appealed.status is DisputeStatus.DECISION_APPEALED
    assert [(d.party, d.action) for d in appealed.deadlines] == [(Role.SUPERVISOR, "review_decision")]
    assert await case.effects(EffectName.REFUND_TO_BUYER) == []

    await case.act(ReplaceDecision(actor=SUPERVISOR, solution=Solution(kind=SolutionKind.RELEASE_TO_SELLER)))
    outcome = await case.handle.result()
    assert (outcome.decided_by, outcome.released_to_seller, outcome.refunded_to_buyer) == (
        "supervisor",
        TOTAL,
        0,
    )
    assert await case.effects(EffectName.REFUND_TO_BUYER) == []


@pytest.mark.usefixtures("running")
async def test_after_the_window_the_decision_is_carried_out_and_no_appeal_is_taken(open_dispute: Any) -> None:
    case = await mediated(open_dispute)
    await case.act(Decide(actor=CARE, solution=EXCHANGE))
    await case.env.sleep(timedelta(days=2, minutes=1))
    state = await case.dispute()
    assert state.status is DisputeStatus.AWAITING_FULFILMENT
    assert "decision_final" in [e.event for e in state.timeline]
    refused = await case.refused(AppealDecision(actor=BUYER, reason="too late?"))
    assert refused.type == "InvalidTransition"


@pytest.mark.usefixtures("running")
async def test_both_parties_accepting_the_decision_settles_it_at_once(open_dispute: Any) -> None:
    case = await mediated(open_dispute)
    await case.act(Decide(actor=CARE, solution=REFUND))
    await case.act(Accept(actor=BUYER))
    assert (await case.dispute()).status is DisputeStatus.DECIDED
    await case.act(Accept(actor=SELLER))
    outcome = await case.handle.result()
    assert (outcome.decided_by, outcome.refunded_to_buyer, outcome.released_to_seller) == (
        "care",
        100_000,
        50_000,
    )
    assert len(await case.effects(EffectName.REFUND_TO_BUYER)) == 1


# -- a report waiting on its user --------------------------------------------------------------


@pytest.mark.usefixtures("running")
async def test_a_report_the_user_never_answers_is_solved_by_the_system_then_closes(
    time_skipping_env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine
) -> None:
    handle = await time_skipping_env.client.start_workflow(
        CareTicketWorkflow.run,
        TicketRun(
            open=OpenTicketInput(
                user_id=USER.id,
                role=ReporterRole.BUYER,
                topic=TicketTopic.PAYMENT,
                details="My payment was taken twice",
                policy=CLOCKED_TICKET_POLICY,
            )
        ),
        id=ticket_workflow_id(uuid.uuid4().hex[:12]),
        task_queue=task_queue,
    )
    report = Case(time_skipping_env, handle, Outbox(engine))
    await report.act(TicketReply(actor=CARE, text="Which card was charged?"))
    [wait] = (await report.ticket()).deadlines
    assert (wait.party, wait.action, wait.then) == (Role.USER, "message", Then.SOLVED)
    assert (await search_attributes(time_skipping_env.client, handle.id)).get(
        sa.NEXT_DEADLINE_AT
    ) == wait.due_at

    await report.env.sleep(timedelta(days=7, minutes=1))
    solved = await report.ticket()
    assert solved.status is TicketStatus.SOLVED
    assert len(await report.notices("user", "ticket.reminder")) == 1
    assert len(await report.notices("user", "ticket.solved_by_system", waited="P7D")) == 1
    assert solved.timeline[-1].detail == {"by": "system", "reason": "no answer from the user within 7d"}

    await report.env.sleep(timedelta(days=3))
    closed = await handle.result()
    assert closed.id == handle.id
