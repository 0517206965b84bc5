"""IdempotencyKeyWorkflow: one per Idempotency-Key, holding the first request's fingerprint."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow


class KeyRecord(BaseModel):
    """Which caller used a key for which request (the fingerprint is also in the memo)."""

    caller: str
    request: str
    fingerprint: str


@workflow.defn
class IdempotencyKeyWorkflow:
    """Completes at once; its id (never reusable while the namespace retains it) is the dedupe record."""

    @workflow.run
    async def run(self, record: KeyRecord) -> KeyRecord:
        """Record the key's first request."""
        return record
