"""Ownership on the time-skipping server: routing when a case reaches care, claims through the
workflow's update (the ``CareAssignee`` search attribute follows), and a missed care target that
moves the case to the supervisors' group and tells its assignee."""

from __future__ import annotations

import asyncio
import gc
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

from activities.webhooks import WebhookActivities
from core import search_attributes as sa
from core.settings import Settings
from domain.care import Claim
from domain.commands import Command, MakeOffer, RequestHelp
from domain.dispute import Dispute, DisputeStatus
from domain.effects import EffectName
from domain.ids import ticket_workflow_id
from domain.ticket import OpenTicketInput, ReporterRole, Ticket, TicketTopic
from domain.types import Solution, SolutionKind
from store.outbox import Outbox
from store.webhooks import webhook_store
from tests.factories import BUYER, CARE, CLOCKED_POLICY, CLOCKED_TICKET_POLICY, SELLER, SUPERVISOR
from tests.support import eventually, search_attributes, start_dispute
from wiring.temporal import WORKFLOWS, case_activities
from workflows.base import Ack
from workflows.dispute import DisputeWorkflow
from workflows.ticket import CareTicketWorkflow, TicketRun

GROUPS = {
    "care_groups": ["payments", "logistics"],
    "care_supervisors_group": "supervisors",
    "care_routing": {"PAYMENT": "payments", "DAMAGED": "logistics"},
}
DISPUTE_POLICY = CLOCKED_POLICY.model_copy(update=GROUPS)
TICKET_POLICY = CLOCKED_TICKET_POLICY.model_copy(update=GROUPS)
OTHER_AGENT = CARE.model_copy(update={"id": "agent-8"})


@pytest.fixture
async def running(
    time_skipping_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, engine: AsyncEngine
) -> AsyncIterator[None]:
    """A worker for the test's task queue, with the real activities on the test's database."""
    settings = Settings(task_queue=task_queue, data_dir=tmp_path)
    activities = case_activities(settings, time_skipping_env.client, engine)
    webhooks = WebhookActivities(webhook_store(settings, engine), settings)
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[*activities.all(), *webhooks.all()],
    ):
        yield
    gc.collect()  # the worker's runtime objects go now, not in a later test


async def act(handle: WorkflowHandle[Any, Any], command: Command) -> Ack:
    ack: Ack = await handle.execute_update(command.action, command, result_type=Ack)
    return ack


async def mediated_dispute(env: WorkflowEnvironment, task_queue: str) -> WorkflowHandle[Any, Any]:
    """A damaged-goods dispute the buyer took to care after the seller's counter-offer."""
    refund = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=100_000)
    handle = await start_dispute(env, task_queue, solution=refund, policy=DISPUTE_POLICY)
    counter = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=10_000)
    await act(handle, MakeOffer(actor=SELLER, solution=counter))
    state: Dispute = await handle.query(DisputeWorkflow.state)
    assert state.care_group is None  # not routed before it reaches care
    await act(handle, RequestHelp(actor=BUYER))
    return handle


@pytest.mark.usefixtures("running")
async def test_routing_is_applied_when_a_case_reaches_care(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    dispute = await mediated_dispute(time_skipping_env, task_queue)
    state: Dispute = await dispute.query(DisputeWorkflow.state)
    assert (state.status, state.care_group, state.assignee) == (DisputeStatus.IN_MEDIATION, "logistics", None)

    report_id = ticket_workflow_id(uuid.uuid4().hex[:12])
    report = await time_skipping_env.client.start_workflow(
        CareTicketWorkflow.run,
        TicketRun(
            open=OpenTicketInput(
                user_id="u-1",
                role=ReporterRole.BUYER,
                topic=TicketTopic.PAYMENT,
                details="I was charged twice",
                policy=TICKET_POLICY,
            )
        ),
        id=report_id,
        task_queue=task_queue,
    )
    ticket: Ticket = await report.query(CareTicketWorkflow.state)
    assert ticket.care_group == "payments"


@pytest.mark.usefixtures("running")
async def test_a_missed_target_moves_the_case_to_the_supervisors_and_tells_its_assignee(
    time_skipping_env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine
) -> None:
    handle = await mediated_dispute(time_skipping_env, task_queue)
    # two agents claim at once: the workflow takes one update at a time, the second is refused
    agents = [CARE, OTHER_AGENT]
    answers = await asyncio.gather(*(act(handle, Claim(actor=a)) for a in agents), return_exceptions=True)
    [winner] = [agent for agent, answer in zip(agents, answers, strict=True) if isinstance(answer, Ack)]
    [refused] = [answer for answer in answers if not isinstance(answer, Ack)]
    assert isinstance(refused, WorkflowUpdateFailedError)
    assert isinstance(refused.cause, ApplicationError) and refused.cause.type == "InvalidTransition"
    assert f"assigned to {winner.id}" in refused.cause.message
    assert (await search_attributes(time_skipping_env.client, handle.id)).get(sa.CARE_ASSIGNEE) == winner.id

    await time_skipping_env.sleep(timedelta(hours=24, minutes=1))  # the 1x24h reply target passes
    state: Dispute = await handle.query(DisputeWorkflow.state)
    assert state.sla_breached
    assert (state.care_group, state.assignee) == ("supervisors", None)
    outbox = Outbox(engine)

    async def assignee_told() -> bool:
        return any(
            e.kind is EffectName.NOTIFICATION
            and (e.party, e.party_id) == ("care", winner.id)
            and e.template == "care.moved_to_group"
            and (e.params or {}).get("group") == "supervisors"
            for e in await outbox.for_case(handle.id)
        )

    await eventually(assignee_told)
    assert (await search_attributes(time_skipping_env.client, handle.id)).get(sa.CARE_ASSIGNEE) is None
    # a supervisor takes it from the supervisors' queue
    await act(handle, Claim(actor=SUPERVISOR))
    assert (await search_attributes(time_skipping_env.client, handle.id)).get(
        sa.CARE_ASSIGNEE
    ) == SUPERVISOR.id
