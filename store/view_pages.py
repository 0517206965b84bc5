"""Cursor pages over the read model (``case_views``): the case lists, the care queue, a store-level
read of one case.

**Why keyset pages over an immutable key.** A list is read as keyset pages: each page asks for the
rows after the sort key of the last row of the page before (``next_cursor``), never for an offset.
The default order is ``(opened_at, case_id)``, newest first. Neither part ever changes once a case
is open, so while a platform pages through, a case that changes keeps its place: every case that
existed when the pass began is on exactly one page of it, whatever happens to it in between (an
offset would shift under inserts and show a case twice or skip one). A case opened during the pass
sorts before the cursor and shows up in the next pass. A filter on a column that changes (``status``,
``assignee``) is checked when the page is read: a case that leaves the filter between two pages is not
on a later one, and one that enters it shows up once if its key is still ahead of the cursor.

**What ``updated_after`` gives.** With ``updated_after`` the order is ``(updated_at, case_id)``,
oldest change first, and only cases changed at or after that time are listed: a platform keeps the
``updated_at`` of the last case it took (minus a small margin for changes still being committed,
say a minute) and asks again from there, receiving every case changed since, each in its latest
version. In this order a case that changes again during the pass moves behind the cursor and is
listed again with its newer ``version`` (at least once, the latest last); dedupe by ``(id, version)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import case_views

#: The largest page any list gives.
MAX_LIMIT = 500
#: The most rows the care queue sorts at once (it orders by due time, which lives in the state).
QUEUE_CAP = 50_000

v = case_views.c


def _text(*path: str) -> sa.ColumnElement[Any]:
    """A text field of the stored view (``state``), by its JSON path."""
    field: sa.ColumnElement[Any] = (v.state[path[0]] if len(path) == 1 else v.state[path]).as_string()
    return field


#: Fields of the stored view the lists show besides the columns. Each is read whether the row keeps
#: the case's state (``care_clock.due_at``) or its public view (``care_reply_due_at``).
_FROM_STATE: dict[str, sa.ColumnElement[Any]] = {
    "user_id": _text("user_id"),
    "topic": _text("topic"),
    "priority": _text("priority"),
    "care_reply_due_at": sa.func.coalesce(_text("care_reply_due_at"), _text("care_clock", "due_at")),
    "care_decision_due_at": sa.func.coalesce(
        _text("care_decision_due_at"), _text("decision_clock", "due_at")
    ),
    # requests for information and holds that pause care's targets, as JSON text ("[]": none)
    "pauses": _text("pauses"),
}
_COLUMNS = [
    v.case_id,
    v.kind,
    v.version,
    v.status,
    v.closed,
    v.buyer_id,
    v.seller_id,
    v.order_id,
    v.opened_at,
    v.updated_at,
    v.next_deadline_at,
    v.sla_breached,
    v.needs_attention,
    v.assignee,
    v.care_group,
    *(column.label(name) for name, column in _FROM_STATE.items()),
]


class CaseRow(BaseModel):
    """One case as a list shows it: the read model's columns and a few fields of its stored view."""

    case_id: str
    kind: str
    version: int
    status: str
    closed: bool
    buyer_id: str | None
    seller_id: str | None
    order_id: str | None
    opened_at: datetime
    updated_at: datetime
    next_deadline_at: datetime | None
    sla_breached: bool
    needs_attention: bool
    assignee: str | None
    care_group: str | None
    user_id: str | None
    topic: str | None
    priority: str | None
    care_reply_due_at: datetime | None
    care_decision_due_at: datetime | None
    pauses: str | None = None

    @property
    def paused(self) -> bool:
        """Whether a care target of the case waits (a party asked for information, a hold)."""
        return self.pauses not in (None, "", "[]", "null")


class Order(StrEnum):
    """The order of a list, and the tag its cursors carry (a cursor of one order is refused in another)."""

    #: ``(opened_at, case_id)``, newest first: every case once per pass.
    OPENED = "o"
    #: ``(updated_at, case_id)``, oldest change first: what changed since a sync (``updated_after``).
    UPDATED = "u"


#: Where a page starts: after the row with this sort key (its time and its case id).
Key = tuple[datetime, str]


@dataclass(frozen=True)
class CaseFilter:
    """Which cases of one kind a list shows; unset fields do not filter."""

    kind: str
    buyer_id: str | None = None
    seller_id: str | None = None
    order_id: str | None = None
    #: A report's user (kept in the stored view).
    user_id: str | None = None
    statuses: tuple[str, ...] = ()
    #: A report's topic (kept in the stored view).
    topic: str | None = None
    assignee: str | None = None
    #: Only cases nobody owns (``assignee=none``).
    unassigned: bool = False
    care_group: str | None = None
    opened_after: datetime | None = None
    opened_before: datetime | None = None
    #: At or after this time (inclusive, so a change at the same instant as the last one seen is not
    #: missed); sets the order to ``Order.UPDATED``.
    updated_after: datetime | None = None

    @property
    def order(self) -> Order:
        """The order this filter lists in."""
        return Order.OPENED if self.updated_after is None else Order.UPDATED

    def where(self) -> list[sa.ColumnElement[bool]]:
        """The SQL conditions of this filter."""
        # With a party, an order or an owner named, its own index finds the few cases: the kind is
        # then compared as an expression, so SQLite (no statistics by default) does not walk the
        # kind's paging index instead, reading every case of the kind to find them.
        named = any(
            value is not None
            for value in (self.buyer_id, self.seller_id, self.order_id, self.assignee, self.care_group)
        )
        kind = v.kind.concat("") if named else v.kind
        conditions: list[sa.ColumnElement[bool]] = [kind == self.kind]
        for column, value in (
            (v.buyer_id, self.buyer_id),
            (v.seller_id, self.seller_id),
            (v.order_id, self.order_id),
            (v.assignee, self.assignee),
            (v.care_group, self.care_group),
            (_FROM_STATE["user_id"], self.user_id),
            (_FROM_STATE["topic"], self.topic),
        ):
            if value is not None:
                conditions.append(column == value)
        if self.statuses:
            conditions.append(v.status.in_(self.statuses))
        if self.unassigned:
            conditions.append(v.assignee.is_(None))
        if self.opened_after is not None:
            conditions.append(v.opened_at > self.opened_after)
        if self.opened_before is not None:
            conditions.append(v.opened_at < self.opened_before)
        if self.updated_after is not None:
            conditions.append(v.updated_at >= self.updated_after)
        return conditions


def key_of(row: CaseRow, order: Order) -> Key:
    """The sort key of ``row`` in ``order`` (what its cursor holds)."""
    return (row.opened_at if order is Order.OPENED else row.updated_at, row.case_id)


class CaseViews:
    """Reads of the read model, shared by every API process of the deployment."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def page(
        self, where: CaseFilter, limit: int, after: Key | None = None
    ) -> tuple[list[CaseRow], bool]:
        """Up to ``limit`` (at most ``MAX_LIMIT``) cases matching ``where`` in its order, after the
        key ``after``; and whether more follow."""
        limit = max(1, min(limit, MAX_LIMIT))
        at = v.opened_at if where.order is Order.OPENED else v.updated_at
        conditions = where.where()
        if where.order is Order.OPENED:
            order_by = [v.kind, at.desc(), v.case_id.desc()]
            if after is not None:
                conditions.append(sa.tuple_(at, v.case_id) < sa.tuple_(*_bound(after)))
        else:
            order_by = [v.kind, at, v.case_id]
            if after is not None:
                conditions.append(sa.tuple_(at, v.case_id) > sa.tuple_(*_bound(after)))
        query = sa.select(*_COLUMNS).where(*conditions).order_by(*order_by).limit(limit + 1)
        rows = await self._read(query)
        return rows[:limit], len(rows) > limit

    async def matching(self, where: CaseFilter, cap: int = QUEUE_CAP) -> list[CaseRow]:
        """Every case matching ``where`` (at most ``cap``), in no order: for a list ordered by
        what only the stored view holds (the care queue's due times)."""
        return await self._read(sa.select(*_COLUMNS).where(*where.where()).limit(cap))

    async def get(self, case_id: str) -> CaseRow | None:
        """One case's row, or None."""
        found = await self._read(sa.select(*_COLUMNS).where(v.case_id == case_id))
        return found[0] if found else None

    async def _read(self, query: sa.Select[Any]) -> list[CaseRow]:
        """The rows of one statement, outside a transaction: one statement sees one snapshot
        anyway, and PostgreSQL is spared a BEGIN and a ROLLBACK round trip per read."""
        async with self.engine.connect() as connection:
            reading = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return [CaseRow.model_validate(row._asdict()) for row in await reading.execute(query)]


def _bound(key: Key) -> tuple[sa.BindParameter[Any], sa.BindParameter[Any]]:
    """The key as parameters typed like its columns (the time stored as the table stores it)."""
    return sa.bindparam(None, key[0], type_=v.opened_at.type), sa.bindparam(
        None, key[1], type_=v.case_id.type
    )
