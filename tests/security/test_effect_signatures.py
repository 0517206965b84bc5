"""Effect requests (refunds, releases, ...) are signed: a platform that verifies, as the README
shows, refuses anyone who can merely reach its endpoint, however well they guess the keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.http_adapters import HttpAdapters
from activities.models import PayoutInput
from core.settings import Settings
from store.outbox import Outbox
from tests.support import listening
from wiring.temporal import effect_adapters

SECRET = "effects-secret-for-the-platform-0123456789"
TOKEN = "platform-bearer-token-42"
PREFIX = "/platform"


def verify_effect(
    secret: bytes, endpoint: str, headers: Mapping[str, str], body: bytes, tolerance: int = 300
) -> bool:
    """The check the README tells platforms to make (kept identical to its snippet)."""
    timestamp = headers.get("effect-timestamp", "")
    signature = headers.get("effect-signature", "")
    key = headers.get("idempotency-key", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    signed = f"{timestamp}\n{endpoint}\n{key}\n".encode() + body
    expected = "v1=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


@dataclass
class Platform:
    """Payments that verify the signature and the bearer token before they look at the key, and
    apply each key once."""

    url: str = ""
    ledger: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    lose_responses: int = 0

    async def handle(self, request: Request) -> JSONResponse:
        endpoint = request.url.path.removeprefix(PREFIX + "/")
        body = await request.body()
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            self.refused.append("token")
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if not verify_effect(SECRET.encode(), endpoint, request.headers, body):
            self.refused.append("signature")
            return JSONResponse({"error": "bad signature"}, status_code=401)
        key = request.headers["idempotency-key"]
        self.ledger.setdefault(key, {"endpoint": endpoint, **json.loads(body)})
        if self.lose_responses:
            self.lose_responses -= 1
            return JSONResponse({"error": "timed out"}, status_code=503)
        return JSONResponse({})


@pytest.fixture
async def platform() -> AsyncIterator[Platform]:
    state = Platform()
    app = Starlette(routes=[Route(PREFIX + "/{path:path}", state.handle, methods=["POST"])])
    async with listening(app) as url:
        state.url = url + PREFIX
        yield state


@pytest.fixture
async def activities(platform: Platform, tmp_path: Path, engine: AsyncEngine) -> AsyncIterator[HttpAdapters]:
    settings = Settings(
        effects="http",
        effects_base_url=platform.url,
        effects_signing_secret=SECRET,
        effects_bearer_token=TOKEN,
        data_dir=tmp_path,
    )
    built = effect_adapters(settings, engine)
    assert isinstance(built, HttpAdapters)
    yield built
    await built.aclose()


REFUND = PayoutInput(
    case_id="dispute-o-1", party_id="b-1", amount=150_000, idempotency_key="dispute-o-1:refund_to_buyer"
)


async def test_a_signed_refund_is_applied_once_across_retries(
    activities: HttpAdapters, platform: Platform
) -> None:
    platform.lose_responses = 1  # applied, then the response is lost: the retry must match the key
    with pytest.raises(ApplicationError):
        await ActivityEnvironment().run(activities.refund_buyer, REFUND)
    await ActivityEnvironment().run(activities.refund_buyer, REFUND)

    assert platform.refused == []
    assert platform.ledger == {
        "dispute-o-1:refund_to_buyer": {
            "endpoint": "refunds",
            "case_id": "dispute-o-1",
            "party_id": "b-1",
            "amount": 150_000,
        }
    }


async def test_an_outsider_who_guesses_the_key_cannot_claim_it_first(
    activities: HttpAdapters, platform: Platform
) -> None:
    """Before signatures, posting first with the readable key made the platform answer the real
    refund "already applied" (or apply the outsider's body under it)."""
    body = json.dumps({"case_id": "dispute-o-1", "party_id": "b-evil", "amount": 1}).encode()
    now = str(int(time.time()))
    key = REFUND.idempotency_key
    forged_signature = (
        "v1="
        + hmac.new(b"guessed-secret", f"{now}\nrefunds\n{key}\n".encode() + body, hashlib.sha256).hexdigest()
    )
    bearer = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": key, "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=platform.url) as outsider:
        attempts = [
            {},  # unsigned
            {"Effect-Timestamp": now, "Effect-Signature": forged_signature},  # signed with a guess
        ]
        for extra in attempts:
            response = await outsider.post("/refunds", content=body, headers=bearer | extra)
            assert response.status_code == 401
    assert platform.ledger == {}  # the key is still free

    await ActivityEnvironment().run(activities.refund_buyer, REFUND)
    assert platform.ledger[key]["party_id"] == "b-1"


async def test_captured_requests_cannot_be_altered_moved_or_replayed_late(
    platform: Platform, engine: AsyncEngine
) -> None:
    captured: list[httpx.Request] = []

    async def capture(request: httpx.Request) -> httpx.Response:
        await request.aread()
        captured.append(request)
        return httpx.Response(200, json={})

    adapters = HttpAdapters(
        httpx.AsyncClient(
            base_url=platform.url,
            transport=httpx.MockTransport(capture),
            headers={"Authorization": f"Bearer {TOKEN}"},
        ),
        Outbox(engine),
        SECRET.encode(),
        clock=lambda: time.time() - 3600,  # an hour ago: too old to be accepted now
    )
    await adapters.refund_buyer(REFUND)
    [original] = captured
    headers = {k: v for k, v in original.headers.items() if k.lower() not in ("host", "content-length")}
    fresh = str(int(time.time()))
    resigned_now = dict(headers) | {"effect-timestamp": fresh}  # a new timestamp without a new signature
    more_money = original.content.replace(b"150000", b"990000")
    other_key = dict(headers) | {"idempotency-key": "dispute-o-1:refund_to_buyer:again"}

    async with httpx.AsyncClient(base_url=platform.url) as replayer:
        for path, content, sent in [
            ("/refunds", original.content, headers),  # stale: replayed an hour later
            ("/refunds", original.content, resigned_now),
            ("/refunds", more_money, headers),
            ("/releases", original.content, headers),  # the refund's body sent to another endpoint
            ("/refunds", original.content, other_key),  # a second payout under a new key
        ]:
            response = await replayer.post(path, content=content, headers=sent)
            assert response.status_code == 401, (path, sent)
    assert platform.ledger == {}
    assert platform.refused == ["signature"] * 5


async def test_the_bearer_token_is_sent_and_checked(
    platform: Platform, tmp_path: Path, engine: AsyncEngine
) -> None:
    without_token = effect_adapters(
        Settings(
            effects="http", effects_base_url=platform.url, effects_signing_secret=SECRET, data_dir=tmp_path
        ),
        engine,
    )
    assert isinstance(without_token, HttpAdapters)
    try:
        with pytest.raises(ApplicationError, match="answered 401"):
            await ActivityEnvironment().run(without_token.refund_buyer, REFUND)
    finally:
        await without_token.aclose()
    assert platform.refused == ["token"] and platform.ledger == {}


async def test_http_mode_refuses_to_start_without_a_signing_secret(
    tmp_path: Path, engine: AsyncEngine
) -> None:
    with pytest.raises(ValueError, match="DISPUTES_EFFECTS_SIGNING_SECRET"):
        effect_adapters(
            Settings(effects="http", effects_base_url="https://platform.example", data_dir=tmp_path), engine
        )
    with pytest.raises(ValidationError) as short:
        Settings(effects_signing_secret="too-short-to-resist-guessing")
    assert "too-short" not in str(short.value)  # a refused secret is not echoed into the logs
