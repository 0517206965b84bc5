"""The API's way into case workflows: authorization, idempotent retries, not found vs closed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Request
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.auth import Caller, CallerDep
from api.deps import SettingsDep, TemporalClientDep
from api.problems import Problem
from core.settings import Settings
from domain.commands import Command
from domain.dispute import Dispute
from domain.ticket import Ticket
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


CasesDep = Annotated[Cases, Depends(_cases)]
