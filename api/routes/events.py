"""/v1/events: marketplace events as a batch of CloudEvents 1.0, each delivered to its case."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.v1.event import CloudEvent
from fastapi import APIRouter, Body, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field, ValidationError
from temporalio.service import RPCError, RPCStatusCode

from api.cases import Answer, Cases, CasesDep
from api.kinds import DISPUTES, SERVED, ServedKind
from api.problems import Problem
from core.settings import KeyRole
from domain.commands import DELIVERED, Command, Delivered, IngestedEvent
from domain.dispute import DELIVERY_CLOCK_SKEW
from domain.types import IDENTIFIER_PATTERN, Actor, Role

router = APIRouter(prefix="/v1/events", tags=["events"])

PREFIX = "com.marketplace."
MAX_BATCH = 100
#: The marketplace's delivery of a shipment: subject the order id, data its resi and delivery time.
SHIPMENT_DELIVERED = f"{PREFIX}shipment.delivered"


class EventStatus(StrEnum):
    """What became of one event of the batch."""

    ACCEPTED = "accepted"  # delivered to its case (which dedupes by id and records refusals)
    INVALID = "invalid"  # not a CloudEvent we understand, or its data does not validate
    FORBIDDEN = "forbidden"  # this API key may not act as the event's actor
    NOT_FOUND = "not_found"  # no such case
    CLOSED = "closed"  # the case is closed: nothing more can be recorded on it
    CONFLICT = "conflict"  # refused as REST would with 409: e.g. the order's dispute is between other parties
    LIMITED = "limited"  # over the batch's cap on case openings (DISPUTES_EVENTS_MAX_OPENINGS): send it again
    REFUSED = "refused"  # the case refuses it and nothing changed: a delivery for an unknown tracking number


class EventResult(BaseModel):
    """The result for one event, in the order they came."""

    id: str | None
    type: str | None
    status: EventStatus
    case_id: str | None = None
    problem_status: int | None = Field(
        default=None, description="the HTTP status the same request would get over REST, when refused"
    )
    detail: str | None = None
    errors: list[dict[str, str]] = []


class BatchResult(BaseModel):
    """One result per event."""

    items: list[EventResult]


def _errors(error: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in item["loc"]) or "data", "reason": item["msg"]}
        for item in error.errors(include_url=False)
    ]


def _parse_type(event_type: str) -> tuple[ServedKind, Role | None, str | None]:
    """``com.marketplace.dispute.buyer.message`` → (disputes, buyer, message); opened → (kind, None, None).

    The kinds are the registered ones, the actions each kind's, each for the roles that may take it."""
    if not event_type.startswith(PREFIX):
        raise ValueError(f"type must start with {PREFIX}")
    parts = event_type.removeprefix(PREFIX).split(".")
    kind = SERVED.get(parts[0])
    if kind is not None and len(parts) == 2 and parts[1] == "opened":
        return kind, None, None
    if kind is not None and len(parts) == 3 and parts[1] in set(Role):
        spec = kind.actions.get(parts[2])
        if spec is not None and Role(parts[1]) in spec.roles:
            return kind, Role(parts[1]), spec.name
    raise ValueError(f"unknown event type {event_type}")


async def _deliver(cases: Cases, raw: dict[str, Any], openings: list[str]) -> EventResult:
    event_id, event_type = raw.get("id"), raw.get("type")
    result = EventResult(
        id=event_id if isinstance(event_id, str) else None,
        type=event_type if isinstance(event_type, str) else None,
        status=EventStatus.INVALID,
    )
    if not isinstance(event_id, str) or not event_id or raw.get("specversion") != "1.0":
        result.detail = "a CloudEvents 1.0 event needs specversion '1.0' and a string id"
        return result
    if not isinstance(event_type, str):
        result.detail = "type must be a string"
        return result
    if event_type == SHIPMENT_DELIVERED:
        return await _delivered(cases, raw, event_id, result)
    try:
        event = CloudEvent(dict((k, v) for k, v in raw.items() if k != "data"), raw.get("data"))
        kind, role, action = _parse_type(str(event_type))
    except (BaseCloudEventException, ValueError) as error:
        result.detail = str(error)
        return result
    data = event.get_data()
    if not isinstance(data, dict):
        result.detail = "data must be a JSON object"
        return result
    if action is None and len(openings) >= cases.settings.events_max_openings:
        result.status = EventStatus.LIMITED
        cap = cases.settings.events_max_openings
        result.detail = f"a batch opens at most {cap} cases; send this event again in a later batch"
        return result
    try:
        if action is None:
            openings.append(event_id)
            return await _open(cases, kind, event_id, raw, data, result)
        spec = kind.actions.get(action)
        assert spec is not None, "_parse_type accepts registered actions only"
        command: Command = spec.command.model_validate(data)
    except ValidationError as error:
        result.detail, result.errors = "data does not validate", _errors(error)
        return result
    except ValueError as error:
        result.detail = str(error)
        return result
    if command.actor.role is not role:
        result.detail = f"the type names the {role} but data.actor is the {command.actor.role.value}"
        return result
    case_id = event.get_subject()
    if not case_id or not kind.owns(case_id):
        result.detail = f"subject must name the case ({kind.prefix}...)"
        return result
    result.case_id = case_id
    if not _authorized(cases, command.actor, result):
        return result
    try:
        types = await cases.check_citations(command, command.actor, kind, case_id)
    except Problem as refused:
        return _refused(result, refused)
    # The cited evidence's types come from their uploads, never from the event.
    data = {name: value for name, value in data.items() if name != "evidence_types"}
    if types:
        data["evidence_types"] = {reference: shown.value for reference, shown in types.items()}
    ingested = IngestedEvent(id=event_id, type=str(event_type), action=action, body=data)
    try:
        await cases.client.get_workflow_handle(case_id).signal("ingest", ingested)
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
        exists = True
        try:
            await cases.client.get_workflow_handle(case_id).describe()
        except RPCError:
            exists = False
        result.status = EventStatus.CLOSED if exists else EventStatus.NOT_FOUND
        result.detail = f"{case_id} is closed" if exists else f"no case {case_id}"
        return result
    result.status = EventStatus.ACCEPTED
    return result


class DeliveredData(BaseModel):
    """The data of ``com.marketplace.shipment.delivered`` (other fields the marketplace sends are ignored)."""

    tracking_number: str = Field(pattern=IDENTIFIER_PATTERN)
    delivered_at: AwareDatetime


async def _delivered(cases: Cases, raw: dict[str, Any], event_id: str, result: EventResult) -> EventResult:
    """A shipment delivered: to the order's dispute through its ``ingest`` signal, once the API has
    checked that the dispute is open and has a shipment with that tracking number (else ``refused``,
    404, and nothing reaches the case). The case dedupes by event id, and records a resi once."""
    try:
        event = CloudEvent(dict((k, v) for k, v in raw.items() if k != "data"), raw.get("data"))
        data = DeliveredData.model_validate(event.get_data())
    except BaseCloudEventException as error:
        result.detail = str(error)
        return result
    except ValidationError as error:
        result.detail, result.errors = "data does not validate", _errors(error)
        return result
    order_id = event.get_subject()
    if not order_id or not re.fullmatch(IDENTIFIER_PATTERN, order_id):
        result.detail = "subject must be the order id"
        return result
    if cases.caller.role is not KeyRole.PLATFORM:
        result.status, result.detail = EventStatus.FORBIDDEN, "only a platform key reports deliveries"
        return result
    case_id = result.case_id = DISPUTES.kind.workflow_id(order_id)
    try:
        dispute = await cases.read(DISPUTES, case_id)
    except Problem as refused:
        return _refused(result, refused)
    if dispute.status in ("RESOLVED", "CANCELLED"):
        result.status, result.detail = EventStatus.CLOSED, f"{case_id} is closed"
        return result
    known = [shipment.tracking_number for shipment in getattr(dispute, "shipments", [])]
    if data.tracking_number not in known:
        result.status, result.problem_status = EventStatus.REFUSED, 404
        result.detail = f"{case_id} has no shipment {data.tracking_number}; its shipments: {known}"
        result.errors = [{"field": "data.tracking_number", "reason": "no shipment of this dispute has it"}]
        return result
    if data.delivered_at > datetime.now(UTC) + DELIVERY_CLOCK_SKEW:
        result.status, result.problem_status = EventStatus.INVALID, 422
        result.detail = "delivered_at is in the future"
        result.errors = [{"field": "data.delivered_at", "reason": "in the future"}]
        return result
    delivery = Delivered(
        tracking_number=data.tracking_number,
        delivered_at=data.delivered_at,
        reported_by=cases.caller.name[:64],
    )
    ingested = IngestedEvent(
        id=event_id, type=SHIPMENT_DELIVERED, action=DELIVERED, body=delivery.model_dump(mode="json")
    )
    try:
        await cases.client.get_workflow_handle(case_id).signal("ingest", ingested)
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
        result.status, result.detail = EventStatus.CLOSED, f"{case_id} is closed"
        return result
    result.status = EventStatus.ACCEPTED
    return result


def _refused(result: EventResult, refused: Problem) -> EventResult:
    """The result of an event the API refused as it would refuse the same request over REST."""
    status = {403: EventStatus.FORBIDDEN, 404: EventStatus.NOT_FOUND, 409: EventStatus.CONFLICT}.get(
        refused.status, EventStatus.INVALID
    )
    result.status, result.detail, result.problem_status = status, refused.detail, refused.status
    result.errors = list(refused.extra.get("errors", []))
    return result


def _authorized(cases: Cases, actor: Actor, result: EventResult) -> bool:
    """Whether the API key may act as the event's actor; if not, the result says so."""
    try:
        cases.caller.authorize(actor)
    except Problem as refused:
        result.status, result.detail = EventStatus.FORBIDDEN, refused.detail
        return False
    return True


async def _open(
    cases: Cases,
    kind: ServedKind,
    event_id: str,
    raw: dict[str, Any],
    data: dict[str, Any],
    result: EventResult,
) -> EventResult:
    """Open a case of ``kind`` from an 'opened' event, started with the event as its first signal."""
    claim = kind.claim.model_validate(data)
    if not _authorized(cases, kind.opener(claim), result):
        return result
    # Without a business key, the case's id derives from the event's source and id: a redelivered
    # event opens nothing new.
    digest = hashlib.sha256(f"{raw.get('source')}\0{event_id}".encode()).hexdigest()[:16]
    opener = IngestedEvent(id=event_id, type=str(raw["type"]))
    try:
        opened, _ = await cases.open(kind, claim, digest, opened_by=opener)
    except Problem as refused:
        return _refused(result, refused)
    result.status, result.case_id = EventStatus.ACCEPTED, getattr(opened, "id", None)
    return result


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=BatchResult)
async def ingest(
    cases: CasesDep,
    batch: Annotated[
        list[dict[str, Any]],
        Body(
            min_length=1,
            max_length=MAX_BATCH,
            description="CloudEvents 1.0 in structured JSON mode (application/cloudevents-batch+json)",
        ),
    ],
) -> JSONResponse:
    """Deliver each event to its case as a Temporal signal (signal-with-start for an 'opened' event).

    Events are handled in order; the result says, per event, whether it was delivered. A case
    dedupes events by id, and records an event its state does not allow as rejected. 'opened'
    events beyond DISPUTES_EVENTS_MAX_OPENINGS in one batch are answered 'limited', not started."""

    async def deliver() -> Answer:
        openings: list[str] = []  # 'opened' events given a try so far: each may start a workflow
        items = [await _deliver(cases, raw, openings) for raw in batch]
        return BatchResult(items=items), status.HTTP_202_ACCEPTED

    return await cases.keyed(deliver)
