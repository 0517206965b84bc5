"""/codec: Temporal's remote codec protocol, so the Web UI shows decrypted payloads to on-call.

The UI POSTs ``{"payloads": [{"metadata": {"<name>": "<base64>"}, "data": "<base64>"}]}`` (the
``Payloads`` protobuf as JSON) to ``<endpoint>/decode`` (and ``<endpoint>/encode`` when it sends a
signal or starts a workflow), with an ``X-Namespace`` header, and gets the same shape back.

Nothing decodes without a credential. Two doors: ``/codec/{decode,encode}`` with an admin API key
in ``Authorization`` (the CLI's ``--codec-auth``, a sign-in proxy), and ``/codec/ui/<token>/...``
for the Web UI, whose only codec setting ``make run`` can give it is the endpoint URL: the token
(``DISPUTES_CODEC_UI_TOKEN``, a new one per ``make run``) is that endpoint's secret. An ``Origin``
header is never a credential: it only decides CORS. Production puts the UI and ``/codec`` behind
the same sign-in (docs/deployment.md)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payload, Payloads

from api import auth
from api.deps import SettingsDep, TemporalClientDep
from api.limits import anonymous_limited
from api.problems import Problem
from core.codec import EncryptionCodec, PayloadDecryptError
from core.settings import KeyRole, Settings

router = APIRouter(prefix="/codec", tags=["codec"])

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_ALLOWED_HEADERS = "content-type, x-namespace, authorization"


class PayloadJson(BaseModel):
    """One Temporal payload as protobuf JSON: metadata values and data in base64."""

    metadata: dict[str, str] = Field(default={}, description="name → base64 value")
    data: str = Field(default="", description="base64")


class PayloadsJson(BaseModel):
    """The ``Payloads`` message as the Temporal UI and CLI send and expect it."""

    payloads: list[PayloadJson] = Field(default=[], max_length=1000)


def _split_origin(origin: str) -> tuple[str, str, str]:
    """(scheme, host, port) of ``scheme://host[:port]``."""
    scheme, _, authority = origin.partition("://")
    authority = authority.split("/", 1)[0]
    if authority.endswith("]") or ":" not in authority:
        return scheme, authority, ""
    host, _, port = authority.rpartition(":")
    return scheme, host, port


def _loopback_origin(origin: str | None) -> bool:
    if not origin or not origin.startswith(("http://", "https://")):
        return False
    return _split_origin(origin)[1] in _LOOPBACK_NAMES


def _ui_origin(settings: Settings, origin: str | None) -> bool:
    """Whether ``origin`` is the configured UI's: exactly, or the same loopback port under another
    loopback name (the local UI opened as localhost rather than 127.0.0.1)."""
    configured = settings.codec_ui_origin
    if not origin or not configured:
        return False
    if origin == configured:
        return True
    if not (_loopback_origin(origin) and _loopback_origin(configured)):
        return False
    (scheme, _, port), (want_scheme, _, want_port) = _split_origin(origin), _split_origin(configured)
    return (scheme, port) == (want_scheme, want_port)


def _cors(settings: Settings, origin: str | None) -> dict[str, str]:
    """CORS headers for the configured UI origin only."""
    if not origin or not _ui_origin(settings, origin):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


async def _admit(request: Request, settings: Settings, cors: dict[str, str], ui_token: str | None) -> None:
    """An admin key in ``Authorization``, or the Web UI's token in the path; else 401, limited by
    client address like every request without a valid key (429)."""
    try:
        await _credential(request, settings, ui_token)
    except Problem as refused:
        if refused.status == 401:
            try:
                anonymous_limited(request)
            except Problem as limited:
                refused = limited
        refused.headers = (refused.headers or {}) | cors
        raise refused from None


async def _credential(request: Request, settings: Settings, ui_token: str | None) -> None:
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token) if token else None
        caller = await auth.caller(settings, credentials)
        if caller.role is not KeyRole.ADMIN:
            raise Problem(403, "Forbidden", "the codec decrypts every case's data: admin keys only")
        return
    if ui_token is None:
        raise _unauthorized("send Authorization: Bearer <admin api key>")
    expected = settings.codec_ui_token
    # Compared in constant time, so timing tells nothing about the token.
    if expected is None or not hmac.compare_digest(ui_token.encode(), expected.get_secret_value().encode()):
        raise _unauthorized("not this API's Web UI codec token (DISPUTES_CODEC_UI_TOKEN)")


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, {"WWW-Authenticate": "Bearer"})


def _codec(settings: Settings, cors: dict[str, str]) -> EncryptionCodec:
    if not settings.payload_keys:
        raise Problem(404, "Not found", "payloads are not encrypted here (no DISPUTES_PAYLOAD_KEYS)", cors)
    return EncryptionCodec(settings.payload_key_bytes())


def _namespace(client_namespace: str, given: str | None, cors: dict[str, str]) -> None:
    if given and given != client_namespace:
        detail = f"this codec holds the keys of namespace {client_namespace} only"
        raise Problem(403, "Forbidden", detail, cors)


def _bad_payloads(reason: str, cors: dict[str, str]) -> Problem:
    return Problem(400, "Bad request", reason, cors, errors=[{"field": "payloads", "reason": reason}])


def _parse(body: PayloadsJson, cors: dict[str, str]) -> list[Payload]:
    try:
        message = json_format.ParseDict(body.model_dump(), Payloads())
    except (json_format.ParseError, ValueError, TypeError) as error:
        reason = f"not Payloads protobuf JSON with base64 metadata and data ({type(error).__name__})"
        raise _bad_payloads(reason, cors) from None
    return list(message.payloads)


def _answer(payloads: list[Payload]) -> PayloadsJson:
    return PayloadsJson.model_validate({"payloads": [json_format.MessageToDict(p) for p in payloads]})


@router.post("/decode")
# The Web UI's door: its endpoint URL carries its token (DISPUTES_CODEC_UI_TOKEN), which ``_admit``
# reads from the path.
@router.post("/ui/{token}/decode", include_in_schema=False)
async def decode(
    body: PayloadsJson,
    request: Request,
    response: Response,
    settings: SettingsDep,
    client: TemporalClientDep,
    x_namespace: Annotated[str | None, Header()] = None,
) -> PayloadsJson:
    """Decrypt payloads for an admin key's holder (the CLI, a sign-in proxy in front of the UI),
    or for the Web UI through its tokened endpoint."""
    cors = _cors(settings, request.headers.get("origin"))
    await _admit(request, settings, cors, request.path_params.get("token"))
    _namespace(client.namespace, x_namespace, cors)
    codec = _codec(settings, cors)
    try:
        decoded = await codec.decode(_parse(body, cors))
    except (PayloadDecryptError, DecodeError) as error:
        reason = str(error) if isinstance(error, PayloadDecryptError) else "not a payload inside"
        raise _bad_payloads(reason, cors) from None
    response.headers.update(cors)
    return _answer(decoded)


@router.post("/encode")
@router.post("/ui/{token}/encode", include_in_schema=False)
async def encode(
    body: PayloadsJson,
    request: Request,
    response: Response,
    settings: SettingsDep,
    client: TemporalClientDep,
    x_namespace: Annotated[str | None, Header()] = None,
) -> PayloadsJson:
    """Encrypt payloads the UI sends (signals, updates, workflows started from the UI)."""
    cors = _cors(settings, request.headers.get("origin"))
    await _admit(request, settings, cors, request.path_params.get("token"))
    _namespace(client.namespace, x_namespace, cors)
    encoded = await _codec(settings, cors).encode(_parse(body, cors))
    response.headers.update(cors)
    return _answer(encoded)


def _preflight(operation: str, settings: Settings, origin: str | None) -> Response:
    cors = _cors(settings, origin)
    if operation not in ("decode", "encode"):
        raise Problem(404, "Not found", f"no codec operation {operation}")
    if not cors:
        raise Problem(403, "Forbidden", "cross-origin calls are allowed from the Temporal UI's origin only")
    headers = cors | {
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=headers)


@router.options("/{operation}", include_in_schema=False)
async def preflight(
    operation: str, settings: SettingsDep, origin: Annotated[str | None, Header()] = None
) -> Response:
    """CORS preflight: allowed for the configured Temporal UI origin only (it admits no one: the
    request that follows still needs its credential)."""
    return _preflight(operation, settings, origin)


@router.options("/ui/{token}/{operation}", include_in_schema=False)
async def ui_preflight(
    token: str, operation: str, settings: SettingsDep, origin: Annotated[str | None, Header()] = None
) -> Response:
    """CORS preflight of the Web UI's door (as ``preflight``)."""
    return _preflight(operation, settings, origin)
