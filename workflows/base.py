"""The skeleton every case workflow shares: actions as updates, one timer over the next deadline,
effects in lanes that never hold back a clock, and continue-as-new before history grows large.

A step is small: an action applies its rule, answers with an acknowledgement, and queues what
follows (one publish step for its timeline entries, notices and webhook events; money and care
desk steps in lanes of their own). The main loop only waits and ticks the clocks."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.effects import CaseActivities
    from activities.models import (
        ArchiveInput,
        AssignInput,
        MediationInput,
        NotifyInput,
        PublishInput,
        ReplyTargetInput,
    )
    from domain.case import CareCase, DeadlineEvent
    from domain.commands import Command, IngestedEvent
    from domain.effects import EffectName
    from domain.errors import DomainError
    from domain.events import CareReplyDue, DomainEvent
    from domain.outbound import CaseEvent
    from domain.reactions import Consequences, consequences, snapshot
    from domain.types import CareTarget, Role
    from domain.views import current_details, deadline_name
    from workflows.errors import as_application_error
    from workflows.requests import REQUEST_MEMORY, RequestId

CaseT = TypeVar("CaseT", bound=CareCase)
ResultT = TypeVar("ResultT")
ArgT = TypeVar("ArgT")
OutT = TypeVar("OutT")


class Ack(BaseModel):
    """What an action's update answers: small, so history grows by the request, not the case."""

    status: str
    version: int
    allowed_actions: dict[Role, list[str]]
    entry: int = Field(description="the seq of the action's timeline entry")
    duplicate: bool = Field(default=False, description="a retry of a request this case already ran")


class CareJob(BaseModel):
    """One step for the care desk: open and assign a mediation, or a care-target alert."""

    kind: Literal["mediation", "warning", "breach"]
    mediation: MediationInput | None = None
    target: ReplyTargetInput | None = None
    aim: CareTarget = Field(default=CareTarget.REPLY, description="what care owes: reply, decision, review")


class Jobs(BaseModel):
    """The effect lanes' queues; the head of each is the step in flight (or parked)."""

    publish: list[PublishInput] = []
    care: list[CareJob] = []


class SeenRequest(BaseModel):
    """A keyed request this case ran: retries with the same fingerprint get its answer again."""

    fingerprint: str
    entry: int


class Carried(BaseModel, Generic[CaseT]):
    """What a case takes into its next run when it continues as new."""

    case: CaseT
    version: int
    jobs: Jobs
    batches: int = Field(default=0, description="publish steps numbered so far")
    notices: int = Field(description="notices numbered so far (their idempotency keys)")
    events: int = Field(description="webhook events numbered so far (their ids)")
    queued_seq: int = Field(description="the last timeline entry handed to the publish lane")
    requests: dict[str, SeenRequest] = {}
    ingested: list[str] = Field(default=[], description="recent CloudEvent ids, for dedupe")
    runs: int = 1


class _LazyCounter:
    """A workflow metric created on first use (the meter exists only inside a workflow)."""

    def __init__(self, name: str, description: str) -> None:
        self.name = name
        self.description = description

    def add(self, value: int, attributes: dict[str, str]) -> None:
        workflow.metric_meter().create_counter(self.name, self.description).add(value, attributes)


_CASE_EVENTS = _LazyCounter("case_events", "Case events by type: opened, escalated, resolved, breaches")
_EFFECTS_PARKED = _LazyCounter("effects_parked", "Outside effects parked for an operator, by effect")
_INGESTED_MEMORY = 1000
#: Cases that close on code with this patch archive themselves as they close; cases recorded
#: before it (tests/histories) replay without the step (docs/deployment.md, patching).
ARCHIVE_PATCH = "archive-closed-cases"
#: Search attributes added after cases were already running. A run that began before sets none
#: of them, so its history replays with the same commands; a run begun since sets them.
_LATER_ATTRIBUTES = {"NextDeadlineAt", "CareDecisionDueAt"}
_LATER_ATTRIBUTES_PATCH = "deadlines-search-attributes"
#: What care owes by each target, as activity summaries and the care desk name it.
_OWED = {
    CareTarget.REPLY: "care reply",
    CareTarget.DECISION: "care decision",
    CareTarget.REVIEW: "supervisor review",
}
#: Timeline entries a case holds before its publish step has stored them. Past it, actions are
#: refused for a moment (the API answers 429): the backlog, which continues as new with the
#: case, stays far below Temporal's payload limit even when the store is down.
UNPUBLISHED_LIMIT = 100


class CaseWorkflow(ABC, Generic[CaseT, ResultT]):
    """Base of the case workflows: owns the run skeleton; subclasses give their case's steps."""

    _case: CaseT

    # -- what each kind of case provides ------------------------------------------------------

    @abstractmethod
    def _search_attributes(self) -> dict[SearchAttributeKey[Any], Any]:
        """The search attribute values that describe the case now (``None`` unsets one)."""

    @abstractmethod
    def _result(self) -> ResultT:
        """What the workflow returns once the case is closed."""

    @abstractmethod
    def _continue(self, carried: Carried[CaseT]) -> None:
        """Continue as new with ``carried`` (the subclass knows its run input type)."""

    async def _on_start(self) -> None:
        """A case's own first step, once per case (e.g. a report links its dispute)."""

    def _reply_target_summary(self, alert: CareReplyDue) -> str:
        """How a care target's warning or breach reads on the care desk."""
        owed = (
            "supervisor review of the appealed decision"
            if alert.target is CareTarget.REVIEW
            else _OWED[alert.target]
        )
        return f"{owed} on {self._case.id} due {alert.due_at.isoformat()}"

    def _mediation(self) -> MediationInput:
        """The care desk's mediation request (disputes only)."""
        raise NotImplementedError

    def _mediation_opened(self, case_ref: str, assignee: str) -> None:
        """Record the care desk's mediation case (disputes only)."""
        raise NotImplementedError

    def _lanes(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        """The effect lanes of this kind of case: publish and care desk; disputes add money."""
        return [self._publish_lane, self._care_lane]

    # -- start, run, finish -------------------------------------------------------------------

    def _begin(self, case: CaseT, carried: Carried[CaseT] | None, happened: list[DomainEvent]) -> None:
        """Set up a run: a new case with what its opening caused, or the state carried over."""
        if carried is not None:
            case = carried.case
        self._case = case
        self._version = carried.version if carried else 0
        self._jobs = carried.jobs if carried else Jobs()
        self._batches = carried.batches if carried else 0
        self._notices = carried.notices if carried else 0
        self._events = carried.events if carried else 0
        self._queued_seq = carried.queued_seq if carried else 0
        self._requests: dict[str, SeenRequest] = carried.requests if carried else {}
        self._ingested: list[str] = carried.ingested if carried else []
        self._runs = carried.runs + 1 if carried else 1
        self._first_run = carried is None
        self._running = False
        self._in_flight = 0  # effect activities running now
        self._draining = False
        self._alarm: asyncio.Task[None] | None = None
        self._alarm_at: datetime | None = None
        self._rang = False
        self._changed(happened)

    async def _run_case(self) -> ResultT:
        """The skeleton: lanes start, the case waits for changes and deadlines until it closes,
        continuing as new whenever its history grows past the bound, then the lanes drain."""
        self._running = True
        self._sync_search_attributes()
        for lane in self._lanes():
            asyncio.create_task(lane())  # noqa: RUF006 - lanes live as long as the run
        if self._first_run:
            await self._on_start()
        while not self._case.closed:
            await self._wait_for_change_or_deadline()
            if self._should_continue_as_new():
                self._continue_as_new()
        # Closed: the last steps finish in this run (a few events), never paused for a next one.
        self._draining = False
        await workflow.wait_condition(lambda: self._idle() and workflow.all_handlers_finished())
        if workflow.patched(ARCHIVE_PATCH):
            await self._archive()
        return self._result()

    async def _archive(self) -> None:
        """Hand the closed case to the archive (the API reads closed cases there, not by replay)."""
        case = self._case
        closed = ArchiveInput(
            case_id=case.id,
            kind=case.actions.kind,
            order_id=getattr(case, "order_id", None),
            buyer_id=getattr(case, "buyer_id", None),
            seller_id=getattr(case, "seller_id", None),
            status=case.status,
            opened_at=getattr(case, "opened_at", workflow.now()),
            closed_at=workflow.now(),
            state=case.model_dump(mode="json", exclude={"timeline"}),
            timeline=case.timeline,
            requests={key: seen.model_dump() for key, seen in self._requests.items()},
        )
        key = f"{case.id}:archive"
        while not await self._effect(
            "archive", key, CaseActivities.archive_case, closed, "archive the closed case"
        ):
            pass  # parked, then retried by an operator: try again

    def _idle(self) -> bool:
        """Nothing in flight and nothing queued: every effect of the case has been carried out."""
        return self._in_flight == 0 and not (self._jobs.publish or self._jobs.care) and self._settled_up()

    def _settled_up(self) -> bool:
        """Whether no payout is outstanding (disputes override)."""
        return True

    def _should_continue_as_new(self) -> bool:
        """Past the history bound the lanes start no new step; the run continues as new once the
        steps in flight are done (what is still queued goes along and runs in the next run:
        every effect is idempotent by its key). At twice the bound it goes at once, even with a
        step in flight, which then runs again in the next run."""
        info = workflow.info()
        policy = self._case.policy
        events, size = info.get_current_history_length(), info.get_current_history_size()
        if events >= 2 * policy.history_max_events or size >= 2 * policy.history_max_bytes:
            return True
        self._draining = self._draining or (
            info.is_continue_as_new_suggested()
            or events >= policy.history_max_events
            or size >= policy.history_max_bytes
        )
        return self._draining and self._in_flight == 0 and workflow.all_handlers_finished()

    def _continue_as_new(self) -> None:
        workflow.logger.info(
            "continuing as new after %d events", workflow.info().get_current_history_length()
        )
        self._continue(
            Carried(
                case=self._case,
                version=self._version,
                jobs=self._jobs,
                batches=self._batches,
                notices=self._notices,
                events=self._events,
                queued_seq=self._queued_seq,
                requests=self._requests,
                ingested=self._ingested,
                runs=self._runs,
            )
        )

    # -- actions: one dynamic update, driven by the case's registry ---------------------------

    @workflow.update(dynamic=True)
    def act(self, name: str, args: Sequence[RawValue]) -> Ack:
        """Any registered action (the update's name is the action's): apply it, answer small."""
        command = self._command(name, args)
        request = RequestId.current()
        if request is not None and (seen := self._requests.get(request.key)) is not None:
            return self._ack(seen.entry, duplicate=True)
        try:
            happened = self._case.apply(command, workflow.now())
        except DomainError as error:
            # The validator ran against the same state; re-checked here so nothing is half-applied.
            raise as_application_error(error) from None
        workflow.logger.info(
            "%s by %s %s", name, command.actor.role.value, command.actor.id, extra={"case_id": self._case.id}
        )
        entry = self._case.timeline_seq
        if request is not None:
            self._remember(request, entry)
        self._changed(happened)
        return self._ack(entry)

    @act.validator
    def _validate(self, name: str, args: Sequence[RawValue]) -> None:
        command = self._command(name, args)
        request = RequestId.current()
        if request is not None and (seen := self._requests.get(request.key)) is not None:
            if seen.fingerprint != request.fingerprint:
                raise ApplicationError(
                    "Idempotency-Key was already used for a different request on this case",
                    {
                        "errors": [
                            {"field": "Idempotency-Key", "reason": "already used for a different request"}
                        ]
                    },
                    type="IdempotencyKeyReused",
                    non_retryable=True,
                )
            return  # a retry: answered with the first outcome
        if len(self._case.timeline) >= UNPUBLISHED_LIMIT:
            raise ApplicationError(
                f"{self._case.id} is catching up with {len(self._case.timeline)} unpublished changes;"
                " retry shortly",
                {},
                type="CaseBusy",
                non_retryable=True,
            )
        try:
            self._case.check(command, workflow.now())
        except DomainError as error:
            raise as_application_error(error) from None

    def _command(self, name: str, args: Sequence[RawValue]) -> Command:
        spec = self._case.actions.get(name)
        if spec is None or len(args) != 1:
            raise ApplicationError(
                f"{self._case.id} has no action {name!r}", {}, type="UnknownAction", non_retryable=True
            )
        try:
            command: Command = workflow.payload_converter().from_payload(args[0].payload, spec.command)
        except (ValidationError, ValueError) as error:
            raise ApplicationError(
                f"invalid {name}: {error}", {}, type="InvalidInput", non_retryable=True
            ) from None
        return command

    def _ack(self, entry: int, *, duplicate: bool = False) -> Ack:
        return Ack(
            status=self._case.status,
            version=self._version,
            allowed_actions=self._case.allowed_actions,
            entry=entry,
            duplicate=duplicate,
        )

    def _remember(self, request: RequestId, entry: int) -> None:
        self._requests[request.key] = SeenRequest(fingerprint=request.fingerprint, entry=entry)
        while len(self._requests) > REQUEST_MEMORY:
            del self._requests[next(iter(self._requests))]

    def _ingest(self, event: IngestedEvent) -> None:
        """Apply an action that came as an event (CloudEvents), once per event id; an action the
        case does not allow is recorded on its timeline as rejected, never silently dropped."""
        if event.id in self._ingested:
            return
        self._ingested.append(event.id)
        del self._ingested[:-_INGESTED_MEMORY]
        if event.action is None:  # an "opened" event: only the one that started the case is fine
            if self._running:
                self._reject(event, f"{self._case.id} is already open")
            return
        spec = self._case.actions.get(event.action)
        try:
            if spec is None:
                raise ValueError(f"{self._case.id} has no action {event.action}")
            happened = self._case.apply(spec.command.model_validate(event.body), workflow.now())
        except DomainError as error:
            self._reject(event, error.message)
        except ValidationError as error:
            self._reject(event, f"invalid data: {error.errors(include_url=False)[0]['msg']}")
        except ValueError as error:
            self._reject(event, str(error))
        else:
            self._changed(happened)

    def _reject(self, event: IngestedEvent, reason: str) -> None:
        self._case.record_rejected_event(event.id, event.type, reason, workflow.now())
        self._changed([])

    # -- every change: queue what follows, keep on-call's view in step ------------------------

    def _changed(self, happened: list[DomainEvent]) -> None:
        """Queue the effects of one change and bump the version the main loop waits on."""
        follows = consequences(self._case, happened)
        self._queue_publish(follows)
        if EffectName.MEDIATION_OPENED in follows.effects:
            self._jobs.care.append(CareJob(kind="mediation", mediation=self._mediation()))
        for alert in follows.care_alerts:
            self._jobs.care.append(self._alert(alert))
        if follows.parked:
            _EFFECTS_PARKED.add(1, {"effect": follows.parked[0]})
        self._version += 1
        if self._running:
            self._sync_search_attributes()
        workflow.set_current_details(current_details(self._case, redact=self._case.policy.redact_details))

    def _queue_publish(self, follows: Consequences) -> None:
        """Queue the change's notices and events; its timeline entries stay in the case until a
        publish step hands them out (so they are carried once, not twice, into a next run)."""
        case = self._case
        recorded = case.timeline_seq > self._queued_seq
        notices = []
        for notice in follows.notices:
            self._notices += 1
            notices.append(
                NotifyInput(
                    case_id=case.id,
                    party=notice.party.value,
                    party_id=notice.party_id,
                    text=notice.text,
                    category=notice.category.value,
                    idempotency_key=f"{case.id}:notice:{self._notices}",
                )
            )
        events = []
        data = snapshot(case) if follows.published else {}
        for event_type in follows.published:
            self._events += 1
            events.append(
                CaseEvent(
                    id=f"{case.id}:{self._events}",
                    type=event_type,
                    case_id=case.id,
                    occurred_at=workflow.now(),
                    data=data,
                )
            )
            # Business metrics, on the worker's /metrics (the SDK skips them while replaying):
            # cases opened, escalated, resolved, cancelled, reply-target warnings and breaches.
            _CASE_EVENTS.add(1, {"type": event_type.value})
        if recorded or notices or events:
            self._queued_seq = case.timeline_seq
            self._batches += 1
            self._jobs.publish.append(
                PublishInput(case_id=case.id, batch=self._batches, notices=notices, events=events)
            )

    def _alert(self, alert: CareReplyDue) -> CareJob:
        kind: Literal["warning", "breach"] = "breach" if alert.breached else "warning"
        return CareJob(
            kind=kind,
            aim=alert.target,
            target=ReplyTargetInput(
                case_id=self._case.id,
                due_at=alert.due_at,
                summary=self._reply_target_summary(alert),
                idempotency_key=f"{self._case.id}:{_alert_effect(alert.target, kind)}:"
                f"{alert.started_at.isoformat()}",
            ),
        )

    def _sync_search_attributes(self) -> None:
        """Send the search attributes that differ from what the workflow carries (the start or
        the previous run set them; only changes add to history)."""
        current = workflow.info().typed_search_attributes
        updates: list[SearchAttributeUpdate[Any]] = []
        values = self._search_attributes()
        if not workflow.patched(_LATER_ATTRIBUTES_PATCH):
            values = {key: value for key, value in values.items() if key.name not in _LATER_ATTRIBUTES}
        for key, value in values.items():
            if current.get(key) != value:
                updates.append(key.value_unset() if value is None else key.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)

    # -- the main loop's wait: one timer over the next deadline --------------------------------

    async def _wait_for_change_or_deadline(self) -> None:
        seen = self._version
        deadline = self._case.next_deadline()
        self._set_alarm(deadline)
        await workflow.wait_condition(
            lambda: self._version != seen or self._rang or self._should_continue_as_new()
        )
        self._rang = False
        # Decided on the state, not on which wake-up came first: an action handled in the same
        # instant as the timer has already moved the deadline.
        happened = self._case.tick(workflow.now())
        if happened or self._case.timeline_seq > self._queued_seq:
            self._changed(happened)

    def _set_alarm(self, deadline: tuple[datetime, DeadlineEvent] | None) -> None:
        """Keep one timer on the next deadline. A deadline that moves later keeps the running
        timer (it rings early, finds nothing due and is set again), so a conversation that
        keeps restarting the turn clock adds no timer events to history; a deadline that moves
        earlier, or goes away, replaces it."""
        at = deadline[0] if deadline else None
        pending = self._alarm is not None and not self._alarm.done()
        if pending and at is not None and self._alarm_at is not None and at >= self._alarm_at:
            return
        if self._alarm is not None and not self._alarm.done():
            self._alarm.cancel()
        self._alarm, self._alarm_at = None, at
        if deadline is not None:
            self._alarm = asyncio.create_task(self._ring(*deadline))

    async def _ring(self, at: datetime, event: DeadlineEvent) -> None:
        remaining = at - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining, summary=deadline_name(self._case, event))
        self._rang = True

    # -- the effect lanes ----------------------------------------------------------------------

    async def _jobs_lane(
        self, queue: Callable[[], list[Any]], step: Callable[[Any], Awaitable[bool]]
    ) -> None:
        """Run a queue's head until its step says it is done (False: parked and repaired, or
        retried: look at it again)."""
        while True:
            await workflow.wait_condition(lambda: bool(queue()))
            if await step(queue()[0]):
                queue().pop(0)

    async def _publish_lane(self) -> None:
        async def step(first: PublishInput) -> bool:
            # Changes queued while the previous step ran go out together, in order, in one step.
            batch = list(self._jobs.publish)
            merged = PublishInput(
                case_id=self._case.id,
                batch=first.batch,
                timeline=[entry for entry in self._case.timeline if entry.seq <= self._queued_seq],
                notices=[notice for change in batch for notice in change.notices],
                events=[event for change in batch for event in change.events],
            )
            summary = (
                f"publish {len(merged.timeline)} entries, {len(merged.notices)} notices,"
                f" {len(merged.events)} events"
            )
            key = f"{self._case.id}:publish:{first.batch}"
            result = await self._effect("publish", key, CaseActivities.publish_change, merged, summary)
            if result is None:
                return False
            del self._jobs.publish[1 : len(batch)]  # the head is popped by the lane
            if merged.timeline:
                self._case.forget_timeline(upto=merged.timeline[-1].seq)
            for refused in result.refused:
                self._case.record_failed_effect(refused.idempotency_key, refused.reason, workflow.now())
            if result.refused:
                self._changed([])
            return True

        await self._jobs_lane(lambda: self._jobs.publish, step)

    async def _care_lane(self) -> None:
        async def step(job: CareJob) -> bool:
            if job.kind == "mediation":
                return await self._open_mediation(job)
            assert job.target is not None
            key = job.target.idempotency_key
            if key in self._case.done_by_hand:
                return True
            effect = _alert_effect(job.aim, job.kind)
            owed = _OWED[job.aim]
            if job.kind == "warning":
                done = await self._effect(
                    effect, key, CaseActivities.warn_care_reply, job.target, f"{owed} warning"
                )
            else:
                done = await self._effect(
                    effect,
                    key,
                    CaseActivities.escalate_care_breach,
                    job.target,
                    f"{owed} breach escalation",
                )
            return done is not None or key in self._case.done_by_hand

        await self._jobs_lane(lambda: self._jobs.care, step)

    async def _open_mediation(self, job: CareJob) -> bool:
        assert job.mediation is not None
        if self._mediation_ready():
            return True  # recorded by hand meanwhile
        key = job.mediation.idempotency_key
        case = await self._effect(
            "mediation", key, CaseActivities.open_mediation_case, job.mediation, "open mediation case"
        )
        if case is None:
            return self._mediation_ready()
        assign = AssignInput(
            case_id=self._case.id, case_ref=case.case_ref, idempotency_key=f"{self._case.id}:assign"
        )
        assigned = await self._effect(
            "mediation",
            assign.idempotency_key,
            CaseActivities.assign_to_care,
            assign,
            f"assign {case.case_ref} to care",
        )
        if assigned is None:
            return self._mediation_ready()
        self._mediation_opened(case.case_ref, assigned.assignee)
        self._changed([])
        return True

    def _mediation_ready(self) -> bool:
        """Whether the mediation case is open (disputes override)."""
        return True

    async def _effect(
        self,
        effect: str,
        key: str,
        activity: Callable[[Any, ArgT], Awaitable[OutT]],
        arg: ArgT,
        summary: str,
    ) -> OutT | None:
        """Run one effect step. When it is refused for good or runs out of retries, the case
        parks it, tells on-call (``NeedsAttention``, ``case.needs_attention``) and waits for an
        operator; then ``None``: the lane looks at what to do again (retry it, skip what was done
        by hand, or follow a new decision). A case never fails because of an outside system."""
        await workflow.wait_condition(lambda: not self._case.parked(key))
        if key in self._case.done_by_hand:
            return None
        await workflow.wait_condition(lambda: not self._draining)  # no new step while continuing as new
        self._in_flight += 1
        try:
            return await workflow.execute_activity_method(
                activity,
                arg,
                start_to_close_timeout=self._case.policy.activity_timeout,
                schedule_to_close_timeout=self._case.effects[EffectName(effect)].retry_window(
                    self._case.policy
                ),
                retry_policy=RetryPolicy(maximum_interval=self._case.policy.activity_max_retry_interval),
                summary=summary,
            )
        except ActivityError as error:
            workflow.logger.warning("%s parked: %s", key, _reason(error), extra={"case_id": self._case.id})
            self._changed(self._case.park(EffectName(effect), key, _reason(error), workflow.now()))
            await workflow.wait_condition(lambda: not self._case.parked(key))
            return None
        finally:
            self._in_flight -= 1


def _alert_effect(aim: CareTarget, kind: Literal["mediation", "warning", "breach"]) -> str:
    """The effect a care-target alert is parked as, and its idempotency key's middle part."""
    return f"{aim.value}_{'warning' if kind == 'warning' else 'breached'}"


def _reason(error: ActivityError) -> str:
    """Why an effect step failed, in a line: the refusal, or the retries that ran out."""
    cause = error.cause
    last = cause.cause if isinstance(cause, TimeoutError) else cause
    said = (
        f"{last.type or 'refused'}: {last.message}"
        if isinstance(last, ApplicationError)
        else str(last or error)
    )
    if error.retry_state in (RetryState.TIMEOUT, RetryState.MAXIMUM_ATTEMPTS_REACHED) or isinstance(
        cause, TimeoutError
    ):
        return f"out of retries, last: {said}"
    return said
