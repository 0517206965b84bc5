"""A durable local outbox (SQLite): every outside effect, applied once per idempotency key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
from pydantic import BaseModel

from activities.models import Effect, EffectKind, InboxItem
from domain.case import TimelineEntry

CARE_REPLY = "care_reply"

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
    category TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS effects_case ON effects (case_id, seq);
CREATE INDEX IF NOT EXISTS effects_party ON effects (party_id, category, seq);
CREATE TABLE IF NOT EXISTS inbox_reads (
    seq INTEGER PRIMARY KEY REFERENCES effects (seq),
    read_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    digest TEXT PRIMARY KEY,
    request_line TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status_code INTEGER,
    response TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS timeline_entries (
    case_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);
"""


@asynccontextmanager
async def sqlite_db(path: Path, schema: str) -> AsyncIterator[aiosqlite.Connection]:
    """One connection to a local SQLite store, with its schema, closed whatever happens (an
    activity cancelled at worker shutdown included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(path, timeout=30) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.executescript(schema)
        yield db


class KeyRecord(BaseModel):
    """An earlier request with the same Idempotency-Key, and its response once it has one."""

    request_line: str
    fingerprint: str
    status_code: int | None
    response: str | None


_COLUMNS = "case_id, kind, party, party_id, amount, text, category, idempotency_key, created_at"


class Outbox:
    """The effects table in one SQLite file; safe to share between worker and API processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _db(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        return sqlite_db(self.path, _SCHEMA)

    async def record(self, effect: Effect) -> Effect:
        """Insert ``effect`` unless its key is already recorded; return the stored row."""
        now = datetime.now(UTC).isoformat()
        async with self._db() as db:
            await db.execute(
                f"INSERT OR IGNORE INTO effects ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    effect.case_id,
                    effect.kind.value,
                    effect.party,
                    effect.party_id,
                    effect.amount,
                    effect.text,
                    effect.category,
                    effect.idempotency_key,
                    now,
                ),
            )
            await db.commit()
            rows = await self._select(db, "idempotency_key = ?", effect.idempotency_key)
        return rows[0]

    async def for_case(self, case_id: str) -> list[Effect]:
        """Every effect of one case, oldest first."""
        async with self._db() as db:
            return await self._select(db, "case_id = ?", case_id)

    async def inbox(self, user_id: str) -> list[InboxItem]:
        """Care's replies addressed to ``user_id`` (Pesan Bantuan), newest first, with read state."""
        async with self._db() as db:
            cursor = await db.execute(
                "SELECT e.seq, e.case_id, e.text, e.created_at, r.read_at FROM effects e"
                " LEFT JOIN inbox_reads r ON r.seq = e.seq"
                " WHERE e.party_id = ? AND e.kind = ? AND e.category = ? ORDER BY e.seq DESC",
                (user_id, EffectKind.NOTIFICATION.value, CARE_REPLY),
            )
            rows = await cursor.fetchall()
        return [
            InboxItem(
                id=f"msg-{seq}", case_id=case_id, text=text, created_at=created_at, read=read_at is not None
            )
            for seq, case_id, text, created_at, read_at in rows
        ]

    async def mark_read(self, user_id: str, message_id: str) -> bool:
        """Mark one of the user's inbox messages read (idempotent); False if it is not theirs."""
        seq = int(message_id.removeprefix("msg-")) if message_id.removeprefix("msg-").isdigit() else -1
        async with self._db() as db:
            cursor = await db.execute(
                "SELECT 1 FROM effects WHERE seq = ? AND party_id = ? AND kind = ? AND category = ?",
                (seq, user_id, EffectKind.NOTIFICATION.value, CARE_REPLY),
            )
            if await cursor.fetchone() is None:
                return False
            await db.execute(
                "INSERT OR IGNORE INTO inbox_reads (seq, read_at) VALUES (?, ?)",
                (seq, datetime.now(UTC).isoformat()),
            )
            await db.commit()
        return True

    async def append_timeline(self, case_id: str, entries: list[TimelineEntry]) -> None:
        """Keep a case's timeline entries; writing an entry again (a retried step) changes nothing."""
        if not entries:
            return
        async with self._db() as db:
            await db.executemany(
                "INSERT OR IGNORE INTO timeline_entries (case_id, seq, entry) VALUES (?, ?, ?)",
                [(case_id, entry.seq, entry.model_dump_json()) for entry in entries],
            )
            await db.commit()

    async def timeline(self, case_id: str) -> list[TimelineEntry]:
        """Every stored timeline entry of one case, in order."""
        async with self._db() as db:
            cursor = await db.execute(
                "SELECT entry FROM timeline_entries WHERE case_id = ? ORDER BY seq", (case_id,)
            )
            return [TimelineEntry.model_validate_json(row[0]) for row in await cursor.fetchall()]

    async def claim_key(self, digest: str, request_line: str, fingerprint: str) -> KeyRecord | None:
        """Record a keyed request unless its key is recorded already; the earlier record if it is."""
        async with self._db() as db:
            await db.execute(
                "INSERT OR IGNORE INTO idempotency_keys (digest, request_line, fingerprint, created_at)"
                " VALUES (?, ?, ?, ?)",
                (digest, request_line, fingerprint, datetime.now(UTC).isoformat()),
            )
            await db.commit()
            cursor = await db.execute(
                "SELECT request_line, fingerprint, status_code, response FROM idempotency_keys"
                " WHERE digest = ?",
                (digest,),
            )
            row = await cursor.fetchone()
        assert row is not None
        record = KeyRecord(request_line=row[0], fingerprint=row[1], status_code=row[2], response=row[3])
        return None if record.fingerprint == fingerprint and record.status_code is None else record

    async def complete_key(self, digest: str, status_code: int, response: str) -> None:
        """Keep the response of a keyed request, for its retries."""
        async with self._db() as db:
            await db.execute(
                "UPDATE idempotency_keys SET status_code = ?, response = ? WHERE digest = ?",
                (status_code, response, digest),
            )
            await db.commit()

    async def release_key(self, digest: str) -> None:
        """Forget a keyed request that was refused, so the key can be sent again."""
        async with self._db() as db:
            await db.execute(
                "DELETE FROM idempotency_keys WHERE digest = ? AND status_code IS NULL", (digest,)
            )
            await db.commit()

    @staticmethod
    async def _select(db: aiosqlite.Connection, where: str, value: str) -> list[Effect]:
        cursor = await db.execute(f"SELECT seq, {_COLUMNS} FROM effects WHERE {where} ORDER BY seq", (value,))
        names = ["seq", *(c.strip() for c in _COLUMNS.split(","))]
        return [Effect.model_validate(dict(zip(names, row, strict=True))) for row in await cursor.fetchall()]
