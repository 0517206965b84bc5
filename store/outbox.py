"""The outbox: every outside effect, recorded once per idempotency key, and the inbox read from it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.effects import EffectName, RecordedEffect
from store.db import insert
from store.schema import effects, help_articles, inbox_reads

CARE_REPLY = "care_reply"


class Effect(BaseModel):
    """One outside effect as applied (and recorded once) under its idempotency key."""

    case_id: str
    kind: RecordedEffect
    party: str | None = None
    party_id: str | None = None
    amount: int | None = None
    text: str | None = None
    category: str | None = Field(default=None, description="for notifications: 'care_reply' or 'update'")
    articles: list[str] | None = Field(
        default=None, description="for care replies: the Help Center article ids cited, if any"
    )
    template: str | None = Field(default=None, description="for notifications: the template id of ``text``")
    params: dict[str, Any] | None = Field(
        default=None, description="for notifications: the template's params"
    )
    locale: str | None = Field(default=None, description="for notifications: the language of ``text``")
    idempotency_key: str
    created_at: datetime | None = None
    seq: int | None = Field(default=None, description="position in the outbox, assigned when recorded")


class CitedArticle(BaseModel):
    """A Help Center article a care reply cites, as it is now (its title and slug when read)."""

    id: str
    slug: str
    title: str


class InboxItem(BaseModel):
    """A care reply in a user's inbox (Pesan Bantuan)."""

    seq: int = Field(exclude=True, description="its position in the outbox (the inbox's cursor)")
    id: str
    case_id: str
    text: str
    template: str | None = None
    params: dict[str, Any] | None = None
    locale: str | None = None
    articles: list[CitedArticle] = Field(
        default=[], description="the Help Center articles the reply cites, with their current title and slug"
    )
    read: bool
    created_at: datetime


_EFFECT_COLUMNS = [effects.c[name] for name in Effect.model_fields]


class Outbox:
    """The effects table, shared by every API and worker process of the deployment."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(self, effect: Effect) -> Effect:
        """Insert ``effect`` unless its key is already recorded; return the stored row."""
        row = effect.model_dump(mode="python", exclude={"seq", "created_at"})
        row["kind"] = effect.kind.recorded_as
        row["created_at"] = datetime.now(UTC)
        statement = insert(self.engine, effects).values(row).on_conflict_do_nothing()
        async with self.engine.begin() as connection:
            await connection.execute(statement)
            stored = await connection.execute(
                sa.select(*_EFFECT_COLUMNS).where(effects.c.idempotency_key == effect.idempotency_key)
            )
            return Effect.model_validate(stored.one()._asdict())

    async def for_case(self, case_id: str, after: int = 0, limit: int | None = None) -> list[Effect]:
        """The effects of one case after the position ``after``, oldest first (at most ``limit``)."""
        query = (
            sa.select(*_EFFECT_COLUMNS)
            .where(effects.c.case_id == case_id, effects.c.seq > after)
            .order_by(effects.c.seq)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = await connection.execute(query)
            return [Effect.model_validate(row._asdict()) for row in rows]

    async def inbox(
        self, user_id: str, before: int | None = None, limit: int | None = None
    ) -> list[InboxItem]:
        """Care's replies addressed to ``user_id`` (Pesan Bantuan), newest first, with read state:
        those older than the message numbered ``before`` (its ``msg-<seq>``), at most ``limit``."""
        older = () if before is None else (effects.c.seq < before,)
        query = (
            sa.select(
                effects.c.seq,
                effects.c.case_id,
                effects.c.text,
                effects.c.template,
                effects.c.params,
                effects.c.locale,
                effects.c.articles,
                effects.c.created_at,
                inbox_reads.c.read_at,
            )
            .select_from(effects.outerjoin(inbox_reads, inbox_reads.c.seq == effects.c.seq))
            .where(*_inbox_of(user_id), *older)
            .order_by(effects.c.seq.desc())
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            cited = await _articles(connection, {i for row in rows for i in row.articles or []})
        return [
            InboxItem(
                seq=row.seq,
                id=f"msg-{row.seq}",
                case_id=row.case_id,
                text=row.text,
                template=row.template,
                params=row.params,
                locale=row.locale,
                articles=[cited[i] for i in row.articles or [] if i in cited],
                created_at=row.created_at,
                read=row.read_at is not None,
            )
            for row in rows
        ]

    async def mark_read(self, user_id: str, message_id: str) -> bool:
        """Mark one of the user's inbox messages read (idempotent); False if it is not theirs."""
        digits = message_id.removeprefix("msg-")
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
            return False
        seq = int(digits)
        message = sa.select(effects.c.seq, sa.literal(datetime.now(UTC), inbox_reads.c.read_at.type)).where(
            effects.c.seq == seq, *_inbox_of(user_id)
        )
        # One statement that writes first: no read-then-write race between hosts.
        statement = (
            insert(self.engine, inbox_reads)
            .from_select(["seq", "read_at"], message)
            .on_conflict_do_nothing(index_elements=["seq"])
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement)
            found = await connection.execute(
                sa.select(inbox_reads.c.seq)
                .join(effects, effects.c.seq == inbox_reads.c.seq)
                .where(inbox_reads.c.seq == seq, *_inbox_of(user_id))
            )
            return found.first() is not None


async def _articles(connection: AsyncConnection, ids: set[str]) -> dict[str, CitedArticle]:
    """The cited articles as they are now, whatever their status: a renamed one shows its new
    title, an archived one its last (the reply cited it when it was published)."""
    if not ids:
        return {}
    query = sa.select(help_articles.c.id, help_articles.c.slug, help_articles.c.title).where(
        help_articles.c.id.in_(sorted(ids))
    )
    return {
        row.id: CitedArticle(id=row.id, slug=row.slug, title=row.title)
        for row in await connection.execute(query)
    }


def _inbox_of(user_id: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        effects.c.party_id == user_id,
        effects.c.kind == EffectName.NOTIFICATION.recorded_as,
        effects.c.category == CARE_REPLY,
    )
