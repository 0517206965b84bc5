"""/v1/care/macros: saved replies, and ``.../{case id}/care/macros/{macro_id}/apply`` on every kind.

Supervisors and admins keep named replies per locale, with placeholders filled from the case
(``domain/macros.py``: ``{order_id}``, ``{buyer_id}``, ...) and an optional action of the case's
registry taken after the reply (``{"name": "solve", "body": {}}``). Care keys read them and apply
them. Applying is the case's own care reply (its timeline entry names the macro) and then the
action, each through the normal action path, as if care had posted them one after the other."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from api.auth import Caller, CallerDep
from api.cases import Answer, Cases, CasesDep
from api.deps import EngineDep, NowDep
from api.kinds import SERVED, ServedKind
from api.paging import CursorParam, Limit, Page, decode_cursor, page_of
from api.problems import Problem, invalid
from api.public import CasePublic
from api.routes.care_notes import NOT_BLANK, staff_only
from core.settings import KeyRole
from domain.commands import Action, Command
from domain.help import Locale
from domain.macros import MissingValue, fill, fill_body, known, placeholders, rupiah, strings
from domain.registry import ActionSpec
from domain.types import IDENTIFIER_PATTERN, Actor, Role, Text, at_minute
from store.care import CareMacros, Macro, MacroAction, MacroFields, MacroNameTaken

router = APIRouter(prefix="/v1/care/macros", tags=["care"])

APPLIED = Counter("care_macros_applied_total", "Saved replies (macros) care applied to cases", ["kind"])

#: The action a macro's text is sent with: each kind's care reply to its parties.
REPLY = Action.REPLY
if any(REPLY not in served.actions for served in SERVED.values()):
    raise RuntimeError(f"every served kind must register the care reply {REPLY!r} to apply macros")
#: Who writes macros: supervisors and admins (care keys read and apply them).
_WRITERS = {KeyRole.SUPERVISOR, KeyRole.ADMIN}
#: A macro's actor is care (a supervisor key acts as care too): its reply, and its action.
_CARE = Actor(role=Role.CARE, id="macro-check")


#: The actions a macro may take after its reply: those care takes on some kind, but the reply.
AFTER_REPLY = sorted(
    {spec.name for served in SERVED.values() for spec in served.actions if Role.CARE in spec.roles} - {REPLY}
)


class MacroKind(StrEnum):
    """The kind of case a macro is for: every served kind (checked below)."""

    DISPUTE = "dispute"
    TICKET = "ticket"


if set(MacroKind) != set(SERVED):
    raise RuntimeError(f"the macros' kinds {sorted(MacroKind)} are not the served {sorted(SERVED)}")

MacroIdParam = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, description="the macro's id (mac-...)")]


class MacroActionBody(BaseModel):
    """An action of the case's registry taken after the reply, with its body less the actor (the
    one who applies the macro). Placeholders in its strings are filled like the text's."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = Field(
        description="a registered action care takes on the case's kind (refused, 422, when the macro's kind"
        " has none of that name)",
        examples=["solve"],
        json_schema_extra={"enum": list(AFTER_REPLY)},
    )
    body: dict[str, Any] = Field(default={}, description="the action's body without actor")


class MacroBody(BaseModel):
    """A saved reply: its name (unique per locale), its locale, the kind of case it is for (any
    when unset), its text with placeholders, and an optional action taken after the reply."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=NOT_BLANK)]
    locale: Locale
    kind: MacroKind | None = Field(
        default=None, description="dispute or ticket; unset: any kind (placeholders of either)"
    )
    text: Text = Field(description="the reply; {placeholder}s are filled from the case when applied")
    action: MacroActionBody | None = None


class MacroPublic(BaseModel):
    """A saved reply as care reads it."""

    id: str
    name: str
    locale: Locale
    kind: MacroKind | None
    text: str
    action: MacroActionBody | None
    placeholders: list[str] = Field(description="the placeholders its text uses")
    version: int
    created_at: datetime
    created_by: str = Field(description="the API key name that made it")
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, macro: Macro) -> MacroPublic:
        """What a stored macro shows."""
        return cls(
            id=macro.id,
            name=macro.name,
            locale=Locale(macro.locale),
            kind=MacroKind(macro.kind) if macro.kind else None,
            text=macro.text,
            action=MacroActionBody(**macro.action.model_dump()) if macro.action else None,
            placeholders=placeholders(macro.text),
            version=macro.version,
            created_at=macro.created_at,
            created_by=macro.created_by,
            updated_at=macro.updated_at,
            updated_by=macro.updated_by,
        )


class ApplyMacro(BaseModel):
    """Who applies the macro: the care agent (or supervisor) its reply and action are sent as."""

    model_config = ConfigDict(extra="forbid")

    actor: Actor


# -- the placeholders: what each kind fills them with ------------------------------------------


def _party_due(view: CasePublic) -> str | None:
    """The nearest deadline a party (not care) has on the case now."""
    parties = (Role.BUYER, Role.SELLER, Role.USER)
    due = [d.due_at for d in view.deadlines if d.party in parties and d.due_at is not None]
    return at_minute(min(due)) if due else None


def _dispute_values(view: Any) -> dict[str, str | None]:
    return {
        "case_id": view.id,
        "status": str(view.status),
        "order_id": view.order_id,
        "buyer_id": view.buyer_id,
        "seller_id": view.seller_id,
        "order_total": rupiah(view.order_total),
        "due_at": _party_due(view),
    }


def _ticket_values(view: Any) -> dict[str, str | None]:
    return {
        "case_id": view.id,
        "status": str(view.status),
        "user_id": view.user_id,
        "topic": str(view.topic),
        "order_id": view.order_id,
        "due_at": _party_due(view),
    }


#: Each kind's placeholder values from its case as read (the names ``domain.macros`` documents).
VALUES: dict[str, Callable[[Any], dict[str, str | None]]] = {
    "dispute": _dispute_values,
    "ticket": _ticket_values,
}
if set(VALUES) != set(SERVED):
    raise RuntimeError(f"placeholder values for {sorted(VALUES)}, served kinds {sorted(SERVED)}")


# -- checks when a macro is saved ----------------------------------------------------------------

#: What a placeholder stands for while a macro's action body is checked before it is saved.
_SAMPLE = {"due_at": "2026-01-01 00:00 UTC", "order_total": "Rp1"}


def _unknown(text: str, kind: str | None, field: str) -> None:
    allowed = known(kind)
    for name in placeholders(text):
        if name not in allowed:
            scope = f"a {kind} macro" if kind else "a macro"
            raise invalid(
                field,
                f"unknown placeholder {{{name}}}: {scope} may use "
                + ", ".join(f"{{{known_name}}}" for known_name in allowed),
            )


def _errors(error: ValidationError, prefix: str) -> Problem:
    errors = [
        {"field": ".".join([prefix, *(str(part) for part in item["loc"])]), "reason": item["msg"]}
        for item in error.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return Problem(422, "Invalid input", detail, errors=errors)


def check(body: MacroBody) -> None:
    """Refuse (422 naming the field) a macro that could never be applied: an unknown placeholder,
    an action no kind it is for has or care does not take, or an action body that does not fit."""
    kind = body.kind.value if body.kind else None
    _unknown(body.text, kind, "text")
    if body.action is None:
        return
    name = body.action.name
    if name == REPLY:
        raise invalid("action.name", "the reply is the macro's text: choose the action taken after it")
    kinds = [SERVED[kind]] if kind else list(SERVED.values())
    specs = [spec for served in kinds if (spec := served.actions.get(name)) is not None]
    if not specs:
        raise invalid("action.name", f"no {kind or 'kind of case'} has an action {name!r}")
    if not any(Role.CARE in spec.roles for spec in specs):
        raise invalid("action.name", f"{name!r} is not an action care takes")
    if "actor" in body.action.body:
        raise invalid("action.body.actor", "the actor is whoever applies the macro: leave it out")
    for path, text in strings(body.action.body):
        _unknown(text, kind, ".".join(["action.body", *path]))
    sample = {placeholder: _SAMPLE.get(placeholder, "x-1") for placeholder in known(kind)}
    filled = fill_body(body.action.body, sample)
    failure: ValidationError | None = None
    for spec in specs:
        try:
            spec.command.model_validate(filled | {"actor": _CARE.model_dump()})
            return
        except ValidationError as error:
            failure = failure or error
    assert failure is not None
    raise _errors(failure, "action.body")


# -- the macros ----------------------------------------------------------------------------------


def _writer(caller: Caller) -> None:
    staff_only(caller, "macros")
    if caller.role not in _WRITERS:
        raise Problem(
            403, "Forbidden", f"macros are written by supervisor and admin keys, not {caller.role.value}"
        )


def _fields(body: MacroBody) -> MacroFields:
    return MacroFields(
        name=body.name,
        locale=body.locale.value,
        kind=body.kind.value if body.kind else None,
        text=body.text,
        action=MacroAction(**body.action.model_dump()) if body.action else None,
    )


def _taken(error: MacroNameTaken) -> Problem:
    return Problem(409, "Conflict", str(error), errors=[{"field": "name", "reason": str(error)}])


async def _found(engine: Any, macro_id: str) -> Macro:
    macro = await CareMacros(engine).get(macro_id)
    if macro is None:
        raise Problem(404, "Not found", f"no macro {macro_id}")
    return macro


_PLACEHOLDER_DOC = " ".join(
    f"A {kind} macro may use " + ", ".join(f"`{{{name}}}`" for name in names) + "."
    for kind, names in ((kind, known(kind)) for kind in SERVED)
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MacroPublic,
    description="Supervisor and admin keys. A name is unique per locale (409). "
    + _PLACEHOLDER_DOC
    + " A macro for any kind may use those of either; an unknown placeholder is refused (422 naming"
    " `text`), as is an action no kind it is for has (422 naming `action.name`).",
)
async def create_macro(body: MacroBody, cases: CasesDep, now: NowDep) -> JSONResponse:
    """Save a reply (supervisor and admin keys)."""
    _writer(cases.caller)
    check(body)

    async def create() -> tuple[BaseModel, int]:
        try:
            macro = await CareMacros(cases.engine).create(_fields(body), cases.caller.name, now)
        except MacroNameTaken as error:
            raise _taken(error) from None
        return MacroPublic.of(macro), status.HTTP_201_CREATED

    return await cases.keyed(create)


@router.get("")
async def list_macros(
    caller: CallerDep,
    engine: EngineDep,
    locale: Locale | None = None,
    kind: Annotated[MacroKind | None, Query(description="those that fit this kind (and any kind)")] = None,
    cursor: CursorParam = None,
    limit: Limit = 100,
) -> Page[MacroPublic]:
    """The saved replies, oldest first (care, supervisor and admin keys)."""
    staff_only(caller, "macros")
    after = decode_cursor(cursor, (int,))
    found = await CareMacros(engine).list(
        locale=locale.value if locale else None,
        kind=kind.value if kind else None,
        after=after[0] if after else None,
        limit=limit + 1,
    )
    shown, next_cursor = page_of(found, limit, lambda macro: (macro.seq,))
    return Page[MacroPublic](items=[MacroPublic.of(macro) for macro in shown], next_cursor=next_cursor)


@router.get("/{macro_id}")
async def read_macro(macro_id: MacroIdParam, caller: CallerDep, engine: EngineDep) -> MacroPublic:
    """One saved reply (care, supervisor and admin keys)."""
    staff_only(caller, "macros")
    return MacroPublic.of(await _found(engine, macro_id))


@router.put("/{macro_id}")
async def replace_macro(
    macro_id: MacroIdParam, body: MacroBody, caller: CallerDep, engine: EngineDep, now: NowDep
) -> MacroPublic:
    """Replace a saved reply's fields (supervisor and admin keys); its version goes up by one
    when anything changed. Checked as when it is saved."""
    _writer(caller)
    check(body)
    try:
        macro = await CareMacros(engine).replace(macro_id, _fields(body), caller.name, now)
    except MacroNameTaken as error:
        raise _taken(error) from None
    if macro is None:
        raise Problem(404, "Not found", f"no macro {macro_id}")
    return MacroPublic.of(macro)


# -- applying one to a case ----------------------------------------------------------------------


def _filled(text: str, values: Mapping[str, str | None], field: str, kind: ServedKind) -> str:
    try:
        return fill(text, values)
    except MissingValue as missing:
        reason = (
            f"{{{missing.name}}} is no placeholder of a {kind.noun}"
            if missing.name not in values
            else f"{{{missing.name}}} has no value on this {kind.noun} now"
        )
        raise invalid(field, reason) from None


def _command(spec: ActionSpec[Any], body: dict[str, Any], prefix: str) -> Command:
    try:
        command: Command = spec.command.model_validate(body)
    except ValidationError as error:
        raise _errors(error, prefix) from None
    return command


def _step(cases: Cases, step: str) -> Cases:
    """The request's access for one of its steps: a keyed apply keys each step apart, so a retry
    of it runs each step once (the case remembers each by its own key)."""
    if cases.idempotency_key is None:
        return cases
    return dataclasses.replace(cases, idempotency_key=f"{cases.idempotency_key}\0macro:{step}")


async def apply_macro(kind: ServedKind, case_id: str, macro_id: str, actor: Actor, cases: Cases) -> Answer:
    """Fill the macro from the case, send its reply (naming the macro), then take its action."""
    macro = await _found(cases.engine, macro_id)
    view = await cases.read(kind, case_id)  # 404 for no such case
    if macro.kind not in (None, kind.name):
        raise invalid("macro_id", f"macro {macro.id} is for {macro.kind} cases, not a {kind.noun}")
    values = VALUES[kind.name](view)
    reply_spec = kind.actions.get(REPLY)
    assert reply_spec is not None  # checked when this module loads
    text = _filled(macro.text, values, "text", kind)
    reply = _command(reply_spec, {"actor": actor, "text": text, "macro_id": macro.id}, "text")
    follow: Command | None = None
    if macro.action is not None:
        spec = kind.actions.get(macro.action.name)
        if spec is None:
            raise invalid("action.name", f"a {kind.noun} has no action {macro.action.name!r}")
        for path, value in strings(macro.action.body):
            _filled(value, values, ".".join(["action.body", *path]), kind)
        follow = _command(spec, fill_body(macro.action.body, values) | {"actor": actor}, "action.body")
    answer = await _step(cases, REPLY).act(kind, case_id, reply)
    if follow is not None:
        shown = answer[0]
        assert isinstance(shown, CasePublic)
        if not shown.stale and follow.action not in shown.allowed_actions.get(actor.role, []):
            raise Problem(
                409,
                "Invalid transition",
                f"the reply of macro {macro.id} was sent; {follow.action} is not allowed on {case_id} now"
                f" ({shown.status})",
                current_status=shown.status,
                allowed_actions={role.value: names for role, names in shown.allowed_actions.items()},
                applied=[REPLY],
            )
        answer = await _step(cases, follow.action).act(kind, case_id, follow)
    APPLIED.labels(kind.name).inc()
    return answer


def _applying(kind: ServedKind) -> Any:
    async def endpoint(**arguments: Any) -> JSONResponse:
        cases: Cases = arguments["cases"]
        body: ApplyMacro = arguments["body"]
        staff_only(cases.caller, "macros")
        cases.caller.authorize(body.actor)
        return await cases.keyed(
            lambda: apply_macro(kind, arguments[kind.path_param], arguments["macro_id"], body.actor, cases)
        )

    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                kind.path_param,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[str, Path(description=f"the {kind.noun}'s id")],
            ),
            inspect.Parameter("macro_id", inspect.Parameter.KEYWORD_ONLY, annotation=MacroIdParam),
            inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=ApplyMacro),
            inspect.Parameter("cases", inspect.Parameter.KEYWORD_ONLY, annotation=CasesDep),
        ]
    )
    endpoint.__name__ = f"{kind.name}_care_macro_apply"
    endpoint.__doc__ = f"Apply a saved reply to a {kind.noun}."
    return endpoint


_APPLY_DOC = (
    "Care and supervisor keys. The macro's text, its placeholders filled from the {noun}, is sent as"
    " care's reply (its timeline entry's detail names `macro_id`), then its action, if it has one, is"
    " taken; each as its own action would be. A placeholder without a value on the case is refused (422"
    " naming `text`), and so is an action the kind does not have (422 naming `action.name`). When the"
    ' reply was sent but the action is not allowed then: 409 with `applied: ["reply"]`; a retry with the'
    " same Idempotency-Key sends the reply once."
)


def case_router() -> APIRouter:
    """``POST /{case id}/care/macros/{macro_id}/apply`` under each served kind's path."""
    routes = APIRouter(tags=["care"])
    for kind in SERVED.values():
        routes.add_api_route(
            f"{kind.path}/{{{kind.path_param}}}/care/macros/{{macro_id}}/apply",
            _applying(kind),
            methods=["POST"],
            response_model=kind.public,
            responses={
                202: {"model": kind.public, "description": "applied; the case as last stored (stale)"}
            },
            summary=f"Apply a saved reply to a {kind.noun}",
            description=_APPLY_DOC.format(noun=kind.noun),
            operation_id=f"{kind.name}_care_macro_apply",
        )
    return routes
