"""Idempotency-Key records of requests that are not case actions (webhook subscriptions, inbox
read marks, evidence uploads, event batches): a retry finds the first request and its answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import insert
from store.schema import idempotency_keys


class IdempotencyRecord(BaseModel):
    """A key as first used: by whom, for which request (its fingerprint), and the answer once given."""

    digest: str
    caller: str
    request_line: str
    fingerprint: str
    status_code: int | None = None
    response: Any = None
    created_at: datetime


class Claim(NamedTuple):
    """The key's record, and whether this claim created it (False: a retry, or a reuse)."""

    record: IdempotencyRecord
    created: bool


class IdempotencyKeys:
    """The idempotency_keys table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def claim(
        self, digest: str, caller: str, request_line: str, fingerprint: str, now: datetime | None = None
    ) -> Claim:
        """Record the key for this request, or find it recorded: atomic on both engines (INSERT ...
        ON CONFLICT DO NOTHING, then SELECT), so of two hosts racing with one key exactly one
        creates it. The caller compares the fingerprint to refuse a key reused for another request."""
        row = {
            "digest": digest,
            "caller": caller,
            "request_line": request_line,
            "fingerprint": fingerprint,
            "created_at": now or datetime.now(UTC),
        }
        statement = (
            insert(self.engine, idempotency_keys)
            .values(row)
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.digest)  # a row only when this call inserted it
        )
        async with self.engine.begin() as connection:
            created = (await connection.execute(statement)).first() is not None
            found = await connection.execute(
                sa.select(idempotency_keys).where(idempotency_keys.c.digest == digest)
            )
            record = IdempotencyRecord.model_validate(found.one()._asdict())
        return Claim(record, created)

    async def complete(self, digest: str, status_code: int, response: Any) -> bool:
        """Store the answer given under the key (JSON); the first answer stays. False when the key
        is unknown or already answered."""
        k = idempotency_keys.c
        statement = (
            sa.update(idempotency_keys)
            .where(k.digest == digest, k.status_code.is_(None))
            .values(status_code=status_code, response=response)
        )
        async with self.engine.begin() as connection:
            return (await connection.execute(statement)).rowcount == 1

    async def release(self, digest: str) -> None:
        """Forget a key whose request was refused (4xx) before it had an answer, so the caller can
        send the corrected request with the same key."""
        k = idempotency_keys.c
        async with self.engine.begin() as connection:
            await connection.execute(
                sa.delete(idempotency_keys).where(k.digest == digest, k.status_code.is_(None))
            )

    async def get(self, digest: str) -> IdempotencyRecord | None:
        """The key's record, or None."""
        async with self.engine.connect() as connection:
            found = await connection.execute(
                sa.select(idempotency_keys).where(idempotency_keys.c.digest == digest)
            )
            row = found.first()
        return None if row is None else IdempotencyRecord.model_validate(row._asdict())
