"""Orchestration every care case shares: commands, the timer loop, notices, reply-target effects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, Generic, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.effects import CaseActivities
    from activities.models import NotifyInput, ReplyTargetInput
    from activities.webhooks import WebhookActivities
    from domain.case import Case, DeadlineEvent, ReplyClock
    from domain.commands import Action, Command, IngestedEvent
    from domain.errors import DomainError
    from domain.events import CaseEvent, EventType, snapshot
    from domain.notices import Notice
    from workflows.errors import as_application_error

CaseT = TypeVar("CaseT", bound=Case)
ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


class _LazyCounter:
    """A workflow metric created on first use (the meter exists only inside a workflow)."""

    def __init__(self, name: str, description: str) -> None:
        self.name = name
        self.description = description

    def add(self, value: int, attributes: dict[str, str]) -> None:
        workflow.metric_meter().create_counter(self.name, self.description).add(value, attributes)


_CASE_EVENTS = _LazyCounter("case_events", "Case events by type: opened, escalated, resolved, breaches")


class CaseWorkflow(Generic[CaseT]):
    """Base of the case workflows: subclasses own the handlers and their case-specific steps."""

    _case: CaseT

    def _start(self, case: CaseT, first_notices: list[Notice], first_event: EventType) -> None:
        self._case = case
        self._version = 0
        self._notices = list(first_notices)
        self._notices_sent = 0
        self._events: list[CaseEvent] = []
        self._events_sent = 0
        self._published: dict[str, Any] = {}
        self._ingested: set[str] = set()
        self._running = False  # set by run(): signals handled before it came with the start
        self._emit([first_event])

    # -- hooks for subclasses ------------------------------------------------------------------

    def _notices_after(self, command: Command) -> list[Notice]:
        """Who is told what after ``command``."""
        raise NotImplementedError

    def _events_after(self, command: Command) -> list[EventType]:
        """Which events the outside world gets after ``command``."""
        raise NotImplementedError

    def _search_attributes(self) -> dict[SearchAttributeKey[Any], Any]:
        """The search attribute values that describe the case now (``None`` unsets one)."""
        raise NotImplementedError

    async def _on_case_deadline(self, event: DeadlineEvent) -> None:
        """React to a case-specific clock (the reply-target clock is handled here)."""

    def _reply_target_summary(self, clock: ReplyClock) -> str:
        return f"care reply on {self._case.id} due {clock.due_at.isoformat()}"

    # -- commands ------------------------------------------------------------------------------

    def _check(self, command: Command) -> None:
        try:
            self._case.check(command, workflow.now())
        except DomainError as error:
            raise as_application_error(error) from None

    def _act(self, command: Command) -> CaseT:
        # Validators ran against the same state, but the rules are applied (and re-checked) here
        # so that nothing is half-applied if the state moved in between.
        try:
            self._apply(command)
        except DomainError as error:
            raise as_application_error(error) from None
        return self._case

    def _apply(self, command: Command) -> None:
        self._case.apply(command, workflow.now())
        actor = command.actor
        workflow.logger.info(
            "%s by %s %s", command.action.value, actor.role.value, actor.id, extra={"case_id": self._case.id}
        )
        self._notices += self._notices_after(command)
        self._emit(self._events_after(command))
        self._changed()

    def _ingest(self, event: IngestedEvent, commands: Mapping[Action, type[Command]]) -> None:
        """Apply an action that came as an event (CloudEvents), once per event id; an action the
        case does not allow is recorded on its timeline as rejected, never silently dropped."""
        if event.id in self._ingested:
            return
        self._ingested.add(event.id)
        if event.action is None:  # an "opened" event: only the one that started the case is fine
            if self._running:
                self._reject(event, f"{self._case.id} is already open")
            return
        try:
            self._apply(commands[event.action].model_validate(event.body))
        except DomainError as error:
            self._reject(event, error.message)
        except ValidationError as error:
            self._reject(event, f"invalid data: {error.errors(include_url=False)[0]['msg']}")

    def _reject(self, event: IngestedEvent, reason: str) -> None:
        self._case.record_rejected_event(event.id, event.type, reason, workflow.now())
        self._changed()

    def _emit(self, types: list[EventType]) -> None:
        """Queue events for the webhook subscribers; ids are the case id and a sequence number."""
        for event_type in types:
            self._events.append(
                CaseEvent(
                    id=f"{self._case.id}:{len(self._events) + 1}",
                    type=event_type,
                    case_id=self._case.id,
                    occurred_at=workflow.now(),
                    data=snapshot(self._case),  # type: ignore[arg-type]
                )
            )
            # Business metrics, on the worker's /metrics (the SDK skips them while replaying):
            # cases opened, escalated, resolved, cancelled, reply-target warnings and breaches.
            _CASE_EVENTS.add(1, {"type": event_type.value})

    # -- the main loop's shared steps ----------------------------------------------------------

    async def _wait_for_change_or_deadline(self) -> None:
        seen = self._version
        deadline = self._case.next_deadline()
        if deadline is None:
            await workflow.wait_condition(lambda: self._version != seen)
            return
        at, event = deadline
        remaining = at - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: self._version != seen,
                    timeout=remaining,
                    timeout_summary=self._case.describe_deadline(event),
                )
            except TimeoutError:
                pass
        # Decided on the state, not on which wake-up came first: an action handled in the same
        # instant as the timer has already moved the deadline.
        for passed in self._case.tick(workflow.now()):
            await self._on_deadline(passed)
        self._changed()

    async def _on_deadline(self, event: DeadlineEvent) -> None:
        clock = self._case.care_clock
        if event not in (DeadlineEvent.CARE_REPLY_WARNING, DeadlineEvent.CARE_REPLY_BREACHED):
            await self._on_case_deadline(event)
            return
        assert clock is not None
        target = ReplyTargetInput(
            case_id=self._case.id,
            due_at=clock.due_at,
            summary=self._reply_target_summary(clock),
            idempotency_key=f"{self._case.id}:{event.value}:{clock.started_at.isoformat()}",
        )
        if event is DeadlineEvent.CARE_REPLY_WARNING:
            self._emit([EventType.CARE_REPLY_WARNING])
            await self._run(CaseActivities.warn_care_reply, target, "care reply warning")
        else:
            self._emit([EventType.CARE_REPLY_BREACHED])
            await self._run(CaseActivities.escalate_care_breach, target, "care reply breach escalation")

    async def _flush(self) -> None:
        """Send the queued notices and hand the queued events to the webhook dispatcher, until
        both queues are empty: an update handled while an activity ran may have queued more, and
        the caller starts waiting for the next change right after this returns."""
        while self._notices_sent < len(self._notices) or self._events_sent < len(self._events):
            await self._send_notices()
            if self._events_sent < len(self._events):
                event = self._events[self._events_sent]
                self._events_sent += 1
                await self._run(WebhookActivities.dispatch_event, event, f"publish {event.type.value}")

    async def _send_notices(self) -> None:
        while self._notices_sent < len(self._notices):
            notice = self._notices[self._notices_sent]
            self._notices_sent += 1
            key = f"{self._case.id}:notice:{self._notices_sent}"
            try:
                await self._run(
                    CaseActivities.notify_party,
                    NotifyInput(
                        case_id=self._case.id,
                        party=notice.party.value,
                        party_id=notice.party_id,
                        text=notice.text,
                        category=notice.category.value,
                        idempotency_key=key,
                    ),
                    f"notify {notice.party.value} {notice.party_id}",
                )
            except ActivityError as error:
                # Retryable failures are retried for ever; this one was refused for good (e.g. the
                # platform answered 400). A lost notification must not fail the case: record it.
                self._case.record_failed_effect(key, str(error.cause or error), workflow.now())
                self._changed()

    async def _run(
        self,
        activity: Callable[[Any, ArgT], Awaitable[ResultT]],
        arg: ArgT,
        summary: str,
    ) -> ResultT:
        policy = self._case.policy
        return await workflow.execute_activity_method(
            activity,
            arg,
            start_to_close_timeout=policy.activity_timeout,
            retry_policy=RetryPolicy(maximum_interval=policy.activity_max_retry_interval),
            summary=summary,
        )

    # -- what on-call sees ---------------------------------------------------------------------

    def _changed(self) -> None:
        self._version += 1
        self._publish()

    def _publish(self) -> None:
        """Keep search attributes and the UI's current details in step with the state."""
        values = self._search_attributes()
        # Only changes are sent, and a value never set is not "unset" (an empty attribute).
        updates: list[SearchAttributeUpdate[Any]] = [
            key.value_unset() if value is None else key.value_set(value)
            for key, value in values.items()
            if self._published.get(key.name) != value
        ]
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published = {key.name: value for key, value in values.items()}
        workflow.set_current_details(self._case.current_details())
