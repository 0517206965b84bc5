"""Cases outside Temporal: their timelines, the last known state of open ones, the archive of
closed ones, and the order → dispute registry. Every write is safe to repeat (activities retry)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.case import TimelineEntry
from domain.types import Actor
from store import heads, views
from store.db import insert
from store.schema import case_archive, case_snapshots, dispute_orders, timeline_entries
from store.views import CaseView, CaseViews, view_from


class ArchiveInput(BaseModel):
    """A closed case as it ended, for the archive: its final state, what of its timeline is not
    stored yet, and the keyed requests it ran (so retries after it is gone still get answers)."""

    case_id: str
    kind: str
    order_id: str | None
    buyer_id: str | None = None
    seller_id: str | None = None
    status: str
    opened_at: datetime
    closed_at: datetime
    state: dict[str, Any]
    timeline: list[TimelineEntry] = []
    requests: dict[str, Any] = {}


class Timelines:
    """The timeline_entries table: a case's audit trail, entry by entry, as the workflow hands it out."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def append(
        self, case_id: str, entries: Sequence[TimelineEntry], view: CaseView | None = None
    ) -> None:
        """Store the entries, and the case's read-model row ``view`` when given, in one
        transaction; an entry already stored at its (case, seq) is left as it is and an older row
        replaces no newer one, so a retried activity writes the same rows again harmlessly."""
        if not entries:
            if view is not None:
                await CaseViews(self.engine).write(view)
            return
        rows = [
            {
                "case_id": case_id,
                "seq": entry.seq,
                "at": entry.at,
                "event": entry.event,
                "actor_role": entry.actor.role.value if entry.actor else None,
                "actor_id": entry.actor.id if entry.actor else None,
                "status": entry.status,
                "detail": entry.detail,
            }
            for entry in entries
        ]
        statement = insert(self.engine, timeline_entries).on_conflict_do_nothing(
            index_elements=["case_id", "seq"]
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement, rows)
            await heads.advance(connection, case_id, entries)  # the gauges' view of the case
            if view is not None:
                await views.write(connection, view)  # the read model's row, never an older one

    async def for_case(self, case_id: str, after_seq: int | None = None) -> list[TimelineEntry]:
        """The case's entries in order; only those after ``after_seq`` when given."""
        t = timeline_entries.c
        query = sa.select(t.seq, t.at, t.event, t.actor_role, t.actor_id, t.status, t.detail).where(
            t.case_id == case_id
        )
        if after_seq is not None:
            query = query.where(t.seq > after_seq)
        async with self.engine.connect() as connection:
            rows = await connection.execute(query.order_by(t.seq))
            return [
                TimelineEntry(
                    seq=row.seq,
                    at=row.at,
                    event=row.event,
                    actor=Actor(role=row.actor_role, id=row.actor_id) if row.actor_role else None,
                    status=row.status,
                    detail=row.detail or {},
                )
                for row in rows
            ]


class CaseSnapshot(BaseModel):
    """The last known state of an open case, as of a version of it."""

    case_id: str
    kind: str
    state: dict[str, Any]
    version: int
    as_of: datetime


class CaseSnapshots:
    """The case_snapshots table: only ever moves forward."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def save(self, snapshot: CaseSnapshot) -> bool:
        """Keep ``snapshot`` if it is newer (a higher version) than the stored one; True if kept.

        An archived case keeps no snapshot: a late save after the case closed is dropped."""
        row = snapshot.model_dump()
        statement = insert(self.engine, case_snapshots).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["case_id"],
            set_={name: statement.excluded[name] for name in row if name != "case_id"},
            where=case_snapshots.c.version < statement.excluded.version,
        ).returning(case_snapshots.c.version)  # a row only when inserted or moved forward
        archived = sa.select(case_archive.c.case_id).where(case_archive.c.case_id == snapshot.case_id)
        async with self.engine.begin() as connection:
            saved = (await connection.execute(statement)).first() is not None
            late = await connection.execute(
                sa.delete(case_snapshots).where(
                    case_snapshots.c.case_id == snapshot.case_id, archived.exists()
                )
            )
        return saved and late.rowcount == 0

    async def get(self, case_id: str) -> CaseSnapshot | None:
        """The case's snapshot, or None."""
        async with self.engine.connect() as connection:
            found = await connection.execute(
                sa.select(case_snapshots).where(case_snapshots.c.case_id == case_id)
            )
            row = found.first()
        return None if row is None else CaseSnapshot.model_validate(row._asdict())


class ArchivedCase(BaseModel):
    """A closed case as it ended: final state, and the idempotency records retries still need."""

    case_id: str
    kind: str
    order_id: str | None = None
    status: str
    closed_at: datetime
    state: dict[str, Any]
    idempotency: dict[str, Any] = {}


class CaseArchive:
    """The case_archive table: written once when a case closes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def archive(self, case: ArchivedCase) -> ArchivedCase:
        """Archive the case unless it is archived already (the first archive stays and is
        returned); its snapshot goes, the archive answers for it from now on."""
        statement = insert(self.engine, case_archive).values(case.model_dump()).on_conflict_do_nothing()
        async with self.engine.begin() as connection:
            await connection.execute(statement)
            await connection.execute(
                sa.delete(case_snapshots).where(case_snapshots.c.case_id == case.case_id)
            )
            await heads.forget(connection, case.case_id)
        stored = await self.get(case.case_id)
        assert stored is not None, f"{case.case_id} vanished as it was archived"
        return stored

    async def get(self, case_id: str) -> ArchivedCase | None:
        """The archived case, or None when it is not closed (or unknown)."""
        async with self.engine.connect() as connection:
            found = await connection.execute(sa.select(case_archive).where(case_archive.c.case_id == case_id))
            row = found.first()
        return None if row is None else ArchivedCase.model_validate(row._asdict())


class DisputeOrder(BaseModel):
    """Which dispute an order has, between whom, and whether it is closed."""

    order_id: str
    dispute_id: str
    buyer_id: str
    seller_id: str
    status: str
    opened_at: datetime
    closed_at: datetime | None = None


class DisputeOrders:
    """The dispute_orders table: one dispute per order."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def register(self, order: DisputeOrder) -> DisputeOrder:
        """Register the order's dispute, unless the order has one: the registered one is returned."""
        statement = insert(self.engine, dispute_orders).values(order.model_dump()).on_conflict_do_nothing()
        async with self.engine.begin() as connection:
            await connection.execute(statement)
        stored = await self.get(order.order_id)
        assert stored is not None, f"order {order.order_id} vanished as it was registered"
        return stored

    async def close(self, order_id: str, status: str, closed_at: datetime) -> DisputeOrder | None:
        """Record how the order's dispute closed (the first close stays); None for an unknown order."""
        o = dispute_orders.c
        statement = (
            sa.update(dispute_orders)
            .where(o.order_id == order_id, o.closed_at.is_(None))
            .values(status=status, closed_at=closed_at)
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement)
        return await self.get(order_id)

    async def get(self, order_id: str) -> DisputeOrder | None:
        """The order's dispute, or None."""
        async with self.engine.connect() as connection:
            found = await connection.execute(
                sa.select(dispute_orders).where(dispute_orders.c.order_id == order_id)
            )
            row = found.first()
        return None if row is None else DisputeOrder.model_validate(row._asdict())


class CaseStore:
    """What the workflow's steps keep of a case (activities.effects.CaseRecords): its timeline, and its
    archive when it closes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.timelines = Timelines(engine)
        self.archived = CaseArchive(engine)
        self.orders = DisputeOrders(engine)

    async def store_change(
        self, case_id: str, entries: Sequence[TimelineEntry], view: CaseView | None = None
    ) -> None:
        """Store the timeline entries a step hands over and the case's read-model row, in one
        transaction (idempotent; an older row never replaces a newer one)."""
        await self.timelines.append(case_id, entries, view)

    async def archive(self, closed: ArchiveInput) -> None:
        """Archive a closed case (idempotent): its last timeline entries, the case, and for a
        dispute the order's registry row, so the order never gets a second dispute."""
        final = view_from(closed.kind, closed.state, closed.closed_at)  # the closed row, kept for good
        await self.timelines.append(closed.case_id, closed.timeline, final)
        await self.archived.archive(
            ArchivedCase(
                case_id=closed.case_id,
                kind=closed.kind,
                order_id=closed.order_id,
                status=closed.status,
                closed_at=closed.closed_at,
                state=closed.state,
                idempotency=closed.requests,
            )
        )
        if closed.kind == "dispute" and closed.order_id and closed.buyer_id and closed.seller_id:
            await self.orders.register(
                DisputeOrder(
                    order_id=closed.order_id,
                    dispute_id=closed.case_id,
                    buyer_id=closed.buyer_id,
                    seller_id=closed.seller_id,
                    status=closed.status,
                    opened_at=closed.opened_at,
                )
            )
            await self.orders.close(closed.order_id, closed.status, closed.closed_at)
