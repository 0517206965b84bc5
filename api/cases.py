"""The API's way into case workflows: authorization, Idempotency-Key, opening, acting, reading."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api import citations
from api.auth import Caller, CallerDep
from api.deps import EngineDep, SettingsDep, TemporalClientDep
from api.kinds import DISPUTES, ServedKind
from api.problems import Problem, invalid
from api.public import CasePublic
from core.settings import KeyRole, Settings
from domain.case import CareCase
from domain.commands import DELIVERED, Command, Delivered, IngestedEvent
from domain.types import Actor, EvidenceType
from domain.views import merge_timeline
from store.care import CareMacros
from store.cases import CaseArchive, CaseSnapshots, Timelines
from store.evidence import EvidenceIndex
from store.help import HelpStore
from store.idempotency import IdempotencyKeys
from store.views import CaseView, CaseViews, view_of
from workflows.base import Ack
from workflows.requests import RequestId

log = logging.getLogger(__name__)

#: What a request is answered with: the response body and its status.
Answer = tuple[BaseModel, int]


def _typed(values: dict[SearchAttributeKey[Any], Any]) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [SearchAttributePair(key, value) for key, value in values.items() if value is not None]
    )


@dataclass(frozen=True)
class Cases:
    """One request's access to cases: who calls, and the Idempotency-Key it sent, if any."""

    client: Client
    settings: Settings
    engine: AsyncEngine
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

    @property
    def request_id(self) -> RequestId | None:
        """The keyed request as a case sees it (in the update id), if a key was sent."""
        digest = self.key_digest
        return RequestId(digest, self.fingerprint[:32]) if digest else None

    async def keyed(self, run: Callable[[], Awaitable[Answer]]) -> JSONResponse:
        """Answer a POST, once per Idempotency-Key: a retry with the same request gets the first
        response; the same key with another request is refused (422). The key is recorded only
        for a request that validated, and forgotten again when the request is refused (4xx), so
        a corrected retry can use it; after a 503 or a crash the case dedupes the retry."""
        digest = self.key_digest
        if digest is None:
            result, status = await run()
            return JSONResponse(result.model_dump(mode="json"), status_code=status)
        keys = IdempotencyKeys(self.engine)
        earlier = (await keys.claim(digest, self.caller.name, self.request_line, self.fingerprint)).record
        if earlier.fingerprint != self.fingerprint:
            raise _key_reused(f"already used for a different request ({earlier.request_line}) or body")
        if earlier.status_code is not None:
            return JSONResponse(earlier.response, status_code=earlier.status_code)
        try:
            result, status = await run()
        except (Problem, WorkflowUpdateFailedError) as error:
            if not (isinstance(error, Problem) and error.status >= 500):  # a 503 may still be applied
                await keys.release(digest)
            raise
        body = result.model_dump(mode="json")
        await keys.complete(digest, status, body)
        return JSONResponse(body, status_code=status)

    # -- opening -------------------------------------------------------------------------------

    async def open(
        self,
        kind: ServedKind,
        claim: BaseModel,
        key: str | None = None,
        opened_by: IngestedEvent | None = None,
    ) -> Answer:
        """Start a case of ``kind`` for ``claim`` and answer with its first state (201), computed by
        the same rules the workflow runs. Its id derives from the claim's business key (one
        dispute per order) or from ``key``. A case the key already has is returned (200, or 201
        again for the retry of the keyed request that opened it) unless it is between other
        parties (409). One round trip to Temporal."""
        claim = citations.with_types(claim, await self.check_citations(claim, kind.opener(claim)))
        business_key = kind.business_key(claim) if kind.business_key else key
        assert business_key is not None, "a kind without a business key is opened with a key"
        case_id = kind.kind.workflow_id(business_key)
        if await CaseArchive(self.engine).get(case_id) is not None:
            # One case per business key, ever: a closed one is returned (docs/rules.md), even
            # after Temporal forgot its workflow.
            return await self._existing(kind, claim, case_id)
        if opened_by is not None and await self._running(case_id):
            # An event's signal-with-start would reach whatever case the key has: check its
            # parties first, so an event naming others is refused (409) and writes nothing there.
            await self._existing(kind, claim, case_id)
        now = datetime.now(UTC)
        links = (
            {"dispute_id": await self._open_dispute_for(getattr(claim, "order_id", None))}
            if kind.links_dispute
            else {}
        )
        request = kind.kind.opening(
            **claim.model_dump(),
            **links,
            policy=kind.policy(self.settings),
            opened_at=now,
        )
        case = kind.kind.open(case_id, request, now)
        try:
            await self._start(
                kind,
                request,
                case_id,
                opened_by,
                _typed(kind.temporal.search_attributes(case)),
                kind.kind.summary(request),
                kind.kind.details(request, request.policy.redact_details),
            )
        except WorkflowAlreadyStartedError:
            return await self._existing(kind, claim, case_id)
        # The row of the state the case opened in (the workflow computes the same one): a read right
        # after this answer finds the case, on any replica, before its first publish step ran. A
        # row the case stored already is newer or the same, and stays.
        # Its "opened" entry goes with it, as the workflow's first publish step would store it.
        opened = view_of(kind.name, case, now)
        await Timelines(self.engine).append(case_id, case.timeline, opened)
        return kind.show(case, case.timeline, version=opened.version, as_of=now), 201

    async def _existing(self, kind: ServedKind, claim: BaseModel, case_id: str) -> Answer:
        """The case already opened under ``case_id`` (200), or 201 again for the retry of the keyed
        request that opened it; 409 when it is between other parties."""
        existing = await self._read_soon(kind, case_id)
        if kind.parties(existing) != kind.parties(claim):
            key = f"order {kind.business_key(claim)}" if kind.business_key else "this key"
            raise Problem(
                409,
                f"{kind.noun.capitalize()} exists",
                f"{key} already has {kind.noun} {case_id} between other parties",
            )
        return existing, 201 if await self._opened_by_this_key(case_id) else 200

    async def _read_soon(self, kind: ServedKind, case_id: str) -> CasePublic:
        """The case another request has just opened: its row is written as that request answers,
        so it is waited for up to ``DISPUTES_READ_TIMEOUT``, then 503 with Retry-After."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self.settings.read_timeout.total_seconds()
        while True:
            try:
                return await self.read(kind, case_id)
            except Problem as missing:
                if missing.status != 404:
                    raise
                if loop.time() >= until:
                    raise Problem(
                        503,
                        "Service unavailable",
                        f"{kind.noun} {case_id} is being opened and is not stored yet; retry shortly",
                        headers={"Retry-After": "1"},
                    ) from None
            await asyncio.sleep(0.05)

    async def _start(
        self,
        kind: ServedKind,
        request: BaseModel,
        case_id: str,
        opened_by: IngestedEvent | None,
        search_attributes: TypedSearchAttributes,
        summary: str,
        details: str,
    ) -> None:
        await self.client.start_workflow(
            kind.temporal.type_name,
            kind.temporal.start_input(request),
            id=case_id,
            task_queue=self.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=(
                WorkflowIDConflictPolicy.USE_EXISTING if opened_by else WorkflowIDConflictPolicy.FAIL
            ),
            start_signal="ingest" if opened_by else None,
            start_signal_args=[opened_by] if opened_by else [],
            search_attributes=search_attributes,
            memo={"opened_with": self.key_digest},
            static_summary=summary,
            static_details=details,
        )

    async def _opened_by_this_key(self, case_id: str) -> bool:
        if self.key_digest is None:
            return False
        try:
            memo = await (await self.client.get_workflow_handle(case_id).describe()).memo()
        except RPCError:
            return False  # the workflow is gone (past retention): answered from the archive
        return bool(memo.get("opened_with") == self.key_digest)

    async def _running(self, case_id: str) -> bool:
        """Whether ``case_id`` has a running workflow."""
        try:
            described = await self.client.get_workflow_handle(case_id).describe()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return described.close_time is None

    async def _open_dispute_for(self, order_id: str | None) -> str | None:
        """The id of the order's dispute if one is open, so a report about it can link to it."""
        if order_id is None:
            return None
        dispute_id = DISPUTES.kind.workflow_id(order_id)
        try:
            described = await self.client.get_workflow_handle(dispute_id).describe()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        return dispute_id if described.close_time is None else None

    # -- reading and acting -------------------------------------------------------------------

    async def read(self, kind: ServedKind, case_id: str, reader: Actor | None = None) -> CasePublic:
        """The whole case with its full timeline, from the read model (never from its workflow:
        it answers while Temporal and every worker are down); 403 when ``reader`` is no party to
        it. ``as_of`` says when the case's own step stored the row read, ``version`` which change
        of the case it shows."""
        state, row = await self._stored_state(kind, case_id, reader)
        stored = await Timelines(self.engine).for_case(case_id)
        return kind.show(
            state, merge_timeline(stored, state.timeline), version=row.version, as_of=row.updated_at
        )

    async def check_party(self, kind: ServedKind, case_id: str, reader: Actor | None) -> None:
        """404 for an unknown case, 403 when ``reader`` is no party to it: one row read."""
        await self._stored_state(kind, case_id, reader)

    async def _stored_state(
        self, kind: ServedKind, case_id: str, reader: Actor | None
    ) -> tuple[CareCase, CaseView]:
        if not kind.owns(case_id):  # an id of another kind
            raise Problem(404, "Not found", f"no {kind.noun} {case_id}")
        row = await CaseViews(self.engine).get(case_id) or await _before_read_model(
            self.engine, kind, case_id
        )
        if row is None:
            raise Problem(404, "Not found", f"no {kind.noun} {case_id}")
        state = kind.state_of(row.state)
        if reader is not None and not state.is_party(reader):
            raise Problem(403, "Not a party", f"{reader.role.value} {reader.id} is not a party to {case_id}")
        return state, row

    async def act(self, kind: ServedKind, case_id: str, command: Command) -> Answer:
        """Run one action as the case's update of that name; answer with the case read after it.

        With an Idempotency-Key the update id carries the key and the request's fingerprint, so
        the case runs a keyed request once, even when the API's own record of it was lost."""
        self.caller.authorize(command.actor)
        handle = _handle(self.client, kind, case_id)
        command = citations.with_types(
            command, await self.check_citations(command, command.actor, kind, case_id)
        )
        request = self.request_id
        update_id = request.update_id() if request else None
        timeout = self.settings.action_timeout
        version = 0
        try:
            # No worker taking the case's tasks would hold the update (and this request) for ever.
            async with asyncio.timeout(timeout.total_seconds()):
                ack = await handle.execute_update(
                    command.action, command, id=update_id, result_type=Ack, rpc_timeout=timeout
                )
            version = ack.entry
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            await self._closed(kind, case_id, update_id)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise self._not_confirmed(kind, case_id) from None
        return await self._read_back(kind, case_id, version)

    async def record_delivery(self, case_id: str, delivery: Delivered) -> Answer:
        """Report a dispute's shipment delivered (the ``delivered`` update): 404 for a tracking
        number the dispute has no shipment with, 409 once it is closed, 422 for a delivery in the
        future; a repeat is answered with the dispute, unchanged. Platform keys only."""
        if self.caller.role is not KeyRole.PLATFORM:
            raise Problem(
                403,
                "Forbidden",
                f"a {self.caller.role.value} key ({self.caller.name}) may not report deliveries",
            )
        handle = _handle(self.client, DISPUTES, case_id)
        timeout = self.settings.action_timeout
        version = 0
        try:
            async with asyncio.timeout(timeout.total_seconds()):
                ack = await handle.execute_update(DELIVERED, delivery, result_type=Ack, rpc_timeout=timeout)
            version = ack.entry
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            await self._closed(DISPUTES, case_id, None)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise self._not_confirmed(DISPUTES, case_id) from None
        return await self._read_back(DISPUTES, case_id, version)

    async def _read_back(self, kind: ServedKind, case_id: str, version: int) -> Answer:
        """The case after an action it took, from the read model: the case answers the update once
        the action's change is stored, so the row is at the action's ``version`` or later (200).
        Rarely (the case's publish step parked, or the case continuing as new) it is older: 202
        with that row (``stale``); the action is done either way, so a client must not send it
        again."""
        view = await self.read(kind, case_id)
        if view.version >= version:
            return view, 200
        return view.model_copy(update={"stale": True}), 202

    def _not_confirmed(self, kind: ServedKind, case_id: str) -> Problem:
        """503: the case did not take the action in time; a worker may still apply it later."""
        seconds = max(1, math.ceil(self.settings.action_timeout.total_seconds()))
        retry = (
            "retry with the same Idempotency-Key: the case applies a keyed action once"
            if self.idempotency_key
            else "read the case before sending it again (with an Idempotency-Key a retry is applied once)"
        )
        return Problem(
            503,
            "Action not confirmed",
            f"{kind.noun} {case_id} did not take the action within {seconds} s (no worker is taking its"
            f" tasks, or it is busy); it may still be applied when a worker does: {retry}",
            headers={"Retry-After": str(seconds)},
            retry_after=seconds,
        )

    async def check_citations(
        self,
        body: BaseModel,
        by: Actor,
        kind: ServedKind | None = None,
        case_id: str | None = None,
    ) -> dict[str, EvidenceType]:
        """422 unless every evidence reference ``body`` cites is ``by``'s own upload or already
        cited on the case (when acting on one), and every Help Center article it cites (a care
        reply's ``articles``) is published; see api/citations.py. Answers the cited evidence's types."""

        async def on_case() -> set[str]:
            assert kind is not None and case_id is not None
            return citations.cited_on(await self.read(kind, case_id))  # the read model's

        index = EvidenceIndex(self.engine)
        types = await citations.check(body, by, index, case_id, on_case if kind is not None else None)
        await citations.check_articles(body, HelpStore(self.engine))
        macro_id = getattr(body, "macro_id", None)  # a care reply names the saved reply it came from
        if macro_id is not None and await CareMacros(self.engine).get(macro_id) is None:
            raise invalid("macro_id", f"no saved reply (macro) {macro_id}")
        return types

    async def _closed(self, kind: ServedKind, case_id: str, update_id: str | None) -> None:
        """The case is closed (or unknown): a keyed retry of a request it ran passes, anything else
        is refused with the state it closed in."""
        handle = _handle(self.client, kind, case_id)
        request = self.request_id
        archived = await CaseArchive(self.engine).get(case_id)
        if request is not None and archived is not None and request.key in archived.idempotency:
            if archived.idempotency[request.key].get("fingerprint") != request.fingerprint:
                raise _key_reused("already used for a different request on this case")
            return  # the case ran this request before it closed
        if update_id is not None and archived is None:
            try:
                await handle.get_update_handle(update_id, result_type=Ack).result()
                return
            except RPCError:
                pass  # not an earlier run of this request
        closed = await self.read(kind, case_id)  # 404 here when it never existed
        raise Problem(
            409,
            "Invalid transition",
            f"{kind.noun} {case_id} is {closed.status}: no further action is allowed",
            current_status=closed.status,
            allowed_actions=closed.allowed_actions,
        )


def _key_reused(reason: str) -> Problem:
    return Problem(
        422,
        "Idempotency key reused",
        f"Idempotency-Key was {reason}; use a new key for a new request",
        errors=[{"field": "Idempotency-Key", "reason": reason}],
    )


def _handle(client: Client, kind: ServedKind, case_id: str) -> WorkflowHandle[Any, Any]:
    if not kind.owns(case_id):
        raise Problem(404, "Not found", f"no {kind.noun} {case_id}")
    return client.get_workflow_handle(case_id)


def _canonical(body: bytes) -> str:
    try:
        return json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
    except (ValueError, RecursionError):
        return body.decode(errors="replace")


async def _cases(
    request: Request,
    client: TemporalClientDep,
    settings: SettingsDep,
    engine: EngineDep,
    caller: CallerDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="retry a POST safely: the same key and body give the first response, once; the"
            " key used again for another request or body is refused (422)",
        ),
    ] = None,
) -> Cases:
    request_line = f"{request.method} {request.url.path}"
    fingerprint = hashlib.sha256(f"{request_line}\n{_canonical(await request.body())}".encode()).hexdigest()
    return Cases(client, settings, engine, caller, idempotency_key, request_line, fingerprint)


async def _reading(
    client: TemporalClientDep, settings: SettingsDep, engine: EngineDep, caller: CallerDep
) -> Cases:
    return Cases(client, settings, engine, caller, None, "", "")


CasesDep = Annotated[Cases, Depends(_cases)]
#: For reads: the same access, without the Idempotency-Key header (a GET is safe to repeat).
ReadCasesDep = Annotated[Cases, Depends(_reading)]


async def _before_read_model(engine: AsyncEngine, kind: ServedKind, case_id: str) -> CaseView | None:
    """A case the read model has no row for yet because it was last stored before the read model
    existed: closed ones from the archive, open ones from the last state a read kept of them (its
    next change writes its row)."""
    archived = await CaseArchive(engine).get(case_id)
    if archived is not None:
        return view_of(kind.name, kind.state_of(archived.state), archived.closed_at)
    snapshot = await CaseSnapshots(engine).get(case_id)
    if snapshot is not None:
        return view_of(kind.name, kind.state_of(snapshot.state), snapshot.as_of)
    return None
