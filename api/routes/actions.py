"""The routes every kind of case has, made from the kind (``api/kinds.py``) and its registry:
open one, read one, and one POST per registered action."""

from __future__ import annotations

import inspect
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse

from api.auth import ReadAsDep
from api.cases import Cases, CasesDep, ReadCasesDep
from api.deps import NowDep
from api.kinds import ServedKind
from api.public import CasePublic
from domain.registry import ActionSpec


class OpeningHooks(Protocol):
    """What a kind's opening checks before the case starts and records once it has (a report's
    Help Center articles read first)."""

    async def check(self, cases: Cases, claim: Any) -> None:
        """Refuse the opening (a ``Problem``) before anything starts."""

    async def opened(self, cases: Cases, claim: Any, case_id: str, now: datetime) -> None:
        """Record what follows from the case having opened (or having been found opened)."""


def add_case_routes(router: APIRouter, kind: ServedKind, hooks: OpeningHooks | None = None) -> None:
    """``POST ""`` opens a case of ``kind``, ``GET /{case id}`` reads one, and ``POST /{case
    id}/{path}`` takes each action the kind has registered, in registry order."""
    router.add_api_route(
        "",
        _opening(kind, hooks),
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        response_model=kind.public,
        responses={200: {"model": kind.public, "description": f"the {kind.noun} this key already has"}},
        summary=f"Open a {kind.noun}",
        description=f"{_OPENING_DOC.format(noun=kind.noun)} {kind.opening_rules} {_UNSTATED}",
        operation_id=f"{kind.name}_open",
    )
    router.add_api_route(
        f"/{{{kind.path_param}}}",
        _reading(kind),
        methods=["GET"],
        response_model=kind.public,
        summary=f"Read a {kind.noun}",
        operation_id=f"{kind.name}_read",
    )
    for spec in kind.actions:
        router.add_api_route(
            f"/{{{kind.path_param}}}/{spec.path}",
            _acting(kind, spec),
            methods=["POST"],
            response_model=kind.public,
            responses={
                202: {
                    "model": kind.public,
                    "description": "applied, but not yet stored (rare): the case at an older version (stale)",
                }
            },
            summary=spec.summary,
            description=f"Action `{spec.name}` ({', '.join(sorted(role.value for role in spec.roles))})."
            f" {_ACTION_RULES} {_UNSTATED}",
            operation_id=f"{kind.noun}_{spec.name}",
        )


_OPENING_DOC = "Open a {noun}; its opener must be a party the API key acts for."
_ACTION_RULES = (
    "An amount is at most the order total and not below what was already paid out; cited evidence is"
    " the actor's own upload or already cited on the case."
)
_UNSTATED = "What the schema cannot state is refused with 422 naming the field."


def _path_id(kind: ServedKind) -> inspect.Parameter:
    return inspect.Parameter(
        kind.path_param,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[str, Path(description=f"the {kind.noun}'s id")],
    )


def _opening(kind: ServedKind, hooks: OpeningHooks | None) -> Any:
    async def endpoint(claim: Any, cases: Cases, now: datetime) -> JSONResponse:
        cases.caller.authorize(kind.opener(claim))
        if hooks is not None:
            await hooks.check(cases, claim)
        # A case without a business key gets its id from the Idempotency-Key: a retry opens nothing new.
        key = None if kind.business_key else (cases.key_digest or uuid.uuid4().hex)[:16]
        response = await cases.keyed(lambda: cases.open(kind, claim, key))
        if hooks is not None and response.status_code < status.HTTP_300_MULTIPLE_CHOICES:
            await hooks.opened(cases, claim, json.loads(bytes(response.body))["id"], now)
        return response

    # FastAPI reads the parameters from the signature: the kind's opening body, the cases.
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("claim", inspect.Parameter.KEYWORD_ONLY, annotation=kind.claim),
            inspect.Parameter("cases", inspect.Parameter.KEYWORD_ONLY, annotation=CasesDep),
            inspect.Parameter("now", inspect.Parameter.KEYWORD_ONLY, annotation=NowDep),
        ]
    )
    endpoint.__name__ = f"open_{kind.name}"
    endpoint.__doc__ = (
        f"Open a {kind.noun}; its opener must be the party the key acts for. A repeat with the"
        " Idempotency-Key that opened it gets the first 201"
        + (", and a repeat for the same business key the existing case (200)." if kind.business_key else ".")
    )
    return endpoint


def _reading(kind: ServedKind) -> Any:
    async def endpoint(**arguments: Any) -> CasePublic:
        cases: Cases = arguments["cases"]
        return await cases.read(kind, arguments[kind.path_param], arguments["reader"])

    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            _path_id(kind),
            inspect.Parameter("cases", inspect.Parameter.KEYWORD_ONLY, annotation=ReadCasesDep),
            inspect.Parameter("reader", inspect.Parameter.KEYWORD_ONLY, annotation=ReadAsDep),
        ]
    )
    endpoint.__name__ = f"read_{kind.name}"
    endpoint.__doc__ = (
        f"The whole {kind.noun}: status, allowed actions per role, deadlines, timeline; read as a"
        " party (actor_role and actor_id), 403 unless it is one."
    )
    return endpoint


def _acting(kind: ServedKind, spec: ActionSpec[Any]) -> Any:
    async def endpoint(**arguments: Any) -> JSONResponse:
        cases: Cases = arguments["cases"]
        case_id: str = arguments[kind.path_param]
        return await cases.keyed(lambda: cases.act(kind, case_id, arguments["command"]))

    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            _path_id(kind),
            inspect.Parameter("command", inspect.Parameter.KEYWORD_ONLY, annotation=spec.command),
            inspect.Parameter("cases", inspect.Parameter.KEYWORD_ONLY, annotation=CasesDep),
        ]
    )
    endpoint.__name__ = f"{kind.noun}_{spec.name}"
    endpoint.__doc__ = spec.summary
    return endpoint
