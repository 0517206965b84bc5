"""`make record-histories VERSION=v3`: run representative cases on the time-skipping server and
save their workflow histories to tests/histories/<VERSION>/, which `make test` replays against
the current code, every version of them.

Record a new version after each change to workflow code (and keep the older versions): a
history of an older version that no longer replays means cases running on that code would
break (docs/deployment.md, *Changing workflow code safely*)."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.adapters import OutboxAdapters
from activities.models import PayoutInput
from core import binaries
from core import search_attributes as sa
from core.settings import Settings
from domain.care import Claim
from domain.commands import (
    DELIVERED,
    Accept,
    Cancel,
    CareReply,
    ConfirmReceipt,
    Decide,
    Delivered,
    IngestedEvent,
    MakeOffer,
    Reject,
    RequestHelp,
    RequestInfo,
    ResolveEffect,
    RetryEffect,
    SendMessage,
    Ship,
)
from domain.dispute import OpenDisputeInput, Reason
from domain.kinds import DISPUTE, TICKET
from domain.ticket import (
    Hold,
    OpenTicketInput,
    ReporterRole,
    Resume,
    Solve,
    TicketReply,
    TicketTopic,
    UserMessage,
)
from domain.types import Actor, EvidenceType, Role, Solution, SolutionKind
from store.db import database
from store.outbox import Effect
from wiring.temporal import build_worker, case_activities
from workflows.base import Ack, CaseWorkflow
from workflows.kinds import workflow_of

HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "histories"
USAGE = "usage: python -m scripts.record_histories <version, e.g. v3>"
BUYER = Actor(role=Role.BUYER, id="b-1")
SELLER = Actor(role=Role.SELLER, id="s-1")
CARE = Actor(role=Role.CARE, id="agent-7")
OPERATOR = Actor(role=Role.OPERATOR, id="oncall-1")
USER = Actor(role=Role.USER, id="u-1")


class RefusingOnce(OutboxAdapters):
    """For the cases in ``refusing``, the platform refuses the first refund and the first release
    for good (then accepts)."""

    def __init__(self, outbox: Any) -> None:
        super().__init__(outbox)
        self.refusing: set[str] = set()
        self.refused: set[str] = set()

    async def refund_buyer(self, request: PayoutInput) -> Effect:
        return await self._once(request, super().refund_buyer)

    async def release_to_seller(self, request: PayoutInput) -> Effect:
        return await self._once(request, super().release_to_seller)

    async def _once(self, request: PayoutInput, pay: Callable[[PayoutInput], Awaitable[Effect]]) -> Effect:
        if request.case_id in self.refusing and request.idempotency_key not in self.refused:
            self.refused.add(request.idempotency_key)
            raise ApplicationError("POST /refunds answered 400", type="EffectRejected", non_retryable=True)
        return await pay(request)


class Recorder:
    """Runs scenarios against one time-skipping server and worker; collects their histories."""

    def __init__(
        self, env: WorkflowEnvironment, task_queue: str, payments: RefusingOnce, folder: Path
    ) -> None:
        self.env = env
        self.folder = folder
        self.payments = payments
        self.client: Client = env.client
        self.task_queue = task_queue
        self.saved: list[str] = []

    async def dispute(self, solution: Solution, **policy: Any) -> WorkflowHandle[Any, Any]:
        order = f"o-{uuid.uuid4().hex[:6]}"
        settings = Settings(**policy)
        disputes = workflow_of(DISPUTE)
        return await self.client.start_workflow(
            disputes.type_name,
            disputes.start_input(
                OpenDisputeInput(
                    order_id=order,
                    buyer_id=BUYER.id,
                    seller_id=SELLER.id,
                    order_total=150_000,
                    reason=Reason.NOT_RECEIVED,
                    requested_solution=solution,
                    description="The parcel never arrived",
                    evidence=["ev-1"],
                    policy=settings.dispute_policy(),
                )
            ),
            id=DISPUTE.workflow_id(order),
            task_queue=self.task_queue,
        )

    async def ticket(self, dispute_id: str | None = None) -> WorkflowHandle[Any, Any]:
        reports = workflow_of(TICKET)
        return await self.client.start_workflow(
            reports.type_name,
            reports.start_input(
                OpenTicketInput(
                    user_id=USER.id,
                    role=ReporterRole.BUYER,
                    topic=TicketTopic.PAYMENT,
                    order_id="o-linked" if dispute_id else None,
                    details="Charged twice",
                    dispute_id=dispute_id,
                    policy=Settings().ticket_policy(),
                )
            ),
            id=TICKET.workflow_id(uuid.uuid4().hex[:12]),
            task_queue=self.task_queue,
        )

    @staticmethod
    async def act(handle: WorkflowHandle[Any, Any], *commands: Any) -> None:
        for command in commands:
            await handle.execute_update(command.action, command, result_type=Ack)

    async def settle(self, handle: WorkflowHandle[Any, Any]) -> None:
        """Let the case's steps run (time skips only while nothing is outstanding)."""
        await self.env.sleep(timedelta(seconds=5))
        await asyncio.sleep(0.3)

    async def save(self, name: str, handle: WorkflowHandle[Any, Any], run_id: str | None = None) -> None:
        """Write every run of the workflow, from its first, following continue-as-new."""
        run: str | None = run_id or handle.result_run_id
        index = 1
        while run:
            history = await self.client.get_workflow_handle(handle.id, run_id=run).fetch_history()
            path = self.folder / f"{name}.{index}.json"
            path.write_text(json.dumps({"workflow_id": handle.id, "history": history.to_json_dict()}) + "\n")
            self.saved.append(path.name)
            last = history.events[-1]
            run = None
            if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                run = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                index += 1


async def record(recorder: Recorder) -> None:
    """The representative cases of issue 9: each ends in its outcome, or where it waits."""
    r = recorder
    refund = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=150_000)
    partial = Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=40_000)

    accepted = await r.dispute(refund)
    await r.act(accepted, Accept(actor=SELLER))
    await accepted.result()
    await r.save("dispute-accept", accepted)

    mediated = await r.dispute(refund)
    await r.act(
        mediated,
        MakeOffer(actor=SELLER, solution=partial, note="half arrived"),
        Reject(actor=BUYER, note="nothing arrived"),
        RequestHelp(actor=SELLER, note="we cannot agree"),
        CareReply(actor=CARE, text="Checking with the courier"),
        SendMessage(actor=BUYER, text="Here is the unboxing video", evidence=["ev-2"]),
        Decide(actor=CARE, solution=Solution(kind=SolutionKind.REFUND_TO_BUYER, amount=100_000), note="lost"),
    )
    await mediated.result()
    await r.save("dispute-mediation-decision", mediated)

    exchange = await r.dispute(Solution(kind=SolutionKind.EXCHANGE))
    await r.act(
        exchange,
        Accept(actor=SELLER),
        Ship(actor=BUYER, tracking_number="JNE-RET-1", carrier="jne"),
        Ship(actor=SELLER, tracking_number="JNE-NEW-1", carrier="jne"),
        ConfirmReceipt(actor=BUYER),
    )
    await exchange.result()
    await r.save("dispute-exchange", exchange)

    cancelled = await r.dispute(refund)
    await r.act(
        cancelled, SendMessage(actor=BUYER, text="Found it"), Cancel(actor=BUYER, note="arrived late")
    )
    await cancelled.result()
    await r.save("dispute-cancel", cancelled)

    breached = await r.dispute(refund)
    await r.act(breached, MakeOffer(actor=SELLER, solution=partial))
    await r.env.sleep(timedelta(days=3, minutes=5))  # the buyer's silence: the seller may ask for help
    await r.act(breached, RequestHelp(actor=SELLER))
    await r.env.sleep(timedelta(hours=25))  # care misses the 24-hour target: warning, then breach
    await r.act(breached, Decide(actor=CARE, solution=refund))
    await breached.result()
    await r.save("dispute-inactivity-breach", breached)

    long = await r.dispute(refund, history_max_events=100)
    for index in range(40):
        actor = BUYER if index % 2 == 0 else SELLER
        await r.act(long, SendMessage(actor=actor, text=f"message {index}"))
    await r.act(long, Accept(actor=SELLER))
    await long.result()
    await r.save("dispute-continue-as-new", long)

    parked = await r.dispute(partial)
    r.payments.refusing.add(parked.id)
    await r.act(parked, Accept(actor=SELLER))
    await r.settle(parked)
    await r.act(parked, RetryEffect(actor=OPERATOR, note="account reopened"))
    await r.settle(parked)
    await r.act(parked, ResolveEffect(actor=OPERATOR, external_ref="bank-transfer-1"))
    await parked.result()
    await r.save("dispute-parked-repaired", parked)

    events = await r.dispute(refund)
    await events.signal(
        CaseWorkflow.ingest,
        IngestedEvent(id="chat-1", type="com.marketplace.dispute.buyer.message", action="message",
                      body={"actor": BUYER.model_dump(mode="json"), "text": "from chat"}),
    )  # fmt: skip
    await events.signal(
        CaseWorkflow.ingest,
        IngestedEvent(id="chk-2", type="com.marketplace.dispute.buyer.confirm_receipt",
                      action="confirm_receipt", body={"actor": BUYER.model_dump(mode="json")}),
    )  # fmt: skip
    linked = await r.ticket(dispute_id=events.id)
    await r.act(events, Accept(actor=SELLER))
    await events.result()
    await r.save("dispute-events-linked", events)

    await r.act(
        linked,
        TicketReply(actor=CARE, text="The duplicate charge is refunded"),
        UserMessage(actor=USER, text="Thanks"),
        Solve(actor=CARE),
    )
    await r.env.sleep(timedelta(days=1))
    await r.act(linked, UserMessage(actor=USER, text="It is back"), Solve(actor=CARE))
    await r.env.sleep(timedelta(days=3, minutes=5))  # the quiet period: the report closes
    await linked.result()
    await r.save("ticket-reopen-close", linked)

    # issue 20: a return and refund driven by the marketplace's delivery event; the seller stays
    # silent past the inspection window and the system refunds
    returned = await r.dispute(Solution(kind=SolutionKind.RETURN_AND_REFUND, amount=120_000))
    await r.act(returned, Accept(actor=SELLER), Ship(actor=BUYER, tracking_number="JNE-RET-9", carrier="jne"))
    await r.env.sleep(timedelta(days=1))
    delivered_at = (await r.env.get_current_time()).isoformat()
    await returned.signal(
        CaseWorkflow.ingest,
        IngestedEvent(id="dlv-1", type="com.marketplace.shipment.delivered", action=DELIVERED,
                      body={"tracking_number": "JNE-RET-9", "delivered_at": delivered_at}),
    )  # fmt: skip
    again = Delivered(tracking_number="JNE-RET-9", delivered_at=delivered_at)
    await returned.execute_update(DELIVERED, again, result_type=Ack)  # a repeat: applied once
    await r.env.sleep(timedelta(days=2, minutes=5))
    await returned.result()
    await r.save("dispute-return-refund", returned)

    # issue 20: a delivery moves the receipt window of the remaining items, which started at sending
    remaining = await r.dispute(Solution(kind=SolutionKind.SEND_REMAINING))
    await r.act(
        remaining, Accept(actor=SELLER), Ship(actor=SELLER, tracking_number="JNE-REM-9", carrier="jne")
    )
    await r.env.sleep(timedelta(days=2))
    moved = Delivered(tracking_number="JNE-REM-9", delivered_at=await r.env.get_current_time())
    await remaining.execute_update(DELIVERED, moved, result_type=Ack)
    await r.act(remaining, ConfirmReceipt(actor=BUYER))
    await remaining.result()
    await r.save("dispute-delivery-moves-receipt", remaining)

    # issue 18: care asks the seller for proof of delivery (answered) and the buyer for a photo
    # (expires) under business hours; the decision target waits meanwhile
    calendar = {
        "timezone": "Asia/Jakarta",
        "hours": {day: ["08:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": "ID",
    }
    asked = await r.dispute(refund, care_calendar=calendar)
    await r.act(
        asked,
        MakeOffer(actor=SELLER, solution=partial),
        RequestHelp(actor=BUYER, note="we cannot agree"),
        RequestInfo(
            actor=CARE,
            party=Role.SELLER,
            text="Please send the proof of delivery",
            evidence_type=EvidenceType.PROOF_OF_DELIVERY,
        ),
        SendMessage(actor=SELLER, text="Here is the courier's proof"),
        RequestInfo(actor=CARE, party=Role.BUYER, text="A photo of the parcel?", due_in=timedelta(days=1)),
    )
    await r.env.sleep(timedelta(days=1, minutes=5))  # the buyer's request expires: the target resumes
    await r.act(asked, Decide(actor=CARE, solution=refund, note="proof checked"))
    await asked.result()
    await r.save("dispute-info-request", asked)

    # issue 18: routed to a group, claimed, then the reply target is missed: the case moves to the
    # supervisors' group and its agent is told
    owned = await r.dispute(refund, care_groups=["logistics"], care_routing={"NOT_RECEIVED": "logistics"})
    await r.act(owned, MakeOffer(actor=SELLER, solution=partial), RequestHelp(actor=BUYER), Claim(actor=CARE))
    await r.env.sleep(timedelta(hours=25))
    await r.act(owned, Decide(actor=CARE, solution=refund))
    await owned.result()
    await r.save("dispute-ownership-breach", owned)

    # issue 20: a return shipped back but never delivered goes to care when its transit window closes
    lost = await r.dispute(Solution(kind=SolutionKind.RETURN_AND_REFUND, amount=120_000))
    await r.act(lost, Accept(actor=SELLER), Ship(actor=BUYER, tracking_number="JNE-RET-LOST", carrier="jne"))
    await r.env.sleep(timedelta(days=14, minutes=5))
    await r.act(lost, Decide(actor=CARE, solution=refund, note="lost by the courier"))
    await lost.result()
    await r.save("dispute-return-lost", lost)

    # issue 18: a report on hold waits for its user; care resumes it, replies and solves
    held = await r.ticket()
    await r.act(held, Hold(actor=CARE, reason="waiting for the bank"))
    await r.env.sleep(timedelta(days=2))  # no breach while on hold
    await r.act(
        held, Resume(actor=CARE), TicketReply(actor=CARE, text="The bank confirmed it"), Solve(actor=CARE)
    )
    await r.env.sleep(timedelta(days=3, minutes=5))
    await held.result()
    await r.save("ticket-hold", held)

    breached_report = await r.ticket()
    await r.env.sleep(timedelta(hours=25))
    await r.act(breached_report, TicketReply(actor=CARE, text="Sorry for the wait"), Solve(actor=CARE))
    await r.env.sleep(timedelta(days=3, minutes=5))
    await breached_report.result()
    await r.save("ticket-breach", breached_report)


async def main(version: str) -> None:
    """Record every scenario into tests/histories/<version>/ (other versions are kept)."""
    folder = HISTORIES / version
    if folder.exists():
        raise SystemExit(f"{folder} exists: record a new version, keep the recorded ones")
    folder.mkdir(parents=True)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binaries.time_skipping_server(), data_converter=pydantic_data_converter
    )
    try:
        await sa.register(env.client)
        task_queue = f"record-{uuid.uuid4()}"
        with tempfile.TemporaryDirectory() as data:
            settings = Settings(task_queue=task_queue, data_dir=Path(data))
            async with database(settings) as engine:
                activities = case_activities(settings, env.client, engine)
                refusing = RefusingOnce(activities.payments.outbox)  # type: ignore[attr-defined]
                activities.payments = refusing
                recorder = Recorder(env, task_queue, refusing, folder)
                async with build_worker(env.client, settings, activities, engine):
                    await record(recorder)
        print(f"recorded {len(recorder.saved)} histories into {folder}:", *recorder.saved, sep="\n  ")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isidentifier():
        raise SystemExit(USAGE)
    asyncio.run(main(sys.argv[1]))
