"""The action routes of a kind of case, made from its registry: one POST per registered action."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from api.cases import Cases, CasesDep, CaseType
from domain.registry import ActionSpec


def add_action_routes(router: APIRouter, kind: CaseType[Any, Any], response_model: type[Any]) -> None:
    """``POST /{case id}/{path}`` for every action ``kind`` has registered, in registry order."""
    for spec in kind.actions:
        router.add_api_route(
            f"/{{{kind.path_param}}}/{spec.path}",
            _endpoint(kind, spec),
            methods=["POST"],
            response_model=response_model,
            summary=spec.summary,
            description=f"Action `{spec.name}` ({', '.join(sorted(role.value for role in spec.roles))}).",
            operation_id=f"{kind.noun}_{spec.name}",
        )


def _endpoint(kind: CaseType[Any, Any], spec: ActionSpec[Any]) -> Any:
    async def endpoint(**arguments: Any) -> JSONResponse:
        cases: Cases = arguments["cases"]
        case_id: str = arguments[kind.path_param]
        return await cases.keyed(lambda: cases.act(kind, case_id, arguments["command"]))

    # FastAPI reads the parameters from the signature: the path id, the action's body, the cases.
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                kind.path_param,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[str, Path(description=f"the {kind.noun}'s id")],
            ),
            inspect.Parameter("command", inspect.Parameter.KEYWORD_ONLY, annotation=spec.command),
            inspect.Parameter("cases", inspect.Parameter.KEYWORD_ONLY, annotation=CasesDep),
        ]
    )
    endpoint.__name__ = f"{kind.noun}_{spec.name}"
    endpoint.__doc__ = spec.summary
    return endpoint
