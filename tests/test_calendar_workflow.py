"""Business hours and paused targets through the workflow, on the time-skipping server (issue 18):
a report filed on Friday evening is due on Monday (Jakarta, and Amsterdam across its daylight
saving change), a holiday counts nothing, a request for information pauses care's decision until
it is answered or expires, and a report on hold does not breach."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from domain.calendar import BusinessCalendar
from domain.commands import MakeOffer, RequestHelp, RequestInfo, SendMessage
from domain.ids import ticket_workflow_id
from domain.ticket import Hold, OpenTicketInput, ReporterRole, TicketPolicy, TicketTopic, UserMessage
from domain.types import CareTarget, DisputePolicy, Role, Solution, SolutionKind, Then
from store.outbox import Outbox
from tests.factories import BUYER, CARE, CLOCKED_POLICY, SELLER, TICKET_POLICY, USER
from tests.support import eventually, start_dispute
from tests.test_deadlines_workflow import Case
from wiring.temporal import WORKFLOWS, case_activities
from workflows.ticket import CareTicketWorkflow, TicketRun

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
MINUTE = timedelta(minutes=1)
#: Mon-Fri 08:00-17:00 WIB, the issue's example (no country holidays: the dates are the server's).
JAKARTA = BusinessCalendar(timezone="Asia/Jakarta", hours={day: ("08:00", "17:00") for day in WEEKDAYS})
AMSTERDAM = BusinessCalendar(timezone="Europe/Amsterdam", hours={day: ("09:00", "17:00") for day in WEEKDAYS})
EIGHT_HOURS = {"care_reply_target": timedelta(hours=8), "care_reply_warning": timedelta(hours=6)}
DECISION = CLOCKED_POLICY.care_decision_target
assert DECISION is not None


@pytest.fixture
async def running(
    time_skipping_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, engine: AsyncEngine
) -> AsyncIterator[None]:
    """A worker for the test's task queue, for the whole test."""
    settings = Settings(task_queue=task_queue, data_dir=tmp_path)
    activities = case_activities(settings, time_skipping_env.client, engine)
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities.all(),
        max_cached_workflows=0,
    ):
        yield


async def open_report(
    env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine, policy: TicketPolicy
) -> Case:
    handle = await env.client.start_workflow(
        CareTicketWorkflow.run,
        TicketRun(
            open=OpenTicketInput(
                user_id=USER.id,
                role=ReporterRole.BUYER,
                topic=TicketTopic.PAYMENT,
                details="My payment was taken twice",
                policy=policy,
            )
        ),
        id=ticket_workflow_id(uuid.uuid4().hex[:12]),
        task_queue=task_queue,
    )
    return Case(env, handle, Outbox(engine))


async def open_mediated(
    env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine, policy: DisputePolicy = CLOCKED_POLICY
) -> Case:
    """A dispute the buyer took to care after the seller's counter-offer."""
    refund = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=100_000)
    handle = await start_dispute(env, task_queue, solution=refund, policy=policy)
    case = Case(env, handle, Outbox(engine))
    await case.act(
        MakeOffer(actor=SELLER, solution=Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=10_000))
    )
    await case.act(RequestHelp(actor=BUYER))
    return case


async def sleep_until(env: WorkflowEnvironment, moment: datetime) -> None:
    """Skip the server's time to ``moment``."""
    now = await env.get_current_time()
    assert moment > now, (moment, now)
    await env.sleep(moment - now)


def next_weekday_at(after: datetime, weekday: int, zone: ZoneInfo, hour: int) -> datetime:
    """The first local ``weekday`` at ``hour``:00 in ``zone`` more than a day after ``after``."""
    day = (after + timedelta(days=2)).astimezone(zone).date()
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=zone)


def events(view: Any) -> list[str]:
    return [entry.event for entry in view.timeline]


# -- business hours ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("running")
async def test_a_report_filed_on_friday_evening_is_due_on_monday_at_16_wib(
    time_skipping_env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine
) -> None:
    """Mon-Fri 08:00-17:00 WIB, an 8-hour target: filed Friday 19:00, due Monday 16:00, warned
    Monday 14:00; nothing fires over the weekend."""
    env = time_skipping_env
    friday = next_weekday_at(await env.get_current_time(), 4, ZoneInfo("Asia/Jakarta"), 19)
    await sleep_until(env, friday)
    policy = TICKET_POLICY.model_copy(
        update={
            "care_calendar": JAKARTA,
            "care_reply_target": timedelta(hours=8),
            "care_reply_warning": timedelta(hours=6),
        }
    )
    report = await open_report(env, task_queue, engine, policy)
    monday_16 = friday + timedelta(days=2, hours=21)
    [target] = (await report.ticket()).deadlines
    assert (target.action, target.due_at, target.business_hours) == ("reply", monday_16, True)

    await sleep_until(env, monday_16 - timedelta(hours=2) - MINUTE)
    quiet = await report.ticket()
    assert "care_reply_warning" not in events(quiet) and not quiet.sla_breached
    await sleep_until(env, monday_16 - MINUTE)
    warned = await report.ticket()
    assert "care_reply_warning" in events(warned) and not warned.sla_breached
    await sleep_until(env, monday_16 + MINUTE)
    breached = await report.ticket()
    assert breached.sla_breached
    [entry] = [e for e in breached.timeline if e.event == "care_reply_breached"]
    assert entry.detail["due_at"] == monday_16.astimezone(UTC).isoformat()
    assert monday_16 <= entry.at < monday_16 + MINUTE


@pytest.mark.usefixtures("running")
async def test_on_a_holiday_nothing_counts_and_a_target_crosses_several_days(
    time_skipping_env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine
) -> None:
    """The Monday is a public holiday of the case's calendar: 8 hours from Friday 19:00 are due Tuesday 16:00;
    a 24-hour target runs to Thursday 14:00 (9 business hours a day)."""
    env = time_skipping_env
    friday = next_weekday_at(await env.get_current_time(), 4, ZoneInfo("Asia/Jakarta"), 19)
    monday = (friday + timedelta(days=3)).date()
    # as a case carries it: the country named, its public holidays listed when the case opened
    holiday = JAKARTA.model_copy(update={"holidays": "ID", "public_holidays": [monday]})
    await sleep_until(env, friday)
    short = TICKET_POLICY.model_copy(
        update={
            "care_calendar": holiday,
            "care_reply_target": timedelta(hours=8),
            "care_reply_warning": timedelta(hours=6),
        }
    )
    long = TICKET_POLICY.model_copy(update={"care_calendar": holiday})  # 24h, warned at 20h
    first = await open_report(env, task_queue, engine, short)
    second = await open_report(env, task_queue, engine, long)
    tuesday_16 = friday + timedelta(days=3, hours=21)
    thursday_14 = friday + timedelta(days=5, hours=19)
    assert (await first.ticket()).care_reply_due_at == tuesday_16
    assert (await second.ticket()).care_reply_due_at == thursday_14
    await sleep_until(env, tuesday_16 - MINUTE)
    assert not (await first.ticket()).sla_breached
    await sleep_until(env, tuesday_16 + MINUTE)
    assert (await first.ticket()).sla_breached
    await sleep_until(env, thursday_14 - MINUTE)
    assert not (await second.ticket()).sla_breached
    await sleep_until(env, thursday_14 + MINUTE)
    assert (await second.ticket()).sla_breached
    assert isinstance(monday, date)


@pytest.mark.usefixtures("running")
async def test_a_target_across_a_daylight_saving_change(
    time_skipping_env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine
) -> None:
    """Amsterdam moves its clocks forward on the last Sunday of March: a report filed on the
    Friday before at 16:00 with a 2-hour target is due Monday 10:00 local, 08:00 UTC."""
    env = time_skipping_env
    now = await env.get_current_time()
    zone = ZoneInfo("Europe/Amsterdam")
    march_31 = datetime(now.year + 1, 3, 31, 12, 0, tzinfo=zone)
    sunday = march_31 - timedelta(days=(march_31.weekday() + 1) % 7)
    friday = datetime.combine(sunday.date() - timedelta(days=2), time(16, 0), tzinfo=zone)
    assert friday.utcoffset() == timedelta(hours=1)
    await sleep_until(env, friday)
    policy = TICKET_POLICY.model_copy(
        update={
            "care_calendar": AMSTERDAM,
            "care_reply_target": timedelta(hours=2),
            "care_reply_warning": timedelta(hours=1),
        }
    )
    report = await open_report(env, task_queue, engine, policy)
    due = datetime.combine(sunday.date() + timedelta(days=1), time(10, 0), tzinfo=zone)  # may be 1 April
    assert due.utcoffset() == timedelta(hours=2)
    due_at = (await report.ticket()).care_reply_due_at
    assert due_at is not None and due <= due_at < due + timedelta(seconds=1)  # filed a moment after 16:00
    assert due_at.astimezone(UTC).hour == 8
    await sleep_until(env, due - MINUTE)
    assert not (await report.ticket()).sla_breached
    await sleep_until(env, due + MINUTE)
    assert (await report.ticket()).sla_breached


# -- a request for information pauses care's decision -----------------------------------------------


@pytest.mark.usefixtures("running")
async def test_a_request_answered_resumes_the_decision_with_the_time_it_had_left(
    time_skipping_env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine
) -> None:
    case = await open_mediated(time_skipping_env, task_queue, engine)
    escalated = (await case.dispute()).care_decision_due_at
    assert escalated is not None
    await case.act(
        RequestInfo(actor=CARE, party=Role.SELLER, text="Please send the receipt", due_in=timedelta(days=5))
    )
    asked = await case.dispute()
    assert asked.care_decision_due_at is None
    [request, paused] = asked.deadlines
    assert (request.party, request.action, request.then) == (Role.SELLER, "message", Then.TARGET_RESUMES)
    assert (paused.action, paused.paused, paused.due_at) == ("decide", True, None)
    assert await eventually(
        lambda: case.notices("seller", "dispute.info_requested", text="Please send the receipt")
    )

    # four days on: the decision target (3 days) would have been missed, but it waits
    await time_skipping_env.sleep(timedelta(days=4))
    waited = await case.dispute()
    assert not waited.sla_breached and "care_decision_breached" not in events(waited)
    await case.act(SendMessage(actor=SELLER, text="Here it is", evidence=[]))
    answered = await case.dispute()
    assert events(answered)[-3:] == ["info_request_answered", "target_resumed", "message"]
    resumed = answered.care_decision_due_at
    assert resumed is not None and resumed - escalated > timedelta(days=4)
    assert answered.decision_clock is not None and answered.decision_clock.target is CareTarget.DECISION

    await sleep_until(time_skipping_env, resumed - MINUTE)
    assert "care_decision_breached" not in events(await case.dispute())
    await sleep_until(time_skipping_env, resumed + MINUTE)
    assert "care_decision_breached" in events(await case.dispute())


@pytest.mark.usefixtures("running")
async def test_a_request_that_expires_resumes_the_decision_and_says_so(
    time_skipping_env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine
) -> None:
    case = await open_mediated(time_skipping_env, task_queue, engine)
    await case.act(RequestInfo(actor=CARE, party=Role.BUYER, text="Please send the unboxing video"))
    asked = await case.dispute()
    [request, _] = asked.deadlines
    assert request.due_at is not None
    [asking] = [entry for entry in asked.timeline if entry.event == "request_info"]
    assert request.due_at - asking.at == CLOCKED_POLICY.info_request_window

    await sleep_until(time_skipping_env, request.due_at - MINUTE)
    assert (await case.dispute()).pauses
    await sleep_until(time_skipping_env, request.due_at + MINUTE)
    expired = await case.dispute()
    assert events(expired)[-2:] == ["info_request_expired", "target_resumed"]
    assert expired.pauses == [] and expired.care_decision_due_at is not None
    assert [d.action for d in expired.deadlines] == ["decide"]
    assert len(await eventually(lambda: case.notices("buyer", "dispute.info_request_expired"))) == 1


@pytest.mark.usefixtures("running")
async def test_a_report_on_hold_does_not_breach_until_the_user_writes(
    time_skipping_env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine
) -> None:
    report = await open_report(time_skipping_env, task_queue, engine, TICKET_POLICY)
    await time_skipping_env.sleep(timedelta(hours=2))
    await report.act(Hold(actor=CARE, reason="Waiting for the payment provider"))
    held = await report.ticket()
    assert held.care_reply_due_at is None
    [paused] = held.deadlines
    assert paused.paused and paused.remaining is not None
    assert timedelta(hours=22) - timedelta(seconds=1) < paused.remaining <= timedelta(hours=22)

    await time_skipping_env.sleep(timedelta(days=3))
    assert not (await report.ticket()).sla_breached
    await report.act(UserMessage(actor=USER, text="Any news?"))
    written = await report.ticket()
    assert events(written)[-3:] == ["hold_ended", "target_resumed", "message"]
    due = written.care_reply_due_at
    [message] = [entry for entry in written.timeline if entry.event == "message"]
    assert due is not None and due - message.at == paused.remaining
    await sleep_until(time_skipping_env, due + MINUTE)
    assert (await report.ticket()).sla_breached
