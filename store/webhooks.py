"""Webhook subscriptions added through the API, their health, every delivery attempt, and dead
letters. Each subscription belongs to the API key (its name) that made it: pass ``owner`` to see
only that key's; ``None`` sees them all (admin keys, and the service itself). The handed-over case
events are also the event feed (``GET /v1/case-events``), kept for ``DISPUTES_EVENT_RETENTION``."""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from standardwebhooks import Webhook

from core.settings import Settings, WebhookSubscription
from domain.outbound import CaseEvent
from store.db import insert
from store.schema import (
    case_events,
    webhook_attempts,
    webhook_dead_letters,
    webhook_subscription_health,
    webhook_subscriptions,
)

SECRET_PREFIX = "whsec_"

log = logging.getLogger(__name__)


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signer(secret: str) -> Webhook:
    """The Standard Webhooks signer for a subscription's secret: a ``whsec_`` secret is the base64
    of the key, as the specification says; any other string (a secret configured or given before
    ``whsec_`` secrets) is used as its UTF-8 bytes, so receivers verify with
    ``Webhook(secret.encode())``."""
    return Webhook(secret) if secret.startswith(SECRET_PREFIX) else Webhook(secret.encode())


class Subscription(WebhookSubscription):
    """A subscription as the service keeps it: its owner, its secrets while a rotation overlaps,
    and whether its deliveries fail."""

    source: Literal["settings", "api"] = "api"
    created_at: datetime | None = None
    previous_secret: str | None = Field(default=None, repr=False)
    previous_secret_until: datetime | None = None
    failing_since: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None

    @property
    def disabled(self) -> bool:
        """Disabled after failing too long: new events become dead letters until it is enabled."""
        return self.disabled_at is not None

    def signing_secrets(self, now: datetime) -> list[str]:
        """What a delivery made at ``now`` is signed with: the current secret, and the previous
        one while its rotation overlaps."""
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            return [self.secret, self.previous_secret]
        return [self.secret]


class PublicSubscription(BaseModel):
    """A subscription without its secrets: where, what, whose, and whether it is delivered to."""

    id: str
    url: str
    event_types: list[str]
    source: str
    owner: str | None = Field(default=None, description="the API key name it belongs to")
    status: Literal["active", "failing", "disabled"] = "active"
    failing_since: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="while a rotation overlaps: when the previous secret stops signing"
    )

    @classmethod
    def of(cls, subscription: Subscription, now: datetime) -> PublicSubscription:
        """What a key holder may see of ``subscription``."""
        status: Literal["active", "failing", "disabled"] = (
            "disabled" if subscription.disabled else "failing" if subscription.failing_since else "active"
        )
        overlap = subscription.previous_secret_until
        return cls(
            id=subscription.id,
            url=subscription.url,
            event_types=subscription.event_types,
            source=subscription.source,
            owner=subscription.owner,
            status=status,
            failing_since=subscription.failing_since,
            disabled_at=subscription.disabled_at,
            disabled_reason=subscription.disabled_reason,
            previous_secret_expires_at=overlap if overlap and overlap > now else None,
        )


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


class HandedOver(BaseModel):
    """A case event as the webhook side keeps it: in the order events were handed over."""

    seq: int
    id: str
    type: str
    case_id: str
    body: dict[str, Any]
    created_at: datetime


class SubscriptionLimit(Exception):
    """An owner already has as many subscriptions as it may add."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} subscriptions per API key")
        self.limit = limit


_SUBSCRIPTION_COLUMNS = [
    webhook_subscriptions.c[name]
    for name in (
        "id",
        "url",
        "secret",
        "event_types",
        "created_at",
        "previous_secret",
        "previous_secret_until",
    )
]
_HEALTH_COLUMNS = ("failing_since", "disabled_at", "disabled_reason")
_ATTEMPT_COLUMNS = [webhook_attempts.c[name] for name in DeliveryAttempt.model_fields]
_DEAD_COLUMNS = [webhook_dead_letters.c[name] for name in DeadLetter.model_fields]
_EVENT_COLUMNS = [case_events.c[name] for name in HandedOver.model_fields]
_MAX_ROWS = 1000
#: Events looked at per prune batch, and how often one process prunes the feed.
_PRUNE_BATCH = 1000
_PRUNE_EVERY = timedelta(minutes=1)
#: The PostgreSQL advisory lock that orders hand-overs (any constant the service uses for nothing else).
_FEED_LOCK = 0x63617365_6576  # "case_ev"


def span(duration: timedelta) -> str:
    """A duration as people write it: ``3 days``, ``12 h``, ``90 s``."""
    seconds = int(duration.total_seconds())
    if seconds and seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day" if days == 1 else f"{days} days"
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{duration.total_seconds():g} s"


class WebhookStore:
    """Subscriptions (from settings, and added through the API), their health, delivery attempts
    and dead letters, in the service database shared by every host."""

    def __init__(
        self,
        engine: AsyncEngine,
        configured: list[WebhookSubscription],
        event_retention: timedelta | None = None,
    ) -> None:
        self.engine = engine
        self.configured = {s.id: s for s in configured}
        #: How long a handed-over event stays in ``case_events`` (the event feed); None: for ever.
        self.event_retention = event_retention
        self._next_prune = datetime.min.replace(tzinfo=UTC)

    # -- subscriptions ---------------------------------------------------------------------------

    async def subscriptions(self, owner: str | None = None) -> list[Subscription]:
        """Every subscription ``owner`` sees (all when None), configured ones first, with health."""
        s = webhook_subscriptions.c
        query = sa.select(*_SUBSCRIPTION_COLUMNS, s.created_by).order_by(s.created_at, s.id)
        if owner is not None:
            query = query.where(s.created_by == owner)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            health = await self._health(connection)
        configured = [self._configured(c, health) for c in self.configured.values()]
        added = [self._added(row._asdict(), health) for row in rows]
        return [c for c in configured if owner is None or c.owner == owner] + added

    async def get(self, subscription_id: str, owner: str | None = None) -> Subscription | None:
        """One subscription with its secrets, if ``owner`` may see it (any when None)."""
        configured = self.configured.get(subscription_id)
        s = webhook_subscriptions.c
        async with self.engine.connect() as connection:
            health = await self._health(connection, subscription_id)
            if configured is not None:
                found = self._configured(configured, health)
            else:
                query = sa.select(*_SUBSCRIPTION_COLUMNS, s.created_by).where(s.id == subscription_id)
                row = (await connection.execute(query)).first()
                if row is None:
                    return None
                found = self._added(row._asdict(), health)
        return found if owner is None or found.owner == owner else None

    async def add(
        self,
        url: str,
        event_types: list[str],
        secret: str | None,
        created_by: str,
        subscription_id: str | None = None,
        limit: int | None = None,
    ) -> Subscription:
        """Add a subscription (a secret is generated when none is given); adding an id that
        exists returns that subscription unchanged, so a retried request adds nothing. With a
        ``limit``, an owner that has that many added already is refused (``SubscriptionLimit``)."""
        if subscription_id and subscription_id in self.configured:
            return self._configured(self.configured[subscription_id], {})
        if subscription_id and (found := await self.get(subscription_id)) is not None:
            return found
        new_id = subscription_id or f"wh-{secrets.token_hex(8)}"
        row = {
            "id": new_id,
            "url": url,
            "secret": secret or f"whsec-{secrets.token_urlsafe(24)}",
            "event_types": event_types,
            "created_by": created_by,
            "created_at": datetime.now(UTC),
        }
        s = webhook_subscriptions.c
        statement: Any = insert(self.engine, webhook_subscriptions)
        if limit is None:
            statement = statement.values(row)
        else:
            # One statement counts and inserts: SQLite runs one writer at a time, and PostgreSQL
            # takes the owner's lock first (below), so requests racing for the last place queue.
            owned = sa.select(sa.func.count()).where(s.created_by == created_by).scalar_subquery()
            values = sa.select(*(sa.literal(v, type_=s[k].type) for k, v in row.items())).where(owned < limit)
            statement = statement.from_select(list(row), values)
        async with self.engine.begin() as connection:
            if limit is not None and self.engine.dialect.name == "postgresql":
                owner_lock = sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"webhooks:{created_by}"))
                await connection.execute(sa.select(owner_lock))
            await connection.execute(statement.on_conflict_do_nothing())
        stored = await self.get(new_id)
        if stored is None and limit is not None:
            raise SubscriptionLimit(limit)  # the count said no: nothing was added
        assert stored is not None, f"subscription {new_id} vanished as it was added"
        return stored

    async def count(self, owner: str) -> int:
        """How many subscriptions ``owner`` added through the API."""
        s = webhook_subscriptions.c
        query = sa.select(sa.func.count()).where(s.created_by == owner)
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def remove(self, subscription_id: str, owner: str | None = None) -> bool:
        """Remove an API-added subscription of ``owner`` (configured ones change with the settings)."""
        if subscription_id in self.configured:
            return False
        s = webhook_subscriptions.c
        statement = sa.delete(webhook_subscriptions).where(s.id == subscription_id)
        if owner is not None:
            statement = statement.where(s.created_by == owner)
        h = webhook_subscription_health.c
        async with self.engine.begin() as connection:
            removed = await connection.execute(statement)
            if removed.rowcount:
                await connection.execute(
                    sa.delete(webhook_subscription_health).where(h.subscription_id == subscription_id)
                )
        return removed.rowcount > 0

    async def rotate(
        self, subscription_id: str, secret: str, overlap_until: datetime, owner: str | None = None
    ) -> Subscription | None:
        """Sign with ``secret`` from now on, and with the secret it replaces as well until
        ``overlap_until``; None when ``owner`` has no such API-added subscription. A second
        rotation within the overlap drops the oldest secret."""
        s = webhook_subscriptions.c
        statement = (
            sa.update(webhook_subscriptions)
            .where(s.id == subscription_id)
            # SET reads the row as it was: the old secret becomes the previous one.
            .values(previous_secret=s.secret, secret=secret, previous_secret_until=overlap_until)
        )
        if owner is not None:
            statement = statement.where(s.created_by == owner)
        async with self.engine.begin() as connection:
            rotated = await connection.execute(statement)
        return await self.get(subscription_id) if rotated.rowcount else None

    async def enable(self, subscription_id: str) -> None:
        """Deliver to a disabled subscription again: its failure record starts afresh."""
        h = webhook_subscription_health.c
        async with self.engine.begin() as connection:
            await connection.execute(
                sa.delete(webhook_subscription_health).where(h.subscription_id == subscription_id)
            )

    # -- case events handed over ----------------------------------------------------------------

    async def hand_over(self, event: CaseEvent, body: dict[str, Any]) -> bool:
        """Keep a case event once (a retried step adds nothing) with the ``body`` receivers get;
        True when any subscription wants events of its type, so the event has somewhere to go."""
        row = {
            "id": event.id,
            "type": event.type.value,
            "case_id": event.case_id,
            "body": body,
            "created_at": event.occurred_at,
        }
        statement = insert(self.engine, case_events).values(row).on_conflict_do_nothing()
        wanted = {"*", event.type.value}
        await self._prune_when_due()
        async with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Hand-overs take their sequence number and commit one at a time, so the feed's
                # order is the commit order: a reader past seq n never misses an n - 1 that
                # committed later. (SQLite has one writer at a time already.)
                await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_FEED_LOCK)))
            await connection.execute(statement)
            if any(wanted.intersection(c.event_types) for c in self.configured.values()):
                return True
            # The distinct lists of types: a handful of rows, however many subscriptions.
            kinds = sa.select(webhook_subscriptions.c.event_types).distinct()
            return any(wanted.intersection(types) for (types,) in await connection.execute(kinds))

    async def events(
        self, after: int = 0, limit: int = _MAX_ROWS, types: Sequence[str] = ()
    ) -> list[HandedOver]:
        """Case events handed over, oldest first, after the sequence number ``after`` (only of
        ``types`` when given): the event feed."""
        e = case_events.c
        kinds = (e.type.in_(list(types)),) if types else ()
        query = sa.select(*_EVENT_COLUMNS).where(e.seq > after, *kinds).order_by(e.seq).limit(limit)
        async with self.engine.connect() as connection:
            return [HandedOver.model_validate(row._asdict()) for row in await connection.execute(query)]

    async def event_seq(self, event_id: str) -> int | None:
        """The feed position of the event ``event_id``; None when it is unknown or pruned."""
        query = sa.select(case_events.c.seq).where(case_events.c.id == event_id)
        async with self.engine.connect() as connection:
            seq: int | None = (await connection.execute(query)).scalar()
        return seq

    async def prune_events(self, before: datetime, batch: int = _PRUNE_BATCH, batches: int = 20) -> int:
        """Drop the handed-over events created before ``before``, oldest first: each batch looks at
        the ``batch`` oldest rows only (by their key), so a prune costs the same however long the
        feed is; at most ``batches`` batches a call. Returns how many were dropped."""
        e = case_events.c
        oldest = sa.select(e.seq, e.created_at).order_by(e.seq).limit(batch).subquery()
        expired = sa.select(oldest.c.seq).where(oldest.c.created_at < before)
        dropped = 0
        for _ in range(batches):
            async with self.engine.begin() as connection:
                gone = (await connection.execute(sa.delete(case_events).where(e.seq.in_(expired)))).rowcount
            dropped += gone
            if gone < batch:
                break
        return dropped

    async def _prune_when_due(self) -> None:
        """Prune the feed past its retention, at most once per ``_PRUNE_EVERY`` in this process:
        the hand-over of events is what runs wherever cases change, so the feed is kept short
        without a job of its own."""
        now = datetime.now(UTC)
        if self.event_retention is None or now < self._next_prune:
            return
        self._next_prune = now + _PRUNE_EVERY
        dropped = await self.prune_events(now - self.event_retention)
        if dropped:
            log.info("case events pruned", extra={"dropped": dropped, "retention": str(self.event_retention)})

    # -- delivery attempts and the health they say -----------------------------------------------

    async def record(self, attempt: DeliveryAttempt, disable_after: timedelta | None = None) -> bool:
        """Record one POST and its result: a success clears the subscription's failure record, a
        failure starts it; True when this failure disabled the subscription (failing for
        ``disable_after``), for exactly one caller."""
        h = webhook_subscription_health.c
        async with self.engine.begin() as connection:
            await connection.execute(sa.insert(webhook_attempts).values(attempt.model_dump()))
            if attempt.delivered:
                await connection.execute(
                    sa.delete(webhook_subscription_health).where(
                        h.subscription_id == attempt.subscription_id, h.disabled_at.is_(None)
                    )
                )
                return False
            upsert = insert(self.engine, webhook_subscription_health).values(
                subscription_id=attempt.subscription_id, failing_since=attempt.at
            )
            upsert = upsert.on_conflict_do_update(
                index_elements=["subscription_id"],
                set_={"failing_since": sa.func.coalesce(h.failing_since, upsert.excluded.failing_since)},
            )
            await connection.execute(upsert)
            if disable_after is None:
                return False
            return await self._disable_if_failing(
                connection, attempt.subscription_id, attempt.at, disable_after
            )

    async def disable_if_failing(self, subscription_id: str, now: datetime, disable_after: timedelta) -> bool:
        """Disable the subscription if it has been failing for ``disable_after``; True for the one
        caller that disabled it."""
        async with self.engine.begin() as connection:
            return await self._disable_if_failing(connection, subscription_id, now, disable_after)

    async def _disable_if_failing(
        self, connection: AsyncConnection, subscription_id: str, now: datetime, disable_after: timedelta
    ) -> bool:
        h = webhook_subscription_health.c
        statement = (
            sa.update(webhook_subscription_health)
            .where(
                h.subscription_id == subscription_id,
                h.disabled_at.is_(None),
                h.failing_since <= now - disable_after,
            )
            .values(
                disabled_at=now,
                disabled_reason=f"every delivery failed for {span(disable_after)} or more",
            )
        )
        disabled = await connection.execute(statement)
        return disabled.rowcount == 1

    async def attempts(
        self, event_id: str | None = None, subscription_id: str | None = None, owner: str | None = None
    ) -> list[DeliveryAttempt]:
        """Delivery attempts, newest first (at most 1,000), optionally for one event or
        subscription, of ``owner``'s subscriptions (all when None)."""
        a = webhook_attempts.c
        query = sa.select(*_ATTEMPT_COLUMNS).order_by(a.seq.desc()).limit(_MAX_ROWS)
        if event_id is not None:
            query = query.where(a.event_id == event_id)
        if subscription_id is not None:
            query = query.where(a.subscription_id == subscription_id)
        if owner is not None:
            query = query.where(self._owned_by(owner, a.subscription_id))
        async with self.engine.connect() as connection:
            return [DeliveryAttempt.model_validate(row._asdict()) for row in await connection.execute(query)]

    async def last_attempt(self, delivery_id: str) -> tuple[int, DeliveryAttempt | None]:
        """How many POSTs one delivery made (redeliveries included), and the last of them."""
        a = webhook_attempts.c
        count = sa.select(sa.func.count()).where(a.delivery_id == delivery_id)
        last = (
            sa.select(*_ATTEMPT_COLUMNS).where(a.delivery_id == delivery_id).order_by(a.seq.desc()).limit(1)
        )
        async with self.engine.connect() as connection:
            total = (await connection.execute(count)).scalar_one()
            row = (await connection.execute(last)).first()
        return total, None if row is None else DeliveryAttempt.model_validate(row._asdict())

    # -- dead letters ----------------------------------------------------------------------------

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
        self,
        subscription_id: str | None = None,
        *,
        include_redelivered: bool = False,
        owner: str | None = None,
    ) -> list[DeadLetter]:
        """Dead letters of ``owner``'s subscriptions (all when None), newest first (at most
        1,000): those not redelivered yet unless asked."""
        d = webhook_dead_letters.c
        query = sa.select(*_DEAD_COLUMNS).order_by(d.dead_at.desc(), d.delivery_id).limit(_MAX_ROWS)
        if subscription_id is not None:
            query = query.where(d.subscription_id == subscription_id)
        if not include_redelivered:
            query = query.where(d.redelivered_at.is_(None))
        if owner is not None:
            query = query.where(self._owned_by(owner, d.subscription_id))
        async with self.engine.connect() as connection:
            return [DeadLetter.model_validate(row._asdict()) for row in await connection.execute(query)]

    async def dead_letter(self, delivery_id: str, owner: str | None = None) -> DeadLetter | None:
        """One dead letter, if it belongs to one of ``owner``'s subscriptions (any when None)."""
        query = sa.select(*_DEAD_COLUMNS).where(webhook_dead_letters.c.delivery_id == delivery_id)
        if owner is not None:
            query = query.where(self._owned_by(owner, webhook_dead_letters.c.subscription_id))
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

    async def unmark_redelivered(self, delivery_id: str, at: datetime) -> None:
        """Undo ``mark_redelivered(delivery_id, at)`` when the redelivery could not be started."""
        d = webhook_dead_letters.c
        statement = (
            sa.update(webhook_dead_letters)
            .where(d.delivery_id == delivery_id, d.redelivered_at == at)
            .values(redelivered_at=None)
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement)

    # -- helpers ---------------------------------------------------------------------------------

    def _owned_by(self, owner: str, subscription_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        s = webhook_subscriptions.c
        condition = subscription_id.in_(sa.select(s.id).where(s.created_by == owner))
        configured = [c.id for c in self.configured.values() if c.owner == owner]
        return sa.or_(condition, subscription_id.in_(configured)) if configured else condition

    async def _health(
        self, connection: AsyncConnection, subscription_id: str | None = None
    ) -> dict[str, dict[str, Any]]:
        # Rows exist only for subscriptions failing now or disabled: a short read.
        h = webhook_subscription_health.c
        query = sa.select(h.subscription_id, *(h[name] for name in _HEALTH_COLUMNS))
        if subscription_id is not None:
            query = query.where(h.subscription_id == subscription_id)
        rows = await connection.execute(query)
        return {row.subscription_id: {name: row._mapping[name] for name in _HEALTH_COLUMNS} for row in rows}

    @staticmethod
    def _configured(configured: WebhookSubscription, health: dict[str, dict[str, Any]]) -> Subscription:
        return Subscription(**configured.model_dump(), source="settings", **health.get(configured.id, {}))

    @staticmethod
    def _added(row: dict[str, Any], health: dict[str, dict[str, Any]]) -> Subscription:
        owner = row.pop("created_by")
        return Subscription(**row, owner=owner, source="api", **health.get(row["id"], {}))


def webhook_store(settings: Settings, engine: AsyncEngine) -> WebhookStore:
    """The store in the service database, with the configured subscriptions."""
    return WebhookStore(engine, settings.webhooks, settings.event_retention)
