"""A durable local outbox (SQLite): every outside effect, applied once per idempotency key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from activities.models import Effect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    party TEXT,
    party_id TEXT,
    amount INTEGER,
    text TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS effects_case ON effects (case_id, seq);
"""
_COLUMNS = "case_id, kind, party, party_id, amount, text, idempotency_key, created_at"


class Outbox:
    """The effects table in one SQLite file; safe to share between worker and API processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def _connect(self) -> aiosqlite.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, timeout=30)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.executescript(_SCHEMA)
        return db

    async def record(self, effect: Effect) -> Effect:
        """Insert ``effect`` unless its key is already recorded; return the stored row."""
        now = datetime.now(UTC).isoformat()
        db = await self._connect()
        try:
            await db.execute(
                f"INSERT OR IGNORE INTO effects ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    effect.case_id,
                    effect.kind.value,
                    effect.party,
                    effect.party_id,
                    effect.amount,
                    effect.text,
                    effect.idempotency_key,
                    now,
                ),
            )
            await db.commit()
            rows = await self._select(db, "idempotency_key = ?", effect.idempotency_key)
        finally:
            await db.close()
        return rows[0]

    async def for_case(self, case_id: str) -> list[Effect]:
        """Every effect of one case, oldest first."""
        db = await self._connect()
        try:
            return await self._select(db, "case_id = ?", case_id)
        finally:
            await db.close()

    @staticmethod
    async def _select(db: aiosqlite.Connection, where: str, value: str) -> list[Effect]:
        cursor = await db.execute(f"SELECT {_COLUMNS} FROM effects WHERE {where} ORDER BY seq", (value,))
        names = [c.strip() for c in _COLUMNS.split(",")]
        return [Effect.model_validate(dict(zip(names, row, strict=True))) for row in await cursor.fetchall()]
