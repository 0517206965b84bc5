"""The read model: the case_views table, one row per case, open or closed, as its own steps last
stored it. Every request path reads a case here, never from its workflow.

A row is written by the case's publish step in the transaction of its timeline entries (and by
its archive step, the final row), and by the API once for the state it opened a case in. The
``version`` is the case's ``timeline_seq`` (it grows with every change); a write never replaces a
newer version, so retries, two workers and continue-as-new leave the highest one in place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.kinds import KINDS
from store.schema import case_views


class CaseView(BaseModel):
    """One case's row: its state (as JSON, without its timeline) and the columns lists filter on."""

    case_id: str
    kind: str
    version: int
    status: str
    closed: bool
    buyer_id: str | None = None
    seller_id: str | None = None
    order_id: str | None = None
    opened_at: datetime
    updated_at: datetime
    next_deadline_at: datetime | None = None
    sla_breached: bool = False
    needs_attention: bool = False
    assignee: str | None = None
    care_group: str | None = None
    state: dict[str, Any]


def view_of(kind: str, state: Any, updated_at: datetime) -> CaseView:
    """The row of ``state`` (a ``domain.case.CareCase`` of ``kind``) at its ``timeline_seq``."""
    return CaseView(
        case_id=state.id,
        kind=kind,
        version=state.timeline_seq,
        status=str(state.status),
        closed=state.closed,
        buyer_id=getattr(state, "buyer_id", None),
        seller_id=getattr(state, "seller_id", None),
        order_id=getattr(state, "order_id", None),
        opened_at=state.opened_at,
        updated_at=updated_at,
        next_deadline_at=state.next_deadline_at,
        sla_breached=state.sla_breached,
        needs_attention=state.needs_attention,
        assignee=state.assignee,
        care_group=state.care_group,
        state=state.model_dump(mode="json", exclude={"timeline"}),
    )


def compact(state: Any) -> dict[str, Any]:
    """``state`` as a publish step carries it in the case's history: no timeline, no computed
    fields, no field at its default (``view_from`` restores them); a few hundred bytes."""
    computed = set(type(state).model_computed_fields)
    dumped: dict[str, Any] = state.model_dump(
        mode="json", exclude={"timeline", *computed}, exclude_defaults=True
    )
    return dumped


def view_from(kind: str, state: dict[str, Any], updated_at: datetime) -> CaseView:
    """The row of a case of ``kind`` (its registered name) from its state as JSON (``compact``
    or whole)."""
    registered = next(k for k in KINDS if k.name == kind)
    return view_of(kind, registered.state.model_validate(state), updated_at)


async def write(connection: AsyncConnection, view: CaseView) -> bool:
    """Store ``view`` inside the caller's transaction unless the row holds a version at least as
    new; True when it was written."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    row = view.model_dump()
    statement = insert(case_views).values(row)
    upsert = statement.on_conflict_do_update(
        index_elements=["case_id"],
        set_={name: statement.excluded[name] for name in row if name != "case_id"},
        where=case_views.c.version < statement.excluded.version,
    ).returning(case_views.c.version)  # a row only when inserted or moved forward
    return (await connection.execute(upsert)).first() is not None


class CaseViews:
    """The case_views table: written forward only, read one case at a time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def write(self, view: CaseView) -> bool:
        """Store ``view`` unless a newer version of the case is stored; True when written."""
        async with self.engine.begin() as connection:
            return await write(connection, view)

    async def get(self, case_id: str) -> CaseView | None:
        """The case's row, or None for a case the read model does not know."""
        async with self.engine.connect() as connection:
            found = await connection.execute(sa.select(case_views).where(case_views.c.case_id == case_id))
            row = found.first()
        return None if row is None else CaseView.model_validate(row._asdict())
