""".../{case id}/care/notes on every kind of case: care's private notes.

A note is kept in the service database only (``care_notes``), written by the API and never sent
to the case's workflow: no party read, inbox, notice, webhook, event feed, Temporal history,
summary, details or search attribute can hold one. Care, supervisor and admin keys write and read
them; a platform key is refused (403)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.auth import Caller
from api.cases import Cases, CasesDep, ReadCasesDep
from api.deps import NowDep
from api.kinds import SERVED, ServedKind
from api.paging import CursorParam, Limit, Page, decode_cursor, page_of
from api.problems import Problem
from core.settings import KeyRole
from domain.types import Actor
from store.care import CareNote, CareNotes

NOTES = Counter("care_notes_total", "Private notes care wrote on cases", ["kind"])

#: Something besides white space, and no control character but tab, LF and CR (api/limits.py
#: refuses those in every body; the pattern says both, so the OpenAPI document does too).
_CONTROL = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"
NOT_BLANK = f"^[^{_CONTROL}]*[^\\s{_CONTROL}][^{_CONTROL}]*$"
#: A note's text: as long as a care reply, with something besides white space.
NoteText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4000, pattern=NOT_BLANK),
    Field(description="plain text, 1-4000 characters, not only white space; shown as written"),
]


class NewNote(BaseModel):
    """A private note: who writes it (a care agent, a supervisor, an operator) and what."""

    model_config = ConfigDict(extra="forbid")

    actor: Actor
    text: NoteText


class NotePublic(BaseModel):
    """A private note as care reads it."""

    id: str
    case_id: str
    actor: Actor
    text: str
    created_at: datetime

    @classmethod
    def of(cls, note: CareNote) -> NotePublic:
        """What care sees of a stored note (the API key that wrote it stays in the store)."""
        return cls(
            id=note.id, case_id=note.case_id, actor=note.author, text=note.text, created_at=note.created_at
        )


def staff_only(caller: Caller, what: str) -> None:
    """403 for a platform key: ``what`` is for care, supervisor and admin keys only."""
    if caller.role is KeyRole.PLATFORM:
        raise Problem(403, "Forbidden", f"{what} are for care, supervisor and admin keys")


def _path_id(kind: ServedKind) -> inspect.Parameter:
    return inspect.Parameter(
        kind.path_param,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[str, Path(description=f"the {kind.noun}'s id")],
    )


def _signed(endpoint: Callable[..., Any], name: str, doc: str, *parameters: inspect.Parameter) -> Any:
    """``endpoint`` with the signature FastAPI reads its parameters from."""
    endpoint.__signature__ = inspect.Signature(list(parameters))  # type: ignore[attr-defined]
    endpoint.__name__ = name
    endpoint.__doc__ = doc
    return endpoint


def _keyword(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _writing(kind: ServedKind) -> Any:
    async def endpoint(**arguments: Any) -> JSONResponse:
        cases: Cases = arguments["cases"]
        note: NewNote = arguments["note"]
        case_id: str = arguments[kind.path_param]
        staff_only(cases.caller, "notes")
        cases.caller.authorize(note.actor)  # a care key writes as care, an admin key as operator

        async def write() -> tuple[BaseModel, int]:
            await cases.read(kind, case_id)  # 404 for no such case (or one of another kind)
            stored = await CareNotes(cases.engine).add(
                case_id, kind.name, note.actor, cases.caller.name, note.text, arguments["now"]
            )
            NOTES.labels(kind.name).inc()
            return NotePublic.of(stored), status.HTTP_201_CREATED

        return await cases.keyed(write)

    return _signed(
        endpoint,
        f"{kind.name}_care_note_write",
        f"Write a private note on a {kind.noun}: only care, supervisors and operators ever read it.",
        _path_id(kind),
        _keyword("note", NewNote),
        _keyword("cases", CasesDep),
        _keyword("now", NowDep),
    )


def _reading(kind: ServedKind) -> Any:
    async def endpoint(**arguments: Any) -> Page[NotePublic]:
        cases: Cases = arguments["cases"]
        case_id: str = arguments[kind.path_param]
        staff_only(cases.caller, "notes")
        after = decode_cursor(arguments["cursor"], (int,))
        await cases.read(kind, case_id)  # 404 for no such case
        limit: int = arguments["limit"]
        notes = await CareNotes(cases.engine).for_case(case_id, after[0] if after else None, limit + 1)
        shown, cursor = page_of(notes, limit, lambda note: (note.seq,))
        return Page[NotePublic](items=[NotePublic.of(note) for note in shown], next_cursor=cursor)

    return _signed(
        endpoint,
        f"{kind.name}_care_notes_read",
        f"Care's private notes on a {kind.noun}, oldest first, a page at a time.",
        _path_id(kind),
        _keyword("cases", ReadCasesDep),
        _keyword("cursor", CursorParam, None),
        _keyword("limit", Limit, 100),
    )


def router() -> APIRouter:
    """``POST`` and ``GET`` ``/{case id}/care/notes`` under each served kind's path."""
    routes = APIRouter(tags=["care"])
    for kind in SERVED.values():
        path = f"{kind.path}/{{{kind.path_param}}}/care/notes"
        routes.add_api_route(
            path,
            _writing(kind),
            methods=["POST"],
            status_code=status.HTTP_201_CREATED,
            response_model=NotePublic,
            summary=f"Write a private note on a {kind.noun}",
            description="Care, supervisor and admin keys only. The note is kept in the service database"
            " only: it never reaches a party, a notice, a webhook, the event feed or Temporal.",
            operation_id=f"{kind.name}_care_note_write",
        )
        routes.add_api_route(
            path,
            _reading(kind),
            methods=["GET"],
            response_model=Page[NotePublic],
            summary=f"Read care's private notes on a {kind.noun}",
            description="Care, supervisor and admin keys only; oldest first, paged with next_cursor.",
            operation_id=f"{kind.name}_care_notes_read",
        )
    return routes
