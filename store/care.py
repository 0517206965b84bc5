"""The care workspace's own rows: care's private notes on cases and the saved replies (macros).

Neither goes through a case's workflow. A note is kept here only, so nothing a party, a receiver
or Temporal sees can hold it; a macro is filled and applied through the case's normal actions
(api/routes/care_macros.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.types import Actor, Role
from store.schema import care_macros, care_notes


class CareNote(BaseModel):
    """One private note of care on a case."""

    seq: int
    id: str
    case_id: str
    kind: str
    author: Actor
    api_key: str
    text: str
    created_at: datetime


class MacroAction(BaseModel):
    """An action a macro takes after its reply: a registered action's name and its body (the
    actor is the one who applies the macro)."""

    name: str
    body: dict[str, Any] = {}


class MacroFields(BaseModel):
    """What a supervisor writes: a macro's name and locale, the kind it is for (any if unset), its
    text with placeholders, and its optional action."""

    name: str
    locale: str
    kind: str | None = None
    text: str
    action: MacroAction | None = None


class Macro(MacroFields):
    """A saved reply as it is now."""

    seq: int
    id: str
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class MacroNameTaken(Exception):
    """Another macro has this name in this locale."""


class CareNotes:
    """The care_notes table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(
        self, case_id: str, kind: str, author: Actor, api_key: str, text: str, at: datetime
    ) -> CareNote:
        """Keep a new note on ``case_id``; it is read back as stored."""
        row = {
            "id": "note-" + uuid.uuid4().hex[:16],
            "case_id": case_id,
            "kind": kind,
            "author_role": author.role.value,
            "author_id": author.id,
            "api_key": api_key,
            "text": text,
            "created_at": at,
        }
        async with self.engine.begin() as connection:
            await connection.execute(care_notes.insert().values(row))
            stored = await connection.execute(sa.select(care_notes).where(care_notes.c.id == row["id"]))
            return _note(stored.one())

    async def for_case(self, case_id: str, after: int | None, limit: int) -> list[CareNote]:
        """The notes on ``case_id`` oldest first, those after ``after`` (a seq), at most ``limit``."""
        query = sa.select(care_notes).where(care_notes.c.case_id == case_id)
        if after is not None:
            query = query.where(care_notes.c.seq > after)
        async with self.engine.connect() as connection:
            rows = await connection.execute(query.order_by(care_notes.c.seq).limit(limit))
            return [_note(row) for row in rows]


def _note(row: Any) -> CareNote:
    return CareNote(
        seq=row.seq,
        id=row.id,
        case_id=row.case_id,
        kind=row.kind,
        author=Actor(role=Role(row.author_role), id=row.author_id),
        api_key=row.api_key,
        text=row.text,
        created_at=row.created_at,
    )


class CareMacros:
    """The care_macros table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, fields: MacroFields, by: str, at: datetime) -> Macro:
        """A new macro at version 1; MacroNameTaken when its name is taken in its locale."""
        row = _row(fields) | {
            "id": "mac-" + uuid.uuid4().hex[:16],
            "version": 1,
            "created_at": at,
            "created_by": by,
            "updated_at": at,
            "updated_by": by,
        }
        try:
            async with self.engine.begin() as connection:
                await connection.execute(care_macros.insert().values(row))
        except sa.exc.IntegrityError as error:
            raise MacroNameTaken(_taken(fields)) from error
        found = await self.get(row["id"])
        assert found is not None
        return found

    async def replace(self, macro_id: str, fields: MacroFields, by: str, at: datetime) -> Macro | None:
        """The macro with ``fields`` in place of its own, one version on (unchanged fields keep
        the version); None when there is no such macro, MacroNameTaken as for ``create``."""
        current = await self.get(macro_id)
        if current is None:
            return None
        if MacroFields.model_validate(current.model_dump()) == fields:
            return current
        try:
            async with self.engine.begin() as connection:
                await connection.execute(
                    care_macros.update()
                    .where(care_macros.c.id == macro_id)
                    .values(
                        _row(fields)
                        | {"version": care_macros.c.version + 1, "updated_at": at, "updated_by": by}
                    )
                )
        except sa.exc.IntegrityError as error:
            raise MacroNameTaken(_taken(fields)) from error
        return await self.get(macro_id)

    async def get(self, macro_id: str) -> Macro | None:
        """The macro called ``macro_id``, if there is one."""
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(care_macros).where(care_macros.c.id == macro_id))
            ).first()
        return _macro(row) if row is not None else None

    async def list(
        self, *, locale: str | None, kind: str | None, after: int | None, limit: int
    ) -> Sequence[Macro]:
        """Macros in the order they were made, filtered by locale and by the kind they fit (a
        macro for any kind fits each), those after ``after`` (a seq), at most ``limit``."""
        c = care_macros.c
        query = sa.select(care_macros)
        if locale is not None:
            query = query.where(c.locale == locale)
        if kind is not None:
            query = query.where(sa.or_(c.kind == kind, c.kind.is_(None)))
        if after is not None:
            query = query.where(c.seq > after)
        async with self.engine.connect() as connection:
            rows = await connection.execute(query.order_by(c.seq).limit(limit))
            return [_macro(row) for row in rows]


def _row(fields: MacroFields) -> dict[str, Any]:
    return fields.model_dump(mode="json")


def _taken(fields: MacroFields) -> str:
    return f"a macro called {fields.name!r} exists in locale {fields.locale}"


def _macro(row: Any) -> Macro:
    return Macro.model_validate(row._asdict())
