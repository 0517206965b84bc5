"""The API's way into case workflows: authorization, idempotent retries, not found vs closed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Request
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.auth import Caller, CallerDep
from api.deps import SettingsDep, TemporalClientDep
from api.problems import Problem
from core.settings import Settings
from domain.commands import Command, IngestedEvent
from domain.dispute import Dispute, DisputeClaim, OpenDisputeInput
from domain.ids import dispute_workflow_id, ticket_workflow_id
from domain.ticket import OpenTicketInput, Ticket, TicketReport
from domain.types import Actor
from workflows.dispute import DisputeWorkflow
from workflows.idempotency import IdempotencyKeyWorkflow, KeyRecord
from workflows.ticket import CareTicketWorkflow

StateT = TypeVar("StateT", Dispute, Ticket)


@dataclass(frozen=True)
class CaseType(Generic[StateT]):
    """A kind of case: its workflow id prefix, what users call it, its state model and query."""

    prefix: str
    noun: str
    model: type[StateT]
    state: Callable[[Any], StateT]


DISPUTES = CaseType[Dispute]("dispute-", "dispute", Dispute, DisputeWorkflow.state)
TICKETS = CaseType[Ticket]("care-ticket-", "report", Ticket, CareTicketWorkflow.state)


@dataclass(frozen=True)
class Cases:
    """One request's access to cases: who calls, and the Idempotency-Key it sent, if any."""

    client: Client
    settings: Settings
    caller: Caller
    idempotency_key: str | None
    request_line: str
    fingerprint: str

    @property
    def key_digest(self) -> str | None:
        """The caller's key, hashed: safe in workflow and update ids, scoped to the caller."""
        if self.idempotency_key is None:
            return None
        return hashlib.sha256(f"{self.caller.name}\0{self.idempotency_key}".encode()).hexdigest()[:40]

    async def claim_key(self) -> bool:
        """Record the key with this request's fingerprint; True when it was seen before (a retry).

        A key used before with a different request is refused (422). The record is a workflow
        whose id cannot be reused while the namespace retains it, so this holds across API
        restarts and replicas without a database of our own."""
        digest = self.key_digest
        if digest is None:
            return False
        record_id = f"idempotency-{digest}"
        try:
            await self.client.start_workflow(
                IdempotencyKeyWorkflow.run,
                KeyRecord(caller=self.caller.name, request=self.request_line, fingerprint=self.fingerprint),
                id=record_id,
                task_queue=self.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                memo={"fingerprint": self.fingerprint, "request": self.request_line},
                static_summary=f"Idempotency-Key of {self.caller.name} for {self.request_line}",
            )
            return False
        except WorkflowAlreadyStartedError:
            memo = await (await self.client.get_workflow_handle(record_id).describe()).memo()
        if memo.get("fingerprint") != self.fingerprint:
            reason = f"already used for a different request ({memo.get('request')}) or body"
            raise Problem(
                422,
                "Idempotency key reused",
                f"Idempotency-Key was {reason}; use a new key for a new request",
                errors=[{"field": "Idempotency-Key", "reason": reason}],
            )
        return True

    async def start_dispute(self, claim: DisputeClaim, opened_by: IngestedEvent | None = None) -> str:
        """Start the order's dispute workflow; its id. Without ``opened_by`` an existing dispute
        raises WorkflowAlreadyStartedError; with it (an event), the event is signalled to the
        existing dispute instead, which dedupes it or records it as refused."""
        case_id = dispute_workflow_id(claim.order_id)
        request = OpenDisputeInput(**claim.model_dump(), policy=self.settings.dispute_policy())
        summary, details = claim.summary(), request.details()
        await self._start(DisputeWorkflow.run, request, case_id, opened_by, summary, details)
        return case_id

    async def start_ticket(
        self, report: TicketReport, ticket_id: str, opened_by: IngestedEvent | None = None
    ) -> str:
        """Start a report's workflow (as ``start_dispute``), linked to the order's open dispute."""
        case_id = ticket_workflow_id(ticket_id)
        request = OpenTicketInput(
            **report.model_dump(),
            dispute_id=await self._open_dispute_for(report.order_id),
            policy=self.settings.ticket_policy(),
        )
        await self._start(
            CareTicketWorkflow.run, request, case_id, opened_by, report.summary(), request.details_markdown()
        )
        return case_id

    async def _start(
        self,
        run: Any,
        request: OpenDisputeInput | OpenTicketInput,
        case_id: str,
        opened_by: IngestedEvent | None,
        summary: str,
        details: str,
    ) -> None:
        await self.client.start_workflow(
            run,
            request,
            id=case_id,
            task_queue=self.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=(
                WorkflowIDConflictPolicy.USE_EXISTING if opened_by else WorkflowIDConflictPolicy.FAIL
            ),
            start_signal="ingest" if opened_by else None,
            start_signal_args=[opened_by] if opened_by else [],
            memo={"opened_with": self.key_digest},
            static_summary=summary,
            static_details=details,
        )

    async def _open_dispute_for(self, order_id: str | None) -> str | None:
        """The id of the order's dispute if one is open, so a report about it can link to it."""
        if order_id is None:
            return None
        dispute_id = dispute_workflow_id(order_id)
        try:
            described = await self.client.get_workflow_handle(dispute_id).describe()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        return dispute_id if described.status == WorkflowExecutionStatus.RUNNING else None

    async def read(self, kind: CaseType[StateT], case_id: str, reader: Actor | None = None) -> StateT:
        """The case's current state (open or closed); 403 when ``reader`` is no party to it."""
        try:
            state = await _handle(self.client, kind, case_id).query(kind.state)
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                raise Problem(404, "Not found", f"no {kind.noun} {case_id}") from None
            raise
        if reader is not None and not state.is_party(reader):
            raise Problem(403, "Not a party", f"{reader.role.value} {reader.id} is not a party to {case_id}")
        return state

    async def act(
        self,
        kind: CaseType[StateT],
        case_id: str,
        update: UpdateMethodMultiParam[[Any, Any], StateT],
        command: Command,
    ) -> StateT:
        """Run one action as a workflow update and return the case as it stands after it.

        With an Idempotency-Key the update id derives from it: Temporal runs an update id once
        and answers a retry with the first outcome, even after the case has closed."""
        self.caller.authorize(command.actor)
        await self.claim_key()
        update_id = f"idem-{self.key_digest}" if self.key_digest else None
        handle = _handle(self.client, kind, case_id)
        try:
            return await handle.execute_update(update, command, id=update_id)
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
        if update_id is not None:
            try:
                replay: StateT = await handle.get_update_handle(update_id, result_type=kind.model).result()
                return replay
            except RPCError:
                pass  # not an earlier run of this key: the case is closed or unknown
        closed = await self.read(kind, case_id)  # 404 here when it never existed
        raise Problem(
            409,
            "Invalid transition",
            f"{kind.noun} {case_id} is {closed.status.value}: no further action is allowed",
            current_status=closed.status.value,
            allowed_actions=closed.allowed_actions,
        )


def _handle(client: Client, kind: CaseType[Any], case_id: str) -> WorkflowHandle[Any, Any]:
    if not case_id.startswith(kind.prefix):
        raise Problem(404, "Not found", f"no {kind.noun} {case_id}")
    return client.get_workflow_handle(case_id)


async def _cases(
    request: Request,
    client: TemporalClientDep,
    settings: SettingsDep,
    caller: CallerDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="retry a POST safely: the same key and body give the first response, once",
        ),
    ] = None,
) -> Cases:
    body = await request.body()
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode(errors="replace")
    request_line = f"{request.method} {request.url.path}"
    fingerprint = hashlib.sha256(f"{request_line}\n{canonical}".encode()).hexdigest()
    return Cases(client, settings, caller, idempotency_key, request_line, fingerprint)


async def _reading(client: TemporalClientDep, settings: SettingsDep, caller: CallerDep) -> Cases:
    return Cases(client, settings, caller, None, "", "")


CasesDep = Annotated[Cases, Depends(_cases)]
#: For reads: the same access, without the Idempotency-Key header (a GET is safe to repeat).
ReadCasesDep = Annotated[Cases, Depends(_reading)]
