"""CareTicketWorkflow on the time-skipping server: the 1x24-hour reply target, solve, reopen, links."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.outbox import Outbox
from core.settings import Settings
from core.temporal import build_worker, case_activities
from domain.commands import Command
from domain.dispute import Dispute, OpenDisputeInput, Reason
from domain.effects import EffectName
from domain.ids import dispute_workflow_id, ticket_workflow_id
from domain.ticket import (
    OpenTicketInput,
    ReporterRole,
    Solve,
    Ticket,
    TicketPolicy,
    TicketReply,
    TicketStatus,
    TicketTopic,
    UserMessage,
)
from domain.types import Solution, SolutionKind
from domain.views import TicketView, current_details, merge_timeline
from store.cases import Timelines
from tests.factories import CARE, USER
from workflows.base import Ack
from workflows.dispute import DisputeRun, DisputeWorkflow
from workflows.ticket import CareTicketWorkflow, TicketRun

POLICY = TicketPolicy(
    care_reply_target=timedelta(hours=24),
    care_reply_warning=timedelta(hours=20),
    solved_quiet_period=timedelta(days=3),
)


class Report:
    """One report under test: its handle and the outbox its effects land in."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], outbox: Outbox) -> None:
        self.env = env
        self.handle = handle
        self.outbox = outbox

    async def act(self, command: Command) -> TicketView:
        await self.handle.execute_update(command.action, command, result_type=Ack)
        return await self.state()

    async def state(self) -> TicketView:
        """The report as the API shows it: the state merged with the stored timeline."""
        ticket: Ticket = await self.handle.query(CareTicketWorkflow.state)
        stored = await Timelines(self.outbox.engine).for_case(self.handle.id)
        return TicketView.of(ticket, merge_timeline(stored, ticket.timeline))

    async def effects(self, kind: EffectName) -> list[str]:
        return [e.text or "" for e in await self.outbox.for_case(self.handle.id) if e.kind is kind]


@pytest.fixture
async def outbox(
    time_skipping_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, engine: AsyncEngine
) -> AsyncIterator[Outbox]:
    settings = Settings(task_queue=task_queue, data_dir=tmp_path)
    activities = case_activities(settings, time_skipping_env.client, engine)
    async with build_worker(time_skipping_env.client, settings, activities, engine):
        yield Outbox(engine)


@pytest.fixture
def file_report(time_skipping_env: WorkflowEnvironment, task_queue: str, outbox: Outbox) -> Any:
    async def _file(topic: TicketTopic = TicketTopic.PAYMENT, dispute_id: str | None = None) -> Report:
        handle = await time_skipping_env.client.start_workflow(
            CareTicketWorkflow.run,
            TicketRun(
                open=OpenTicketInput(
                    user_id=USER.id,
                    role=ReporterRole.BUYER,
                    topic=topic,
                    order_id="o-1" if dispute_id else None,
                    details="My payment was taken twice",
                    attachments=["ev-bank-statement"],
                    dispute_id=dispute_id,
                    policy=POLICY,
                )
            ),
            id=ticket_workflow_id(uuid.uuid4().hex[:12]),
            task_queue=task_queue,
        )
        return Report(time_skipping_env, handle, outbox)

    return _file


async def test_reply_in_time_reaches_the_inbox_without_warning_or_breach(file_report: Any) -> None:
    report: Report = await file_report()
    await report.env.sleep(timedelta(hours=19))
    replied = await report.act(TicketReply(actor=CARE, text="Refund on its way"))
    assert replied.status is TicketStatus.AWAITING_USER
    assert replied.care_reply_due_at is None

    await report.env.sleep(timedelta(days=2))
    assert (await report.state()).sla_breached is False
    assert await report.effects(EffectName.CARE_REPLY_WARNING) == []
    assert await report.effects(EffectName.CARE_REPLY_BREACHED) == []
    inbox = await report.outbox.inbox(USER.id)
    assert [(item.case_id, item.text, item.read) for item in inbox] == [
        (report.handle.id, "Refund on its way", False)
    ]


async def test_missed_reply_warns_then_breaches_and_escalates_priority_reports(file_report: Any) -> None:
    report: Report = await file_report(topic=TicketTopic.ACCOUNT_SECURITY)
    await report.env.sleep(timedelta(hours=20, minutes=1))
    assert len(await report.effects(EffectName.CARE_REPLY_WARNING)) == 1
    assert (await report.state()).sla_breached is False

    await report.env.sleep(timedelta(hours=4))
    state = await report.state()
    assert state.sla_breached is True
    assert state.sla_breaches == 1
    breaches = await report.effects(EffectName.CARE_REPLY_BREACHED)
    assert len(breaches) == 1
    assert "PRIORITY account-security report" in breaches[0]
    # still answerable after the breach
    replied = await report.act(TicketReply(actor=CARE, text="Account locked"))
    assert replied.care_reply_due_at is None


async def test_user_message_starts_the_next_reply_target(file_report: Any) -> None:
    report: Report = await file_report()
    await report.act(TicketReply(actor=CARE, text="Which card?"))
    await report.env.sleep(timedelta(hours=30))
    asked = await report.act(UserMessage(actor=USER, text="The debit card"))
    assert asked.status is TicketStatus.AWAITING_CARE
    assert asked.care_reply_due_at == asked.messages[-1].at + timedelta(hours=24)

    await report.env.sleep(timedelta(hours=23))
    assert (await report.state()).sla_breached is False
    await report.env.sleep(timedelta(hours=1, minutes=1))
    assert (await report.state()).sla_breached is True


async def test_solved_report_closes_after_the_quiet_period(file_report: Any) -> None:
    report: Report = await file_report()
    await report.act(TicketReply(actor=CARE, text="Refunded"))
    solved = await report.act(Solve(actor=CARE))
    assert solved.status is TicketStatus.SOLVED
    assert solved.closes_at == solved.solved_at + timedelta(days=3)  # type: ignore[operator]

    await report.env.sleep(timedelta(days=2))
    assert (await report.state()).status is TicketStatus.SOLVED
    await report.env.sleep(timedelta(days=1, minutes=1))
    closed = await report.handle.result()
    assert closed.id == report.handle.id
    assert (await report.state()).status is TicketStatus.CLOSED


async def test_user_message_reopens_a_solved_report(file_report: Any) -> None:
    report: Report = await file_report()
    await report.act(Solve(actor=CARE))
    await report.env.sleep(timedelta(days=2))
    reopened = await report.act(UserMessage(actor=USER, text="Still charged twice"))
    assert reopened.status is TicketStatus.AWAITING_CARE
    assert reopened.closes_at is None
    assert reopened.care_reply_due_at is not None

    await report.env.sleep(timedelta(days=1, hours=1))  # past the first quiet period's end
    state = await report.state()
    assert state.status is TicketStatus.AWAITING_CARE
    assert "reopened" in [entry.event for entry in state.timeline]
    assert state.sla_breached is True  # and the reopened report is owed a reply again


async def test_report_about_an_open_dispute_links_both_ways(
    time_skipping_env: WorkflowEnvironment, task_queue: str, file_report: Any
) -> None:
    dispute = await time_skipping_env.client.start_workflow(
        DisputeWorkflow.run,
        DisputeRun(
            open=OpenDisputeInput(
                order_id="o-1",
                buyer_id=USER.id,
                seller_id="s-1",
                order_total=50_000,
                reason=Reason.DAMAGED,
                requested_solution=Solution(kind=SolutionKind.EXCHANGE),
                description="Broken",
            )
        ),
        id=dispute_workflow_id("o-1"),
        task_queue=task_queue,
    )
    report: Report = await file_report(topic=TicketTopic.ORDERS, dispute_id=dispute.id)
    assert (await report.state()).dispute_id == dispute.id

    async def linked() -> list[str]:
        state: Dispute = await dispute.query(DisputeWorkflow.state)
        return state.linked_tickets

    for _ in range(50):
        if await linked():
            break
        await time_skipping_env.sleep(timedelta(seconds=1))
    assert await linked() == [report.handle.id]
    state: Dispute = await dispute.query(DisputeWorkflow.state)
    assert report.handle.id in current_details(state)
