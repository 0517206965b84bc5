"""/v1/webhooks: subscriptions to case events, and the record of every delivery attempt."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import AnyHttpUrl, BaseModel, Field, field_validator

from activities.webhooks import (
    DeliveryAttempt,
    PublicSubscription,
    WebhookStore,
    literal_internal_address,
    new_secret,
    signer,
    webhook_store,
)
from api.auth import CallerDep
from api.cases import CasesDep
from api.deps import EngineDep, SettingsDep
from api.problems import Problem
from core.settings import KeyRole
from domain.outbound import EventType

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class NewSubscription(BaseModel):
    """Where to POST which events; a ``whsec_`` secret is generated when none is given."""

    url: AnyHttpUrl
    event_types: list[str] = Field(default=["*"], min_length=1, max_length=len(EventType) + 1)
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="whsec_<base64 of 24 to 64 bytes> (Standard Webhooks), or another string: its bytes",
    )

    @field_validator("secret")
    @classmethod
    def _usable_secret(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("whsec_"):
            try:
                key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
            except ValueError:
                raise ValueError("a whsec_ secret is whsec_ followed by base64") from None
            if not 24 <= len(key) <= 64:
                raise ValueError(f"a whsec_ secret holds 24 to 64 bytes, not {len(key)}")
            signer(value)
        return value

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


class Subscriptions(BaseModel):
    """Every subscription, without secrets."""

    items: list[PublicSubscription]


class Deliveries(BaseModel):
    """Delivery attempts, newest first."""

    items: list[DeliveryAttempt]


def _store(settings: SettingsDep, caller: CallerDep, engine: EngineDep) -> WebhookStore:
    if caller.role in (KeyRole.CARE, KeyRole.SUPERVISOR):
        raise Problem(403, "Forbidden", "webhooks are managed with platform or admin keys")
    return webhook_store(settings, engine)


async def _public(store: WebhookStore) -> list[PublicSubscription]:
    return [
        PublicSubscription(
            id=s.id,
            url=s.url,
            event_types=s.event_types,
            source="settings" if s.id in store.configured else "api",
        )
        for s in await store.subscriptions()
    ]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CreatedSubscription)
async def subscribe(body: NewSubscription, cases: CasesDep, engine: EngineDep) -> JSONResponse:
    """Subscribe a URL to event types; deliveries are signed with the returned secret. With an
    Idempotency-Key the subscription's id derives from it, so a retry subscribes nothing new."""
    store = _store(cases.settings, cases.caller, engine)
    internal = literal_internal_address(str(body.url))
    if internal and not cases.settings.webhook_allow_private_hosts:
        reason = f"{internal} is an internal address (set DISPUTES_WEBHOOK_ALLOW_PRIVATE_HOSTS to allow)"
        raise Problem(422, "Invalid input", f"url: {reason}", errors=[{"field": "url", "reason": reason}])
    keyed_id = f"wh-{cases.key_digest[:16]}" if cases.key_digest else None
    secret = body.secret or new_secret()

    async def add() -> tuple[BaseModel, int]:
        created = await store.add(str(body.url), body.event_types, secret, cases.caller.name, keyed_id)
        return CreatedSubscription(
            id=created.id,
            url=created.url,
            event_types=created.event_types,
            source="api",
            secret=created.secret,
        ), status.HTTP_201_CREATED

    return await cases.keyed(add)


@router.get("")
async def list_subscriptions(settings: SettingsDep, caller: CallerDep, engine: EngineDep) -> Subscriptions:
    """Every subscription (from settings and from this API), without secrets."""
    return Subscriptions(items=await _public(_store(settings, caller, engine)))


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unsubscribe(
    subscription_id: str, settings: SettingsDep, caller: CallerDep, engine: EngineDep
) -> Response:
    """Remove a subscription added through the API; deliveries in flight stop at their next try."""
    if not await _store(settings, caller, engine).remove(subscription_id):
        raise Problem(404, "Not found", f"no subscription {subscription_id} added through the API")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/deliveries")
async def deliveries(
    settings: SettingsDep,
    caller: CallerDep,
    engine: EngineDep,
    event_id: Annotated[str | None, Query(max_length=200)] = None,
    subscription_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Deliveries:
    """Every attempt to deliver an event: status code or error, and whether it was accepted."""
    store = _store(settings, caller, engine)
    return Deliveries(items=await store.attempts(event_id=event_id, subscription_id=subscription_id))
