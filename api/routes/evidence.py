"""/v1/evidence: upload photos, video and PDFs that cases cite, and download them for a case."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api.auth import CallerDep, ReadAsDep
from api.cases import Answer, Cases, ReadCasesDep
from api.citations import cited_on
from api.deps import EngineDep, SettingsDep, TemporalClientDep
from api.kinds import served_for
from api.problems import Problem, invalid
from core.settings import KeyRole
from domain.types import IDENTIFIER_PATTERN, Actor, EvidenceType, Role
from store.blobstore import ACCEPTED_TYPES, EvidenceStore, blob_store, sniff
from store.evidence import EvidenceMeta

router = APIRouter(prefix="/v1/evidence", tags=["evidence"])

#: Room in a request beyond the file itself: multipart boundaries, part headers, the actor fields.
_ENVELOPE_BYTES = 64 * 1024
_ACCEPTED = "a photo (JPEG, PNG, WebP, GIF, HEIC), a video (MP4, MOV, WebM) or a PDF"


class EvidenceReceipt(BaseModel):
    """A stored evidence file: cite ``reference`` in a dispute, message, appeal or report, as the
    party that uploaded it (or on a case that already cites it)."""

    reference: str = Field(description="random, one per upload")
    sha256: str = Field(description="SHA-256 of the bytes, hex")
    size: int
    content_type: str
    type: EvidenceType = Field(description="what the file shows, as the uploader said (OTHER unless given)")
    created_at: datetime


class EvidenceDetails(EvidenceReceipt):
    """What is known about a cited file; who uploaded it is shown to admin keys only."""

    uploaded_by: Actor | None = Field(default=None, description="admin keys only")
    caller: str | None = Field(default=None, description="the uploading API key's name; admin keys only")


def _store(settings: SettingsDep, engine: EngineDep) -> EvidenceStore:
    return EvidenceStore(blob_store(settings), engine)


EvidenceStoreDep = Annotated[EvidenceStore, Depends(_store)]

_UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "actor_role", "actor_id"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "minLength": 1,
                            "description": _ACCEPTED,
                        },
                        "actor_role": {"type": "string", "enum": [role.value for role in Role]},
                        "actor_id": {"type": "string", "pattern": IDENTIFIER_PATTERN},
                        "evidence_type": {
                            "type": "string",
                            "enum": [kind.value for kind in EvidenceType],
                            "default": EvidenceType.OTHER.value,
                            "description": "what the file shows (also accepted as a query parameter)",
                        },
                    },
                }
            }
        },
    }
}


def _too_large(limit: int, *, whole_body: bool = False) -> Problem:
    detail = (
        f"the request body is larger than a file of {limit} bytes needs"
        if whole_body
        else f"the file is larger than {limit} bytes"
    )
    return Problem(
        413,
        "Content too large",
        detail,
        errors=[{"field": "file", "reason": f"larger than {limit} bytes"}],
        max_bytes=limit,
    )


async def _bounded(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    """The request body, cut off with 413 as soon as it outgrows ``limit`` (nothing unbounded is held)."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit + _ENVELOPE_BYTES:
            raise _too_large(limit, whole_body=True)
        yield chunk


async def _read_form(request: Request, limit: int) -> FormData:
    content_type = request.headers.get("content-type")
    if not (content_type or "").lower().startswith("multipart/form-data"):
        given = f"Content-Type {content_type}" if content_type else "no Content-Type"
        reason = f"{given}: send multipart/form-data"
        raise Problem(
            415,
            "Unsupported media type",
            f"{reason} with a file: {_ACCEPTED}",
            errors=[{"field": "Content-Type", "reason": reason}],
        )
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit + _ENVELOPE_BYTES:
        raise _too_large(limit, whole_body=True)
    parser = MultiPartParser(request.headers, _bounded(request, limit), max_files=1, max_fields=8)
    try:
        return await parser.parse()
    except MultiPartException as error:
        raise invalid("body", str(error)) from None


def _evidence_type(form: FormData, query: str | None) -> EvidenceType:
    """What the file shows: the ``evidence_type`` form field or query parameter (OTHER if neither)."""
    given = form.get("evidence_type")
    if given is not None and not isinstance(given, str):
        raise invalid("evidence_type", "a form field, not a file")
    if given is not None and query is not None and given != query:
        raise invalid("evidence_type", f"the form says {given}, the query {query}: give one")
    value = given if given is not None else query
    if value is None:
        return EvidenceType.OTHER
    if value not in EvidenceType.__members__:
        raise invalid("evidence_type", f"one of {', '.join(EvidenceType)}, not {value[:40]!r}")
    return EvidenceType(value)


def _uploader(form: FormData) -> Actor:
    """The actor named by the ``actor_role`` and ``actor_id`` form fields."""
    fields = {"role": form.get("actor_role"), "id": form.get("actor_id")}
    try:
        return Actor.model_validate(fields)
    except ValidationError as error:
        errors = [
            {
                "field": f"actor_{item['loc'][0]}",
                "reason": "required" if fields.get(str(item["loc"][0])) is None else item["msg"],
            }
            for item in error.errors()
        ]
        raise Problem(
            422, "Invalid input", "; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors=errors
        ) from None


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD_FORM,
    response_model=EvidenceReceipt,
    responses={413: {"description": "the file is too large"}, 415: {"description": "not an accepted type"}},
)
async def upload(
    request: Request,
    caller: CallerDep,
    settings: SettingsDep,
    client: TemporalClientDep,
    store: EvidenceStoreDep,
    engine: EngineDep,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=1, max_length=255, description="retry safely"),
    ] = None,
    evidence_type: Annotated[
        str | None,
        Query(
            description="what the file shows: " + ", ".join(EvidenceType) + " (or the form field)",
            json_schema_extra={"enum": list(EvidenceType)},
        ),
    ] = None,
) -> JSONResponse:
    """Store an evidence file for a buyer, seller, user or care agent, with what it shows
    (``evidence_type``); the media type is read from the bytes."""
    limit = settings.evidence_max_bytes
    form = await _read_form(request, limit)
    try:
        uploaded_by = _uploader(form)
        shows = _evidence_type(form, evidence_type)
        caller.authorize(uploaded_by)
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise invalid("file", "required: the evidence file")
        data = await file.read(limit + 1)
    finally:
        await form.close()
    if len(data) > limit:
        raise _too_large(limit)
    if not data:
        raise invalid("file", "the file is empty")
    detected = sniff(data)
    if detected not in ACCEPTED_TYPES:
        raise Problem(
            415,
            "Unsupported media type",
            f"the file is {detected}; send {_ACCEPTED}",
            errors=[{"field": "file", "reason": f"detected type {detected} is not accepted"}],
            detected_type=detected,
        )
    # Each upload gets a new reference; a retry with the Idempotency-Key gets the first one back.
    digest = hashlib.sha256(data).hexdigest()
    request_line = f"{request.method} {request.url.path}"
    typed = "" if shows is EvidenceType.OTHER else f"\n{shows.value}"  # untyped: as fingerprinted before
    fingerprint = hashlib.sha256(f"{request_line}\n{digest}\n{uploaded_by.model_dump_json()}{typed}".encode())
    keyed = Cases(client, settings, engine, caller, idempotency_key, request_line, fingerprint.hexdigest())

    async def save() -> Answer:
        meta = await store.save(data, detected, uploaded_by, caller.name, datetime.now(UTC), shows)
        return EvidenceReceipt.model_validate(meta.model_dump()), status.HTTP_201_CREATED

    return await keyed.keyed(save)


async def _citing(
    reference: str, case_id: str, cases: Cases, reader: Actor | None, store: EvidenceStore
) -> EvidenceMeta:
    """The file's metadata, if ``case_id`` cites it and ``reader`` (when given) is party to it."""
    kind = served_for(case_id)
    if kind is None:
        raise Problem(404, "Not found", f"no case {case_id}")
    case = await cases.read(kind, case_id, reader)
    meta = await store.meta(reference) if reference in cited_on(case) else None
    if meta is None:
        raise Problem(404, "Not found", f"{case_id} cites no evidence {reference}")
    return meta


CaseIdQuery = Annotated[
    str, Query(pattern=IDENTIFIER_PATTERN, description="the dispute or report that cites the file")
]


@router.get(
    "/{reference}",
    response_class=Response,
    responses={200: {"content": {media: {} for media in ACCEPTED_TYPES}, "description": "the file"}},
)
async def download(
    reference: str, case_id: CaseIdQuery, cases: ReadCasesDep, reader: ReadAsDep, store: EvidenceStoreDep
) -> Response:
    """The file, for a case that cites it, read by a party to that case (any cited file for care)."""
    meta = await _citing(reference, case_id, cases, reader, store)
    data = await store.content(reference)
    if data is None:
        raise Problem(404, "Not found", f"the file of evidence {reference} is missing")
    filename = reference + ACCEPTED_TYPES.get(meta.content_type, "")
    return Response(
        data,
        media_type=meta.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{meta.sha256}"',
        },
    )


@router.get("/{reference}/meta", response_model=EvidenceDetails, response_model_exclude_none=True)
async def metadata(
    reference: str, case_id: CaseIdQuery, cases: ReadCasesDep, reader: ReadAsDep, store: EvidenceStoreDep
) -> EvidenceDetails:
    """When the file was uploaded, its type, size and SHA-256, and for admin keys who uploaded it
    (party and API key); the same checks as the download."""
    meta = await _citing(reference, case_id, cases, reader, store)
    shown = (
        meta.model_dump()
        if cases.caller.role is KeyRole.ADMIN
        else meta.model_dump(exclude={"uploaded_by", "caller"})
    )
    return EvidenceDetails.model_validate(shown)
