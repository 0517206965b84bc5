"""The engine every case runs on: actions as updates, one timer over the next deadline, effects in
lanes that never hold back a clock, and continue-as-new before history grows large.

It knows no kind of case. What differs between a dispute and a report comes from the kind
(``domain/kinds.py``: state, actions, effects, reactions, views) and from its Temporal side, a
``KindSteps`` (``workflows/dispute.py``, ``workflows/ticket.py``: search attributes, result, the
kind's own lanes and effect steps). A step is small: an action applies its rule, answers with an
acknowledgement, and queues what follows in lanes run from the kind's effect registry. The main
loop only waits and ticks the clocks. A lane that raises fails the workflow task (the Web UI
shows it, Temporal retries it): a fix deployed carries the case on."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, Field, model_validator
from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.effects import CaseActivities
    from activities.models import NotifyInput, PublishInput, PublishResult, ReplyTargetInput
    from domain.case import CareCase, DeadlineEvent
    from domain.commands import Command, IngestedEvent
    from domain.effects import EffectName, EffectSpec, Lane, alert_effect
    from domain.errors import DomainError
    from domain.events import CareReplyDue, DomainEvent, Opened
    from domain.kinds import CaseKind
    from domain.outbound import CaseEvent
    from domain.reactions import Consequences, consequences, snapshot
    from domain.types import CareTarget, Role, history_ceilings
    from domain.views import current_details, deadline_name
    from store.cases import ArchiveInput
    from store.views import compact
    from workflows.errors import as_application_error
    from workflows.requests import REQUEST_MEMORY, RequestId

CaseT = TypeVar("CaseT", bound=CareCase)
ResultT = TypeVar("ResultT")


class Ack(BaseModel):
    """What an action's update answers: small, so history grows by the request, not the case."""

    status: str
    version: int
    allowed_actions: dict[Role, list[str]]
    entry: int = Field(description="the seq of the action's timeline entry")
    duplicate: bool = Field(default=False, description="a retry of a request this case already ran")


#: What care owes by each target, as activity summaries and the care desk name it.
_OWED = {
    CareTarget.REPLY: "care reply",
    CareTarget.DECISION: "care decision",
    CareTarget.REVIEW: "supervisor review",
}


class EffectJob(BaseModel):
    """One queued step of an effect lane: the effect, its activity's input (as JSON), its
    idempotency key and how the step reads in the Web UI."""

    effect: EffectName
    input: dict[str, Any]
    key: str
    summary: str

    @model_validator(mode="before")
    @classmethod
    def _recorded_shape(cls, data: Any) -> Any:
        """Read a care-desk step carried over from a run before the effect registry (tagged
        ``kind`` with optional ``mediation`` / ``target`` fields)."""
        if not isinstance(data, dict) or "kind" not in data:
            return data
        if data["kind"] == "mediation":
            mediation = data["mediation"]
            return {
                "effect": EffectName.MEDIATION_OPENED,
                "input": mediation,
                "key": mediation["idempotency_key"],
                "summary": "open mediation case",
            }
        aim = CareTarget(data.get("aim", CareTarget.REPLY))
        breached = data["kind"] == "breach"
        target = data["target"]
        return {
            "effect": alert_effect(aim.value, breached),
            "input": target,
            "key": target["idempotency_key"],
            "summary": f"{_OWED[aim]} {'breach escalation' if breached else 'warning'}",
        }


class Jobs(BaseModel):
    """The effect lanes' queues; the head of each is the step in flight (or parked)."""

    publish: list[PublishInput] = []
    care: list[EffectJob] = []
    deliver: list[PublishInput] = Field(
        default=[], description="notices and events a publish step could not hand out, retried in order"
    )


class SeenRequest(BaseModel):
    """A keyed request this case ran: retries with the same fingerprint get its answer again."""

    fingerprint: str
    entry: int


class Carried(BaseModel, Generic[CaseT]):
    """A case's run state: the engine keeps it here, and takes it as is into its next run when it
    continues as new (so every field is written once, here)."""

    case: CaseT
    version: int = 0
    jobs: Jobs = Jobs()
    batches: int = Field(default=0, description="publish steps numbered so far")
    notices: int = Field(default=0, description="notices numbered so far (their idempotency keys)")
    events: int = Field(default=0, description="webhook events numbered so far (their ids)")
    queued_seq: int = Field(default=0, description="the last timeline entry handed to the publish lane")
    requests: dict[str, SeenRequest] = {}
    ingested: list[str] = Field(default=[], description="recent CloudEvent ids, for dedupe")
    held: list[IngestedEvent] = Field(
        default=[], description="CloudEvents that came while the case was catching up, applied in order"
    )
    runs: int = 1


class Step(StrEnum):
    """What became of one effect step."""

    DONE = "done"
    """carried out: the activity's result comes with it"""
    BY_HAND = "by_hand"
    """parked, and an operator recorded it as done elsewhere: nothing to run"""
    AGAIN = "again"
    """parked, and an operator retried it (or a new decision replaced it): look at it again"""


@dataclass(frozen=True)
class Ran:
    """The explicit result of ``CaseWorkflow.run_effect``: the step, and the activity's result
    when it was carried out."""

    step: Step
    result: Any = None

    @property
    def done(self) -> bool:
        """Carried out, here or by hand: the lane may move on."""
        return self.step is not Step.AGAIN


class _LazyCounter:
    """A workflow metric created on first use (the meter exists only inside a workflow)."""

    def __init__(self, name: str, description: str) -> None:
        self.name = name
        self.description = description

    def add(self, value: int, attributes: dict[str, str]) -> None:
        workflow.metric_meter().create_counter(self.name, self.description).add(value, attributes)


_CASE_EVENTS = _LazyCounter("case_events", "Case events by type: opened, escalated, resolved, breaches")
#: How long care took to answer a target (a reply, a decision, a review), by target and kind of case.
_CARE_ANSWERED = "care_time_to_answer"
_EFFECTS_PARKED = _LazyCounter("effects_parked", "Outside effects parked for an operator, by effect")
_INGESTED_MEMORY = 1000
#: Cases that close on code with this patch archive themselves as they close; cases recorded
#: before it (tests/histories) replay without the step (docs/deployment.md, patching).
ARCHIVE_PATCH = "archive-closed-cases"
#: Search attributes added after cases were already running. A run that began before sets none
#: of them, so its history replays with the same commands; a run begun since sets them.
_LATER_ATTRIBUTES = {"NextDeadlineAt", "CareDecisionDueAt"}
_LATER_ATTRIBUTES_PATCH = "deadlines-search-attributes"
#: An action answers once its change is stored (its timeline entry and the read-model row at its
#: version or later), so the API answers from the read model in one round trip; cases recorded
#: before it answered at once, and replay so.
ANSWER_STORED_PATCH = "answer-when-stored"
#: Timeline entries a case holds before its publish step has stored them. Past it, actions are
#: refused for a moment (the API answers 429) and CloudEvents wait in ``held``: the backlog,
#: which continues as new with the case, stays far below Temporal's payload limit even when the
#: store is down.
UNPUBLISHED_LIMIT = 100


class KindSteps(ABC, Generic[CaseT, ResultT]):
    """The Temporal side of one kind of case: what the engine asks of the kind beyond its rules."""

    #: The kind (``domain/kinds.py``).
    kind: ClassVar[CaseKind[Any, Any]]

    @abstractmethod
    def search_attributes(self, case: CaseT) -> dict[SearchAttributeKey[Any], Any]:
        """The search attribute values that describe the case now (``None`` unsets one)."""

    @abstractmethod
    def result(self, case: CaseT) -> ResultT:
        """What the workflow returns once the case is closed."""

    def archived(self, case: CaseT) -> dict[str, str | None]:
        """The business keys the archive files the closed case under (``ArchiveInput``)."""
        return {"order_id": None}

    def alert_summary(self, case: CaseT, alert: CareReplyDue) -> str:
        """How a care target's warning or breach reads on the care desk."""
        owed = (
            "supervisor review of the appealed decision"
            if alert.target is CareTarget.REVIEW
            else _OWED[alert.target]
        )
        return f"{owed} on {case.id} due {alert.due_at.isoformat()}"

    def job(self, case: CaseT, effect: EffectName) -> EffectJob:
        """The lane step for an effect the kind's reactions asked for (e.g. open a mediation)."""
        raise LookupError(f"{self.kind.name} cannot start {effect.value} by itself")

    def finished(self, engine: CaseWorkflow[CaseT, ResultT], job: EffectJob, result: Any) -> list[EffectJob]:
        """Record what a carried-out step brought back; return the steps that follow it at once."""
        return []

    def lanes(
        self, engine: CaseWorkflow[CaseT, ResultT]
    ) -> dict[Lane, Callable[[], Coroutine[Any, Any, None]]]:
        """The kind's own lanes (the engine runs the publish and care lanes itself)."""
        return {}

    def settled_up(self, case: CaseT) -> bool:
        """Whether nothing the kind's own lanes owe is outstanding."""
        return True

    async def on_start(self, engine: CaseWorkflow[CaseT, ResultT]) -> None:
        """The kind's own first step, once per case (e.g. a report links its dispute)."""

    def ingest(self, case: CaseT, event: IngestedEvent, now: datetime) -> list[DomainEvent]:
        """Apply an event that is no party's action (e.g. a shipment delivered); by default there is none."""
        raise ValueError(f"{case.id} has no action {event.action}")


class CaseWorkflow(Generic[CaseT, ResultT]):
    """The engine: the run skeleton of every case workflow. A kind's workflow class only binds
    its run input, result and state query to it (``workflows/dispute.py``)."""

    _state: Carried[CaseT]

    # -- start, run, finish -------------------------------------------------------------------

    def _begin(self, steps: KindSteps[CaseT, ResultT], run: Any) -> None:
        """Set up a run: a new case opened from ``run.open``, or the run state carried over."""
        self._steps = steps
        self._opening = run
        self._first_run = run.carried is None
        if run.carried is not None:
            self._state = run.carried
            self._state.runs += 1
            happened: list[DomainEvent] = []
        else:
            now = run.open.opened_at or workflow.now()
            self._state = Carried(case=steps.kind.open(workflow.info().workflow_id, run.open, now))
            happened = [Opened()]
        self._running = False
        self._in_flight = 0  # effect activities running now
        self._draining = False
        self._alarm: asyncio.Task[None] | None = None
        self._alarm_at: datetime | None = None
        self._rang = False
        self._failure: BaseException | None = None
        self.changed(happened)

    @property
    def case(self) -> CaseT:
        """The case this run carries."""
        return self._state.case

    @property
    def _case(self) -> CaseT:
        return self._state.case

    async def _run_case(self) -> ResultT:
        """The skeleton: lanes start, the case waits for changes and deadlines until it closes,
        continuing as new whenever its history grows past the bound, then the lanes drain."""
        self._running = True
        self._sync_search_attributes()
        for lane in self._lanes():
            asyncio.create_task(lane()).add_done_callback(self._lane_ended)
        if self._first_run:
            await self._steps.on_start(self)
        while not self._case.closed:
            await self._wait_for_change_or_deadline()
            if self._should_continue_as_new():
                self._continue_as_new()
        # Closed: the last steps finish in this run (a few events), never paused for a next one.
        self._draining = False
        while self._state.held:  # CloudEvents still waiting: recorded as refused by the closed case
            await self._until(lambda: not self._busy())
            self._admit_held()
        await self._until(lambda: self._idle() and workflow.all_handlers_finished())
        if workflow.patched(ARCHIVE_PATCH):
            await self._archive()
        return self._steps.result(self._case)

    def _lanes(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        """The lanes of this kind, from its effect registry: the engine's own and the kind's."""
        own: dict[Lane, Callable[[], Coroutine[Any, Any, None]]] = {
            Lane.PUBLISH: self._publish_lane,
            Lane.CARE: self._care_lane,
        }
        own |= self._steps.lanes(self)
        # The close lane is the archive step, run by the skeleton once the case has closed.
        lanes = [own[lane] for lane in self._case.effects.lanes() if lane is not Lane.CLOSE]
        if Lane.PUBLISH in self._case.effects.lanes():
            lanes.append(self._deliver_lane)  # what a publish step held back (a receiver down)
        return lanes

    def _lane_ended(self, task: asyncio.Task[None]) -> None:
        """A lane that raised fails the run (and so the workflow task), never only the log."""
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()

    async def _until(self, condition: Callable[[], bool]) -> None:
        """Wait for ``condition`` in the main loop; a lane's failure is raised here instead."""
        await workflow.wait_condition(lambda: condition() or self._failure is not None)
        if self._failure is not None:
            raise self._failure

    async def _archive(self) -> None:
        """Hand the closed case to the archive (the API reads closed cases there, not by replay)."""
        case = self._case
        closed = ArchiveInput(
            case_id=case.id,
            kind=self._steps.kind.name,
            **self._steps.archived(case),
            status=case.status,
            opened_at=case.opened_at,
            closed_at=workflow.now(),
            state=case.model_dump(mode="json", exclude={"timeline"}),
            timeline=case.timeline,
            requests={key: seen.model_dump() for key, seen in self._state.requests.items()},
        )
        spec = case.effects[EffectName.ARCHIVE]
        while not (await self.run_effect(spec, spec.key(case.id), closed, "archive the closed case")).done:
            pass  # parked, then retried by an operator: try again

    def _idle(self) -> bool:
        """Nothing in flight and nothing queued: every effect of the case has been carried out."""
        jobs = self._state.jobs
        return (
            self._in_flight == 0
            and not (jobs.publish or jobs.care or jobs.deliver)
            and self._steps.settled_up(self._case)
        )

    def _should_continue_as_new(self) -> bool:
        """Past the history bound the lanes start no new step; the run continues as new once the
        steps in flight are done (what is still queued goes along and runs in the next run:
        every effect is idempotent by its key). At twice the bound it goes at once, even with a
        step in flight, which then runs again in the next run. The bound is the policy's, never
        above half of Temporal's own limits (``history_ceilings``), whatever the policy says."""
        info = workflow.info()
        max_events, max_bytes = history_ceilings(self._case.policy)
        events, size = info.get_current_history_length(), info.get_current_history_size()
        if events >= 2 * max_events or size >= 2 * max_bytes:
            return True
        self._draining = self._draining or (
            info.is_continue_as_new_suggested() or events >= max_events or size >= max_bytes
        )
        return self._draining and self._in_flight == 0 and workflow.all_handlers_finished()

    def _continue_as_new(self) -> None:
        workflow.logger.info(
            "continuing as new after %d events", workflow.info().get_current_history_length()
        )
        workflow.continue_as_new(self._opening.model_copy(update={"carried": self._state}))

    # -- actions: one dynamic update, driven by the case's registry ---------------------------

    @workflow.update(dynamic=True)
    async def act(self, name: str, args: Sequence[RawValue]) -> Ack:
        """Any registered action (the update's name is the action's): apply it, and answer small
        once the change is stored (``_stored``)."""
        command = self._command(name, args)
        request = RequestId.current()
        if request is not None and (seen := self._state.requests.get(request.key)) is not None:
            await self._stored(seen.entry)
            return self._ack(seen.entry, duplicate=True)
        try:
            happened = self._apply(command)
        except DomainError as error:
            # The validator ran against the same state; re-checked here so nothing is half-applied.
            raise as_application_error(error) from None
        workflow.logger.info(
            "%s by %s %s", name, command.actor.role.value, command.actor.id, extra={"case_id": self._case.id}
        )
        entry = self._case.timeline_seq
        if request is not None:
            self._remember(request, entry)
        self.changed(happened)
        await self._stored(entry)
        return self._ack(entry)

    async def _stored(self, entry: int) -> None:
        """Wait until the publish lane has stored the timeline up to ``entry`` (and with it the
        read-model row at that version or later). A publish step parked for an operator, or a run
        about to continue as new, answers at once: the API then says its read is older."""
        if not workflow.patched(ANSWER_STORED_PATCH):
            return
        case = self._case
        await workflow.wait_condition(
            lambda: (
                all(pending.seq > entry for pending in case.timeline)
                or self._draining
                or any(
                    parked.effect is EffectName.PUBLISH and not parked.key.endswith(":deliver")
                    for parked in case.attention
                )
            )
        )

    @act.validator
    def _validate(self, name: str, args: Sequence[RawValue]) -> None:
        command = self._command(name, args)
        request = RequestId.current()
        if request is not None and (seen := self._state.requests.get(request.key)) is not None:
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
        if self._busy():
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

    def _busy(self) -> bool:
        """Whether the case holds as many unpublished timeline entries as it may."""
        return len(self._case.timeline) >= UNPUBLISHED_LIMIT

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
            version=self._state.version,
            allowed_actions=self._case.allowed_actions,
            entry=entry,
            duplicate=duplicate,
        )

    def _remember(self, request: RequestId, entry: int) -> None:
        requests = self._state.requests
        requests[request.key] = SeenRequest(fingerprint=request.fingerprint, entry=entry)
        while len(requests) > REQUEST_MEMORY:
            del requests[next(iter(requests))]

    # -- CloudEvents: one signal for every kind ------------------------------------------------

    @workflow.signal
    def ingest(self, event: IngestedEvent) -> None:
        """An action that came as a CloudEvent (deduped by its id; a refused one is recorded).
        While the case is catching up with its unpublished entries the event waits its turn."""
        if self._busy() or self._state.held:
            if event.id not in self._state.ingested and all(held.id != event.id for held in self._state.held):
                self._state.held.append(event)
                del self._state.held[:-UNPUBLISHED_LIMIT]
            return
        self._ingest(event)

    def _ingest(self, event: IngestedEvent) -> None:
        """Apply an action that came as an event (CloudEvents), once per event id; an action the
        case does not allow is recorded on its timeline as rejected, never silently dropped."""
        ingested = self._state.ingested
        if event.id in ingested:
            return
        ingested.append(event.id)
        del ingested[:-_INGESTED_MEMORY]
        if event.action is None:  # an "opened" event: only the one that started the case is fine
            if self._running:
                self._reject(event, f"{self._case.id} is already open")
            return
        spec = self._case.actions.get(event.action)
        try:
            if spec is None:
                happened = self._steps.ingest(self._case, event, workflow.now())
            else:
                happened = self._apply(spec.command.model_validate(event.body))
        except DomainError as error:
            self._reject(event, error.message)
        except ValidationError as error:
            self._reject(event, f"invalid data: {error.errors(include_url=False)[0]['msg']}")
        except ValueError as error:
            self._reject(event, str(error))
        else:
            self.changed(happened)

    def _admit_held(self) -> None:
        """Apply the CloudEvents that waited, in order, while the case has room for them."""
        while self._state.held and not self._busy():
            self._ingest(self._state.held.pop(0))

    def _apply(self, command: Command) -> list[DomainEvent]:
        """Apply ``command`` to the case; when care answers a target it owed, measure how long it took
        (``care_time_to_answer``, on the worker's /metrics; the SDK skips it while replaying)."""
        now = workflow.now()
        owed = {(clock.target, clock.started_at) for clock in self._case._care_clocks()}
        happened = self._case.apply(command, now)
        if owed and command.actor.role in (Role.CARE, Role.SUPERVISOR):
            answered = owed - {(clock.target, clock.started_at) for clock in self._case._care_clocks()}
            histogram = workflow.metric_meter().create_histogram_timedelta(
                _CARE_ANSWERED, "From a care target's start to care's answer", unit="duration"
            )
            for target, started in answered:
                histogram.record(now - started, {"target": target.value, "kind": self._case.actions.kind})
        return happened

    def _reject(self, event: IngestedEvent, reason: str) -> None:
        self._case.record_rejected_event(event.id, event.type, reason, workflow.now())
        self.changed([])

    # -- every change: queue what follows, keep on-call's view in step ------------------------

    def changed(self, happened: list[DomainEvent]) -> None:
        """Queue the effects of one change and bump the version the main loop waits on."""
        case = self._case
        follows = consequences(case, happened)
        self._queue_publish(follows)
        for name in follows.effects:
            self._state.jobs.care.append(self._steps.job(case, name))
        for alert in follows.care_alerts:
            self._state.jobs.care.append(self._alert(alert))
        if follows.parked:
            _EFFECTS_PARKED.add(1, {"effect": follows.parked[0]})
        self._state.version += 1
        if self._running:
            self._sync_search_attributes()
        workflow.set_current_details(current_details(case, redact=case.policy.redact_details))

    def _queue_publish(self, follows: Consequences) -> None:
        """Queue the change's notices and events; its timeline entries stay in the case until a
        publish step hands them out (so they are carried once, not twice, into a next run)."""
        state = self._state
        case = state.case
        recorded = case.timeline_seq > state.queued_seq
        notices = []
        for notice in follows.notices:
            state.notices += 1
            notices.append(
                NotifyInput(
                    case_id=case.id,
                    party=notice.party.value,
                    party_id=notice.party_id,
                    text=notice.text,
                    category=notice.category.value,
                    articles=notice.articles,
                    template=notice.template,
                    params=notice.params,
                    locale=notice.locale.value,
                    idempotency_key=f"{case.id}:notice:{state.notices}",
                )
            )
        events = []
        data = snapshot(case) if follows.published else {}
        for event_type in follows.published:
            state.events += 1
            events.append(
                CaseEvent(
                    id=f"{case.id}:{state.events}",
                    type=event_type,
                    case_id=case.id,
                    occurred_at=workflow.now(),
                    data=data,
                    version=case.timeline_seq,
                )
            )
            # Business metrics, on the worker's /metrics (the SDK skips them while replaying):
            # cases opened, escalated, resolved, cancelled, reply-target warnings and breaches.
            _CASE_EVENTS.add(1, {"type": event_type.value})
        if recorded or notices or events:
            state.queued_seq = case.timeline_seq
            state.batches += 1
            state.jobs.publish.append(
                PublishInput(case_id=case.id, batch=state.batches, notices=notices, events=events)
            )

    def _alert(self, alert: CareReplyDue) -> EffectJob:
        """The care desk step of a care target's warning or breach."""
        case = self._case
        spec = case.effects[alert_effect(alert.target.value, alert.breached)]
        key = spec.key(case.id, alert.started_at.isoformat())
        target = ReplyTargetInput(
            case_id=case.id,
            due_at=alert.due_at,
            summary=self._steps.alert_summary(case, alert),
            idempotency_key=key,
        )
        owed = _OWED[alert.target]
        return EffectJob(
            effect=spec.name,
            input=target.model_dump(mode="json"),
            key=key,
            summary=f"{owed} breach escalation" if alert.breached else f"{owed} warning",
        )

    def _sync_search_attributes(self) -> None:
        """Send the search attributes that differ from what the workflow carries (the start or
        the previous run set them; only changes add to history)."""
        current = workflow.info().typed_search_attributes
        updates: list[SearchAttributeUpdate[Any]] = []
        values = self._steps.search_attributes(self._case)
        if not workflow.patched(_LATER_ATTRIBUTES_PATCH):
            values = {key: value for key, value in values.items() if key.name not in _LATER_ATTRIBUTES}
        for key, value in values.items():
            if current.get(key) != value:
                updates.append(key.value_unset() if value is None else key.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)

    # -- the main loop's wait: one timer over the next deadline --------------------------------

    async def _wait_for_change_or_deadline(self) -> None:
        seen = self._state.version
        deadline = self._case.next_deadline()
        self._set_alarm(deadline)
        await self._until(
            lambda: (
                self._state.version != seen
                or self._rang
                or self._should_continue_as_new()
                or bool(self._state.held and not self._busy())
            )
        )
        self._rang = False
        self._admit_held()
        # Decided on the state, not on which wake-up came first: an action handled in the same
        # instant as the timer has already moved the deadline.
        happened = self._case.tick(workflow.now())
        if happened or self._case.timeline_seq > self._state.queued_seq:
            self.changed(happened)

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

    # -- the effect lanes, run from the kind's effect registry ---------------------------------

    async def _publish_lane(self) -> None:
        """Hand out the case's changes: changes queued while one step ran go out together, in
        order, in the next."""
        queue = self._state.jobs.publish
        spec = self._case.effects[EffectName.PUBLISH]
        while True:
            await workflow.wait_condition(lambda: bool(queue))
            first = queue[0]
            batch = list(queue)
            notices = [notice for change in batch for notice in change.notices]
            events = [event for change in batch for event in change.events]
            held = self._state.jobs.deliver
            if held and (notices or events):  # a receiver is down: these go after the ones held
                held.append(
                    PublishInput(
                        case_id=self._case.id,
                        batch=first.batch,
                        notices=notices,
                        events=events,
                        deliver_only=True,
                    )
                )
                notices, events = [], []
                for change in batch:  # handed to the deliver lane once, even if this step is retried
                    change.notices, change.events = [], []
            merged = PublishInput(
                case_id=self._case.id,
                batch=first.batch,
                timeline=[entry for entry in self._case.timeline if entry.seq <= self._state.queued_seq],
                notices=notices,
                events=events,
                kind=self._steps.kind.name,
                state=compact(self._case),
            )
            summary = (
                f"publish {len(merged.timeline)} entries, {len(merged.notices)} notices,"
                f" {len(merged.events)} events"
            )
            ran = await self.run_effect(spec, spec.key(self._case.id, first.batch), merged, summary)
            if ran.step is not Step.DONE:
                continue  # retried by an operator: the same batch again
            del queue[: len(batch)]
            result = PublishResult.model_validate(ran.result)
            if result.undelivered or result.unhanded:
                held.append(
                    PublishInput(
                        case_id=self._case.id,
                        batch=first.batch,
                        notices=result.undelivered,
                        events=result.unhanded,
                        deliver_only=True,
                    )
                )
            self._published(merged, result)

    async def _deliver_lane(self) -> None:
        """Retry, in order, the notices and events publish steps could not hand out (a receiver
        down): each step raises until they go, so Temporal retries it with backoff, and past the
        publish retry window it parks for an operator like any effect."""
        queue = self._state.jobs.deliver
        spec = self._case.effects[EffectName.PUBLISH]
        while True:
            await workflow.wait_condition(lambda: bool(queue))
            job = queue[0]
            summary = f"deliver {len(job.notices)} notices, {len(job.events)} events held back"
            ran = await self.run_effect(spec, spec.key(self._case.id, job.batch, "deliver"), job, summary)
            if ran.step is not Step.DONE:
                continue  # retried by an operator: the same step again
            del queue[0]
            self._published(job, PublishResult.model_validate(ran.result))

    def _published(self, merged: PublishInput, result: PublishResult) -> None:
        if merged.timeline:
            self._case.forget_timeline(upto=merged.timeline[-1].seq)
        for refused in result.refused:
            self._case.record_failed_effect(refused.idempotency_key, refused.reason, workflow.now())
        if result.refused:
            self.changed([])

    async def _care_lane(self) -> None:
        """The care desk's steps, one at a time, in order; what one brings back may queue the
        next (a mediation opened is then assigned)."""
        queue = self._state.jobs.care
        while True:
            await workflow.wait_condition(lambda: bool(queue))
            job = queue[0]
            ran = await self.run_effect(self._case.effects[job.effect], job.key, job.input, job.summary)
            if not ran.done:
                continue
            following = self._steps.finished(self, job, ran.result) if ran.step is Step.DONE else []
            queue[:1] = following

    async def run_effect(self, spec: EffectSpec, key: str, arg: Any, summary: str) -> Ran:
        """Run one effect step by its registry entry (activity, retry window). When it is refused
        for good or runs out of retries, the case parks it, tells on-call (``NeedsAttention``,
        ``case.needs_attention``) and waits for an operator. A case never fails because of an
        outside system."""
        case = self._case
        await workflow.wait_condition(lambda: not case.parked(key))
        if key in case.done_by_hand:
            return Ran(Step.BY_HAND)
        await workflow.wait_condition(lambda: not self._draining)  # no new step while continuing as new
        self._in_flight += 1
        try:
            result = await workflow.execute_activity_method(
                getattr(CaseActivities, spec.activity),
                arg,
                start_to_close_timeout=case.policy.activity_timeout,
                schedule_to_close_timeout=spec.retry_window(case.policy),
                retry_policy=RetryPolicy(maximum_interval=case.policy.activity_max_retry_interval),
                summary=summary,
            )
        except ActivityError as error:
            workflow.logger.warning("%s parked: %s", key, _reason(error), extra={"case_id": case.id})
            self.changed(case.park(spec.name, key, _reason(error), workflow.now()))
            await workflow.wait_condition(lambda: not case.parked(key))
            return Ran(Step.BY_HAND if key in case.done_by_hand else Step.AGAIN)
        finally:
            self._in_flight -= 1
        return Ran(Step.DONE, result)


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
