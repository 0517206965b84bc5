"""Evidence metadata: who uploaded which file, when, its type, size, hash (the bytes: blob store)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.types import EVIDENCE_REFERENCE_PATTERN, Actor, EvidenceType
from store.db import insert
from store.schema import evidence

REFERENCE_PATTERN = EVIDENCE_REFERENCE_PATTERN


class EvidenceMeta(BaseModel):
    """What is known about a stored evidence file."""

    reference: str = Field(pattern=REFERENCE_PATTERN, description="what cases cite: random, one per upload")
    sha256: str = Field(description="SHA-256 of the bytes, hex (several uploads may share it)")
    size: int = Field(description="bytes")
    content_type: str = Field(description="sniffed from the bytes")
    uploaded_by: Actor
    caller: str = Field(description="the API key holder that uploaded it")
    created_at: datetime
    type: EvidenceType = Field(default=EvidenceType.OTHER, description="what the file shows, as uploaded")


class EvidenceIndex:
    """The evidence table: one row per upload, shared by every host."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, meta: EvidenceMeta) -> EvidenceMeta:
        """Record ``meta`` unless its reference is recorded (a random reference never is); the first
        record stays and is returned."""
        row = meta.model_dump(exclude={"uploaded_by"}) | {
            "uploaded_by_role": meta.uploaded_by.role.value,
            "uploaded_by_id": meta.uploaded_by.id,
        }
        async with self.engine.begin() as connection:
            await connection.execute(insert(self.engine, evidence).values(row).on_conflict_do_nothing())
        stored = await self.get(meta.reference)
        assert stored is not None, f"evidence {meta.reference} vanished as it was recorded"
        return stored

    async def get(self, reference: str) -> EvidenceMeta | None:
        """The metadata of one file, or None."""
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(evidence).where(evidence.c.reference == reference))
            ).first()
        if row is None:
            return None
        return EvidenceMeta(
            reference=row.reference,
            sha256=row.sha256,
            size=row.size,
            content_type=row.content_type,
            uploaded_by=Actor.model_validate({"role": row.uploaded_by_role, "id": row.uploaded_by_id}),
            caller=row.caller,
            created_at=row.created_at,
            type=EvidenceType(row.type) if row.type in EvidenceType.__members__ else EvidenceType.OTHER,
        )
