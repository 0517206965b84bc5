"""Webhook subscriptions added through the API, every delivery attempt, and dead letters."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings, WebhookSubscription
from store.db import insert
from store.schema import webhook_attempts, webhook_dead_letters, webhook_subscriptions


class DeliveryAttempt(BaseModel):
    """One POST to a receiver, as ``GET /v1/webhooks/deliveries`` shows it."""

    delivery_id: str
    event_id: str
    event_type: str
    subscription_id: str
    attempt: int
    status_code: int | None
    error: str | None
    delivered: bool
    at: datetime


class DeadLetter(BaseModel):
    """A delivery that stopped retrying: what it carried, why it failed, and whether it went again."""

    delivery_id: str
    subscription_id: str
    event: dict[str, Any]
    last_error: str | None
    attempts: int
    dead_at: datetime
    redelivered_at: datetime | None = None


_ATTEMPT_COLUMNS = [webhook_attempts.c[name] for name in DeliveryAttempt.model_fields]
_DEAD_COLUMNS = [webhook_dead_letters.c[name] for name in DeadLetter.model_fields]
_MAX_ROWS = 1000


class WebhookStore:
    """Subscriptions (from settings, and added through the API), delivery attempts and dead
    letters, in the service database shared by every host."""

    def __init__(self, engine: AsyncEngine, configured: list[WebhookSubscription]) -> None:
        self.engine = engine
        self.configured = {s.id: s for s in configured}

    async def subscriptions(self) -> list[WebhookSubscription]:
        """Every subscription: configured ones first."""
        s = webhook_subscriptions.c
        query = sa.select(s.id, s.url, s.secret, s.event_types).order_by(s.created_at, s.id)
        async with self.engine.connect() as connection:
            added = [
                WebhookSubscription.model_validate(row._asdict()) for row in await connection.execute(query)
            ]
        return list(self.configured.values()) + added

    async def get(self, subscription_id: str) -> WebhookSubscription | None:
        """One subscription, with its secret."""
        if subscription_id in self.configured:
            return self.configured[subscription_id]
        s = webhook_subscriptions.c
        query = sa.select(s.id, s.url, s.secret, s.event_types).where(s.id == subscription_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else WebhookSubscription.model_validate(row._asdict())

    async def add(
        self,
        url: str,
        event_types: list[str],
        secret: str | None,
        created_by: str,
        subscription_id: str | None = None,
    ) -> WebhookSubscription:
        """Add a subscription (a secret is generated when none is given); adding an id that
        exists returns that subscription unchanged, so a retried request adds nothing."""
        if subscription_id and subscription_id in self.configured:
            return self.configured[subscription_id]
        subscription = WebhookSubscription(
            id=subscription_id or f"wh-{secrets.token_hex(8)}",
            url=url,
            secret=secret or f"whsec-{secrets.token_urlsafe(24)}",
            event_types=event_types,
        )
        row = subscription.model_dump() | {"created_by": created_by, "created_at": datetime.now(UTC)}
        async with self.engine.begin() as connection:
            await connection.execute(
                insert(self.engine, webhook_subscriptions).values(row).on_conflict_do_nothing()
            )
        stored = await self.get(subscription.id)
        assert stored is not None, f"subscription {subscription.id} vanished as it was added"
        return stored

    async def remove(self, subscription_id: str) -> bool:
        """Remove an API-added subscription (configured ones change with the settings)."""
        if subscription_id in self.configured:
            return False
        statement = sa.delete(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
        async with self.engine.begin() as connection:
            removed = await connection.execute(statement)
        return removed.rowcount > 0

    async def record(self, attempt: DeliveryAttempt) -> None:
        """Record one POST and its result."""
        async with self.engine.begin() as connection:
            await connection.execute(sa.insert(webhook_attempts).values(attempt.model_dump()))

    async def attempts(
        self, event_id: str | None = None, subscription_id: str | None = None
    ) -> list[DeliveryAttempt]:
        """Delivery attempts, newest first (at most 1,000), optionally for one event or subscription."""
        a = webhook_attempts.c
        query = sa.select(*_ATTEMPT_COLUMNS).order_by(a.seq.desc()).limit(_MAX_ROWS)
        if event_id is not None:
            query = query.where(a.event_id == event_id)
        if subscription_id is not None:
            query = query.where(a.subscription_id == subscription_id)
        async with self.engine.connect() as connection:
            return [DeliveryAttempt.model_validate(row._asdict()) for row in await connection.execute(query)]

    async def add_dead_letter(self, letter: DeadLetter) -> None:
        """Park a delivery that gave up; a later death of the same delivery replaces the record
        (and clears its redelivery mark)."""
        row = letter.model_dump()
        statement = insert(self.engine, webhook_dead_letters).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["delivery_id"],
            set_={name: statement.excluded[name] for name in row if name != "delivery_id"},
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement)

    async def dead_letters(
        self, subscription_id: str | None = None, *, include_redelivered: bool = False
    ) -> list[DeadLetter]:
        """Dead letters, newest first (at most 1,000): those not redelivered yet unless asked."""
        d = webhook_dead_letters.c
        query = sa.select(*_DEAD_COLUMNS).order_by(d.dead_at.desc(), d.delivery_id).limit(_MAX_ROWS)
        if subscription_id is not None:
            query = query.where(d.subscription_id == subscription_id)
        if not include_redelivered:
            query = query.where(d.redelivered_at.is_(None))
        async with self.engine.connect() as connection:
            return [DeadLetter.model_validate(row._asdict()) for row in await connection.execute(query)]

    async def dead_letter(self, delivery_id: str) -> DeadLetter | None:
        """One dead letter."""
        query = sa.select(*_DEAD_COLUMNS).where(webhook_dead_letters.c.delivery_id == delivery_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else DeadLetter.model_validate(row._asdict())

    async def mark_redelivered(self, delivery_id: str, at: datetime) -> bool:
        """Mark a dead letter sent again; True only for the one caller that marked it (so two
        hosts asked at once redeliver it once), False when unknown or marked already."""
        d = webhook_dead_letters.c
        statement = (
            sa.update(webhook_dead_letters)
            .where(d.delivery_id == delivery_id, d.redelivered_at.is_(None))
            .values(redelivered_at=at)
        )
        async with self.engine.begin() as connection:
            marked = await connection.execute(statement)
        return marked.rowcount == 1


def webhook_store(settings: Settings, engine: AsyncEngine) -> WebhookStore:
    """The store in the service database, with the configured subscriptions."""
    return WebhookStore(engine, settings.webhooks)
