"""/v1/webhooks: subscriptions to case events, their secrets, every delivery attempt, and dead
letters. Each belongs to the API key (its name) that made it: another platform key gets 404 and
lists only its own; an admin key sees and manages all of them."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AnyHttpUrl, BaseModel, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import Caller, CallerDep
from api.cases import CasesDep
from api.deps import EngineDep, SettingsDep, TemporalClientDep
from api.problems import Problem, invalid
from core.egress import literal_internal_address
from core.settings import KeyRole, Settings
from domain.outbound import CaseEvent, EventType
from store.webhooks import (
    DeadLetter,
    DeliveryAttempt,
    PublicSubscription,
    Subscription,
    SubscriptionLimit,
    WebhookStore,
    new_secret,
    signer,
    span,
    webhook_store,
)
from wiring.webhooks import WebhookDispatcher

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

SECRET_DESCRIPTION = "whsec_<base64 of 24 to 64 bytes> (Standard Webhooks), or another string: its bytes"


def usable_secret(value: str) -> str:
    """A ``whsec_`` secret must be base64 of 24 to 64 bytes; any other string is its bytes."""
    if value.startswith("whsec_"):
        try:
            key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
        except ValueError:
            raise ValueError("a whsec_ secret is whsec_ followed by base64") from None
        if not 24 <= len(key) <= 64:
            raise ValueError(f"a whsec_ secret holds 24 to 64 bytes, not {len(key)}")
        signer(value)
    return value


#: A signing secret given by the caller.
GivenSecret = Annotated[str, Field(min_length=16, max_length=200), AfterValidator(usable_secret)]


class NewSubscription(BaseModel):
    """Where to POST which events; a ``whsec_`` secret is generated when none is given."""

    url: AnyHttpUrl
    event_types: list[str] = Field(
        default=["*"],
        min_length=1,
        max_length=len(EventType) + 1,
        json_schema_extra={"items": {"type": "string", "enum": ["*", *EventType]}},  # as checked below
    )
    secret: GivenSecret | None = Field(default=None, description=SECRET_DESCRIPTION)

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {"*", *EventType})
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {sorted(EventType)} or '*'")
        return value


class CreatedSubscription(PublicSubscription):
    """The new subscription, with its signing secret: shown once."""

    secret: str


class Rotation(BaseModel):
    """A new signing secret (generated when none is given) and how long the old one still signs."""

    secret: GivenSecret | None = Field(default=None, description=SECRET_DESCRIPTION)
    overlap: timedelta | None = Field(
        default=None,
        ge=timedelta(0),
        description="ISO 8601 duration the old secret keeps signing too; default"
        " DISPUTES_WEBHOOK_SECRET_OVERLAP, at most DISPUTES_WEBHOOK_SECRET_MAX_OVERLAP",
    )


class RotatedSecret(BaseModel):
    """The new secret (shown once) and when the previous one stops signing."""

    id: str
    secret: str
    previous_secret_expires_at: datetime


class Subscriptions(BaseModel):
    """The subscriptions the caller may see, without secrets."""

    items: list[PublicSubscription]


class Deliveries(BaseModel):
    """Delivery attempts, newest first."""

    items: list[DeliveryAttempt]


class DeadLetters(BaseModel):
    """Deliveries that gave up, newest first."""

    items: list[DeadLetter]


class Redelivery(BaseModel):
    """A dead letter sent again: the delivery workflow that now runs it."""

    delivery_id: str
    workflow_id: str
    redelivered_at: datetime


@dataclass(frozen=True)
class Webhooks:
    """The webhooks one caller may see: its own, or all of them for an admin key."""

    store: WebhookStore
    owner: str | None
    settings: Settings

    async def subscription(self, subscription_id: str) -> Subscription:
        """One of the caller's subscriptions; 404 for an unknown one and for another key's."""
        found = await self.store.get(subscription_id, self.owner)
        if found is None:
            raise Problem(404, "Not found", f"no subscription {subscription_id}")
        return found


def scoped(settings: Settings, caller: Caller, engine: AsyncEngine) -> Webhooks:
    """The caller's webhooks; care keys manage none (403)."""
    if caller.role in (KeyRole.CARE, KeyRole.SUPERVISOR):
        raise Problem(403, "Forbidden", "webhooks are managed with platform or admin keys")
    owner = None if caller.role is KeyRole.ADMIN else caller.name
    return Webhooks(webhook_store(settings, engine), owner, settings)


def _webhooks(settings: SettingsDep, caller: CallerDep, engine: EngineDep) -> Webhooks:
    return scoped(settings, caller, engine)


WebhooksDep = Annotated[Webhooks, Depends(_webhooks)]


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CreatedSubscription)
async def subscribe(body: NewSubscription, cases: CasesDep, engine: EngineDep) -> JSONResponse:
    """Subscribe a URL to event types; deliveries are signed with the returned secret. With an
    Idempotency-Key the subscription's id derives from it, so a retry subscribes nothing new. A
    key has at most ``DISPUTES_WEBHOOK_MAX_SUBSCRIPTIONS`` subscriptions (409 past it)."""
    webhooks = scoped(cases.settings, cases.caller, engine)
    internal = literal_internal_address(str(body.url))
    if internal and not cases.settings.webhook_allow_private_hosts:
        reason = f"{internal} is an internal address (set DISPUTES_WEBHOOK_ALLOW_PRIVATE_HOSTS to allow)"
        raise invalid("url", reason)
    keyed_id = f"wh-{cases.key_digest[:16]}" if cases.key_digest else None
    secret = body.secret or new_secret()

    limit = cases.settings.webhook_max_subscriptions

    async def add() -> tuple[BaseModel, int]:
        try:
            created = await webhooks.store.add(
                str(body.url), body.event_types, secret, cases.caller.name, keyed_id, limit=limit
            )
        except SubscriptionLimit:
            raise Problem(
                409,
                "Conflict",
                f"an API key may have at most {limit} subscriptions"
                " (DISPUTES_WEBHOOK_MAX_SUBSCRIPTIONS): remove one first",
                limit=limit,
            ) from None
        shown = PublicSubscription.of(created, _now())
        return CreatedSubscription(**shown.model_dump(), secret=created.secret), status.HTTP_201_CREATED

    return await cases.keyed(add)


@router.get("")
async def list_subscriptions(
    webhooks: WebhooksDep,
    state: Annotated[Literal["active", "failing", "disabled"] | None, Query(alias="status")] = None,
) -> Subscriptions:
    """The caller's subscriptions (an admin key: all, from settings and from this API), without
    secrets, optionally only those in one ``status``."""
    now = _now()
    shown = [PublicSubscription.of(s, now) for s in await webhooks.store.subscriptions(webhooks.owner)]
    return Subscriptions(items=[s for s in shown if state is None or s.status == state])


@router.get("/deliveries")
async def deliveries(
    webhooks: WebhooksDep,
    event_id: Annotated[str | None, Query(max_length=200)] = None,
    subscription_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Deliveries:
    """Every attempt to deliver an event to the caller's subscriptions: status code or error,
    and whether it was accepted."""
    attempts = await webhooks.store.attempts(
        event_id=event_id, subscription_id=subscription_id, owner=webhooks.owner
    )
    return Deliveries(items=attempts)


@router.get("/dead-letters")
async def dead_letters(
    webhooks: WebhooksDep,
    subscription_id: Annotated[str | None, Query(max_length=100)] = None,
    include_redelivered: bool = False,
) -> DeadLetters:
    """Deliveries to the caller's subscriptions that gave up (after the retry window, refused,
    or while the subscription was disabled), newest first; redelivered ones only when asked."""
    letters = await webhooks.store.dead_letters(
        subscription_id, include_redelivered=include_redelivered, owner=webhooks.owner
    )
    return DeadLetters(items=letters)


@router.post(
    "/dead-letters/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED, response_model=Redelivery
)
async def redeliver(
    delivery_id: str, cases: CasesDep, engine: EngineDep, client: TemporalClientDep
) -> JSONResponse:
    """Send a dead letter again, as a new delivery with a fresh retry window; once, however many
    hosts are asked at the same moment (the others get 409)."""
    webhooks = scoped(cases.settings, cases.caller, engine)
    store = webhooks.store
    letter = await store.dead_letter(delivery_id, webhooks.owner)
    if letter is None:
        raise Problem(404, "Not found", f"no dead letter {delivery_id}")

    async def send() -> tuple[BaseModel, int]:
        subscription = await store.get(letter.subscription_id, webhooks.owner)
        if subscription is None:
            raise Problem(409, "Conflict", f"subscription {letter.subscription_id} was removed")
        if subscription.disabled:
            raise Problem(
                409,
                "Conflict",
                f"subscription {subscription.id} is disabled: enable it first"
                f" (POST /v1/webhooks/{subscription.id}/enable)",
            )
        at = _now()
        if not await store.mark_redelivered(delivery_id, at):
            raise Problem(409, "Conflict", f"dead letter {delivery_id} was redelivered already")
        dispatcher = WebhookDispatcher(client, cases.settings)
        delivery = dispatcher.delivery(
            letter.subscription_id, CaseEvent.model_validate(letter.event), delivery_id
        )
        # One workflow per death of the letter: a retried request cannot start it twice either.
        workflow_id = f"webhook-{delivery_id}:redelivery:{int(letter.dead_at.timestamp() * 1000)}"
        try:
            await dispatcher.start(delivery, workflow_id)
        except Exception:
            await store.unmark_redelivered(delivery_id, at)
            raise
        return Redelivery(delivery_id=delivery_id, workflow_id=workflow_id, redelivered_at=at), 202

    return await cases.keyed(send)


@router.get("/{subscription_id}")
async def get_subscription(subscription_id: str, webhooks: WebhooksDep) -> PublicSubscription:
    """One of the caller's subscriptions: status (active, failing, disabled), and whether a
    rotated secret still signs."""
    return PublicSubscription.of(await webhooks.subscription(subscription_id), _now())


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unsubscribe(subscription_id: str, webhooks: WebhooksDep) -> Response:
    """Remove one of the caller's subscriptions added through the API; deliveries in flight stop
    at their next try."""
    if not await webhooks.store.remove(subscription_id, webhooks.owner):
        raise Problem(404, "Not found", f"no subscription {subscription_id} added through the API")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{subscription_id}/rotate-secret", response_model=RotatedSecret)
async def rotate_secret(
    subscription_id: str, body: Rotation, cases: CasesDep, engine: EngineDep
) -> JSONResponse:
    """Replace the signing secret: deliveries carry a signature by the new secret and one by the
    old until the overlap ends, so receivers switch when they like. With an Idempotency-Key a
    retry returns the first response (the same new secret)."""
    webhooks = scoped(cases.settings, cases.caller, engine)
    settings = cases.settings
    overlap = settings.webhook_secret_overlap if body.overlap is None else body.overlap
    if overlap > settings.webhook_secret_max_overlap:
        reason = f"at most {span(settings.webhook_secret_max_overlap)} (DISPUTES_WEBHOOK_SECRET_MAX_OVERLAP)"
        raise Problem(
            422, "Invalid input", f"overlap: {reason}", errors=[{"field": "overlap", "reason": reason}]
        )
    subscription = await webhooks.subscription(subscription_id)
    if subscription.source == "settings":
        raise Problem(
            409, "Conflict", f"{subscription_id} is configured in DISPUTES_WEBHOOKS: change it there"
        )
    secret = body.secret or new_secret()

    async def rotate() -> tuple[BaseModel, int]:
        until = _now() + overlap
        rotated = await webhooks.store.rotate(subscription_id, secret, until, webhooks.owner)
        if rotated is None:
            raise Problem(404, "Not found", f"no subscription {subscription_id}")
        return RotatedSecret(id=rotated.id, secret=rotated.secret, previous_secret_expires_at=until), 200

    return await cases.keyed(rotate)


@router.post("/{subscription_id}/enable", response_model=PublicSubscription)
async def enable(subscription_id: str, cases: CasesDep, engine: EngineDep) -> JSONResponse:
    """Deliver to a disabled subscription again (its failure record starts afresh); the events
    it missed are dead letters to redeliver. Enabling an active one changes nothing."""
    webhooks = scoped(cases.settings, cases.caller, engine)
    await webhooks.subscription(subscription_id)

    async def enable_it() -> tuple[BaseModel, int]:
        await webhooks.store.enable(subscription_id)
        return PublicSubscription.of(await webhooks.subscription(subscription_id), _now()), 200

    return await cases.keyed(enable_it)
