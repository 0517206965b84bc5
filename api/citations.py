"""Evidence a request cites: each reference must be one ``POST /v1/evidence`` hands out, uploaded by
the citing party or already cited on the same case; checked before a case sees the request."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from api.problems import Problem
from api.public import CasePublic
from domain.types import EVIDENCE_REFERENCE_PATTERN, Actor, CitesArticles, CitesEvidence, EvidenceType
from store.evidence import EvidenceIndex
from store.help import HelpStore

NOT_A_REFERENCE = "not an evidence reference: cite what POST /v1/evidence returned (ev- and 32 hex digits)"


def cited(body: BaseModel, marker: type = CitesEvidence) -> dict[str, list[str]]:
    """The references ``body`` cites, per field marked ``marker`` (evidence: the fields typed
    ``EvidenceList``; Help Center articles: ``ArticleList``)."""
    return {
        name: list(getattr(body, name))
        for name, field in type(body).model_fields.items()
        if any(isinstance(found, marker) for found in field.metadata) and getattr(body, name)
    }


async def check_articles(body: BaseModel, help_store: HelpStore) -> None:
    """422 naming each field (``articles``) that cites an id that is no published Help Center
    article: a draft or archived one is not cited to users. One read for all of them."""
    fields = cited(body, CitesArticles)
    published = await help_store.existing([i for ids in fields.values() for i in ids], published_only=True)
    errors = [
        {"field": name, "reason": f"no published Help Center article: {', '.join(missing)}"}
        for name, ids in fields.items()
        if (missing := sorted(set(ids) - published))
    ]
    if errors:
        detail = "; ".join(f"{error['field']}: {error['reason']}" for error in errors)
        raise Problem(422, "Invalid input", detail, errors=errors)


def cited_on(case: CasePublic) -> set[str]:
    """Every evidence reference the case cites: on the case itself and anywhere on its timeline."""
    found = {str(item) for field in ("evidence", "attachments") for item in getattr(case, field, [])}
    for entry in case.timeline:
        for field in ("evidence", "attachments"):
            value: Any = entry.detail.get(field)
            if isinstance(value, list):
                found.update(item for item in value if isinstance(item, str))
    return found


async def check(
    body: BaseModel,
    by: Actor,
    index: EvidenceIndex,
    case_id: str | None = None,
    on_case: Callable[[], Awaitable[set[str]]] | None = None,
) -> dict[str, EvidenceType]:
    """422 naming each field whose reference has the wrong form, or is neither ``by``'s own upload
    nor cited on ``case_id`` already (``on_case`` reads those, only when needed). An unknown
    reference and another party's get the same answer: a refusal tells nothing about others.

    Answers the type each cited reference's upload gave it (the case keeps them: ``with_types``)."""
    refused: dict[str, str] = {}
    foreign: dict[str, str] = {}
    types: dict[str, EvidenceType] = {}
    for name, references in cited(body).items():
        for position, reference in enumerate(references):
            field = f"{name}.{position}"
            if not re.fullmatch(EVIDENCE_REFERENCE_PATTERN, reference):
                refused[field] = NOT_A_REFERENCE
                continue
            meta = await index.get(reference)
            if meta is not None:
                types[reference] = meta.type
            if meta is None or meta.uploaded_by != by:
                foreign[field] = reference
    if foreign and on_case is not None:
        already = await on_case()
        foreign = {field: reference for field, reference in foreign.items() if reference not in already}
    where = f" nor cited on {case_id}" if case_id else ""
    for field, reference in foreign.items():
        refused[field] = f"{reference} is no evidence uploaded by {by.role.value} {by.id}{where}"
    if refused:
        errors = [{"field": field, "reason": refused[field]} for field in sorted(refused, key=_position)]
        detail = "; ".join(f"{error['field']}: {error['reason']}" for error in errors)
        raise Problem(422, "Invalid input", detail, errors=errors)
    return types


BodyT = TypeVar("BodyT", bound=BaseModel)


def with_types(body: BodyT, types: dict[str, EvidenceType]) -> BodyT:
    """``body`` carrying the types of the evidence it cites, from their uploads (whatever a client
    put there is replaced), when its model carries them (``EvidenceTypes``)."""
    if "evidence_types" not in type(body).model_fields:
        return body
    return body.model_copy(update={"evidence_types": types})


def _position(field: str) -> tuple[str, int]:
    name, _, position = field.rpartition(".")
    return name, int(position)
