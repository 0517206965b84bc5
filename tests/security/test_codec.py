"""Encrypted payloads: Temporal's server stores ciphertext, the API and the worker read plain
values, and /codec decrypts for the Web UI (Temporal's remote codec protocol) for admins only."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.codec import ENCODING, KEY_ID, EncryptionCodec, PayloadDecryptError
from core.settings import Settings
from domain.dispute import Dispute
from domain.views import current_details, dispute_details, ticket_details
from tests.factories import DISPUTE_ID, T0, TOTAL, dispute_request, ticket_request
from tests.support import AS_ADMIN, AS_CARE, BUYER, SELLER, claim, eventually, serving
from wiring.temporal import data_converter
from workflows.dispute import DisputeWorkflow

UI = "http://127.0.0.1:8233"
UI_TOKEN = "ui-" + "t" * 40


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def plain(value: Any) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([value])[0]


def encrypted_client(client: Client, settings: Settings) -> Client:
    """A client of the same server and namespace that encrypts as the service does."""
    return Client(client.service_client, namespace=client.namespace, data_converter=data_converter(settings))


# -- the codec ---------------------------------------------------------------------------------


async def test_payloads_are_encrypted_with_the_first_key_and_decrypt_with_any() -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = EncryptionCodec({"k-old": old})
    after = EncryptionCodec({"k-new": new, "k-old": old})  # rotated: the new key first
    message = plain({"text": "my address is Jl. Sudirman 1"})

    [sealed_before] = await before.encode([message])
    [sealed_after] = await after.encode([message])

    for sealed, key_id in ((sealed_before, b"k-old"), (sealed_after, b"k-new")):
        assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == key_id
        assert b"Sudirman" not in sealed.SerializeToString()
    assert await after.decode([sealed_before, sealed_after]) == [message, message]
    with pytest.raises(PayloadDecryptError, match="unknown key id 'k-new'"):
        await before.decode([sealed_after])
    assert await after.decode([message]) == [message]  # written before encryption: passes through


async def test_altered_or_relabelled_payloads_do_not_decrypt() -> None:
    codec = EncryptionCodec({"a": os.urandom(32), "b": os.urandom(32)})
    [sealed] = await codec.encode([plain("refund 150000 to b-1")])
    altered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"b"}, data=sealed.data)
    for forged in (altered, relabelled):
        with pytest.raises(PayloadDecryptError):
            await codec.decode([forged])


@pytest.mark.parametrize(
    "keys",
    [
        {"k": base64.b64encode(os.urandom(16)).decode()},  # AES-128: refused, the setting says 32 bytes
        {"k": "not base64!"},
        {"bad id!": base64.b64encode(os.urandom(32)).decode()},
    ],
)
def test_payload_keys_are_checked_at_start_without_echoing_them(keys: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(payload_keys=keys)
    assert next(iter(keys.values())) not in str(refused.value)


# -- Temporal stores ciphertext --------------------------------------------------------------


async def raw_history_bytes(env: WorkflowEnvironment, workflow_id: str) -> bytes:
    """Every event of the history as the server stores it, read without the codec."""
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    return b"".join(event.SerializeToString() for event in history.events) + history.to_json().encode()


async def test_the_raw_history_of_a_dispute_holds_no_free_text(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    secret_texts = {
        "description": "Parcel left with the guard at Jl. Kenanga 12 (desc-7731)",
        "message": "Call me at 0812-5555-7731 about the parcel (msg-7731)",
        "note": "I never authorised this address (note-7731)",
        "details": "My card 4111-7731 was charged twice (details-7731)",
    }
    settings = Settings(task_queue=task_queue, data_dir=tmp_path, payload_keys={"k1": new_key()})
    client = encrypted_client(dev_server_env.client, settings)
    async with serving(settings, client) as api:
        order = f"o-{uuid.uuid4().hex[:8]}"
        opened = await api.post("/v1/disputes", json=claim(order, description=secret_texts["description"]))
        assert opened.status_code == 201, opened.text
        dispute_id = opened.json()["id"]
        sent = await api.post(
            f"/v1/disputes/{dispute_id}/messages", json={"actor": BUYER, "text": secret_texts["message"]}
        )
        assert sent.status_code == 200, sent.text
        refused = await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": BUYER})
        assert refused.status_code == 409 and refused.json()["current_status"] == "AWAITING_SELLER"
        offered = await api.post(
            f"/v1/disputes/{dispute_id}/offers",
            json={"actor": SELLER, "solution": {"kind": "REFUND_TO_BUYER", "amount": 1000}, "note": "half"},
        )
        assert offered.status_code == 200, offered.text
        rejected = await api.post(
            f"/v1/disputes/{dispute_id}/reject", json={"actor": BUYER, "note": secret_texts["note"]}
        )
        assert rejected.status_code == 200, rejected.text

        async def notified() -> bool:  # the notices (activity inputs with text) have run
            return len((await api.get(f"/v1/disputes/{dispute_id}/effects")).json()["items"]) >= 3

        await eventually(notified)
        # the API and the worker read the plain values through the codec
        state = (await api.get(f"/v1/disputes/{dispute_id}")).json()
        assert secret_texts["message"] in json.dumps(state)
        kept = await client.get_workflow_handle(dispute_id).query(DisputeWorkflow.state)
        assert kept.policy.redact_details is True  # set at open, kept by the case (internal: not in the API)
        report = {"user_id": "b-1", "role": "buyer", "topic": "PAYMENT", "details": secret_texts["details"]}
        filed = await api.post("/v1/tickets", json=report)
        assert filed.status_code == 201, filed.text
        ticket_id = filed.json()["id"]

        # What on-call reads in the UI through the codec (summaries, details, current details)
        # carries ids, statuses and amounts, never a party's words.
        for case_id, expected in ((dispute_id, f"**Order** {order}"), (ticket_id, "**Topic** PAYMENT")):
            handle = client.get_workflow_handle(case_id)
            described = await handle.describe()
            metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
            shown = [
                await described.static_summary(),
                await described.static_details(),
                metadata.current_details,
            ]
            assert expected in str(shown[1]) and "**Status:**" in shown[2], shown
            for text in secret_texts.values():
                assert not any(text.split(" (")[1].rstrip(")") in str(part) for part in shown), shown

    stored = await raw_history_bytes(dev_server_env, dispute_id)
    stored += await raw_history_bytes(dev_server_env, ticket_id)
    for name, text in secret_texts.items():
        assert text.encode() not in stored, f"the {name} is in the stored history in plain text"
        assert text.split(" (")[1].rstrip(")").encode() not in stored
    assert ENCODING in stored


async def test_without_keys_the_same_check_finds_the_text(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    """The control: the check above can fail (payloads are plain without DISPUTES_PAYLOAD_KEYS)."""
    async with serving(Settings(task_queue=task_queue, data_dir=tmp_path), dev_server_env) as api:
        order = f"o-{uuid.uuid4().hex[:8]}"
        opened = await api.post("/v1/disputes", json=claim(order, description="plain-desc-4410"))
        assert opened.status_code == 201, opened.text
    assert b"plain-desc-4410" in await raw_history_bytes(dev_server_env, opened.json()["id"])


def test_redacted_details_leave_out_every_party_and_outside_text() -> None:
    """The UI's details with redaction (encryption on): no description, report details or parked
    effect's reason (an outside system's words); without it (cases opened before), as always."""
    request = dispute_request(description="Left with the guard (desc-1)")
    dispute = Dispute.open(DISPUTE_ID, request, T0)
    dispute.park("refund_to_buyer", f"{DISPUTE_ID}:refund_to_buyer", "card of Budi declined (reason-1)", T0)
    ticket = ticket_request(details="Charged twice on my card (details-1)")
    redacted = [
        dispute_details(request, redact=True),
        current_details(dispute, redact=True),
        ticket_details(ticket, redact=True),
    ]
    plain = [dispute_details(request), current_details(dispute), ticket_details(ticket)]
    for words in ("desc-1", "reason-1", "details-1"):
        assert not any(words in shown for shown in redacted), redacted
        assert any(words in shown for shown in plain)
    assert f"**Needs attention:** refund_to_buyer ({DISPUTE_ID}:refund_to_buyer)" in redacted[1]
    assert f"**Order** o-1 · total {TOTAL}" in redacted[0]


# -- the codec server --------------------------------------------------------------------------


@pytest.fixture
async def codec_api(dev_server_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=tmp_path, payload_keys={"k1": KEY_1}, codec_ui_origin=UI, codec_ui_token=UI_TOKEN
    )
    async with serving(settings, dev_server_env, worker=False) as api:
        api.headers.pop("Authorization")
        yield api


KEY_1 = new_key()


async def sealed_json(*values: Any, key: str = KEY_1) -> dict[str, Any]:
    """The JSON the UI sends: payloads as the server stores them (encrypted with ``key``)."""
    sealed = await EncryptionCodec({"k1": base64.b64decode(key)}).encode([plain(v) for v in values])
    return {"payloads": [json_format.MessageToDict(p) for p in sealed]}


def values_of(document: dict[str, Any]) -> list[Any]:
    payloads = [json_format.ParseDict(p, Payload()) for p in document["payloads"]]
    return [pydantic_data_converter.payload_converter.from_payload(p) for p in payloads]


async def test_the_local_ui_decodes_through_its_tokened_endpoint(codec_api: httpx.AsyncClient) -> None:
    ui_door = f"/codec/ui/{UI_TOKEN}"
    preflight = await codec_api.options(
        f"{ui_door}/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == UI
    assert "x-namespace" in preflight.headers["access-control-allow-headers"]

    opened_as_localhost = await codec_api.options(
        "/codec/decode", headers={"Origin": "http://localhost:8233"}
    )
    assert opened_as_localhost.headers["access-control-allow-origin"] == "http://localhost:8233"

    body = await sealed_json({"description": "The parcel never arrived"}, "b-1")
    decoded = await codec_api.post(
        f"{ui_door}/decode", json=body, headers={"Origin": UI, "X-Namespace": "default"}
    )
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == UI
    assert values_of(decoded.json()) == [{"description": "The parcel never arrived"}, "b-1"]
    encoded = await codec_api.post(
        f"{ui_door}/encode",
        json={"payloads": [json_format.MessageToDict(plain("a signal"))]},
        headers={"Origin": UI},
    )
    assert encoded.status_code == 200
    assert base64.b64decode(encoded.json()["payloads"][0]["metadata"]["encoding"]) == ENCODING


async def test_the_codec_serves_admins_and_the_ui_token_only(codec_api: httpx.AsyncClient) -> None:
    """Before: a request with no credential and the UI's Origin (curl on this machine) decrypted."""
    body = await sealed_json("secret")
    evil = "http://evil.example"
    assert (await codec_api.options("/codec/decode", headers={"Origin": evil})).status_code == 403
    cases = [
        ("/codec/decode", {}, 401),  # no key and no browser origin
        ("/codec/decode", {"Origin": UI}, 401),  # claims to be the local UI: an Origin is no credential
        ("/codec/decode", {"Origin": "http://localhost:8233"}, 401),
        ("/codec/decode", {"Origin": evil}, 401),  # another web page in the on-call's browser
        ("/codec/ui/not-the-token/decode", {"Origin": UI}, 401),
        ("/codec/ui/" + UI_TOKEN[:-1] + "/decode", {"Origin": UI}, 401),
        ("/codec/decode", {"Authorization": "Bearer nope"}, 401),
        ("/codec/decode", {"Authorization": AS_CARE["Authorization"], "Origin": UI}, 403),  # not admin
        ("/codec/decode", AS_ADMIN, 200),
        (f"/codec/ui/{UI_TOKEN}/decode", {}, 200),
        ("/codec/decode", AS_ADMIN | {"X-Namespace": "another"}, 403),
    ]
    for path, headers, status in cases:
        response = await codec_api.post(path, json=body, headers=headers)
        assert response.status_code == status, (path, headers, response.text)
        if status != 200:
            assert response.headers["content-type"] == "application/problem+json"
            assert "secret" not in response.text
            assert "access-control-allow-origin" not in response.headers or headers.get("Origin") in (
                UI,
                "http://localhost:8233",
            )


async def test_without_a_configured_token_the_ui_door_is_shut(
    dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, payload_keys={"k1": KEY_1}, codec_ui_origin=UI)
    async with serving(settings, dev_server_env, worker=False) as api:
        api.headers.pop("Authorization")
        for token in ("x", UI_TOKEN):
            response = await api.post(f"/codec/ui/{token}/decode", json=await sealed_json("x"))
            assert response.status_code == 401


async def test_encode_and_bad_payloads(codec_api: httpx.AsyncClient) -> None:
    plain_body = {"payloads": [json_format.MessageToDict(plain({"signal": "from the UI"}))]}
    encoded = await codec_api.post("/codec/encode", json=plain_body, headers=AS_ADMIN)
    assert encoded.status_code == 200
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
    decoded = await codec_api.post("/codec/decode", json=encoded.json(), headers=AS_ADMIN)
    assert values_of(decoded.json()) == [{"signal": "from the UI"}]

    unknown_key = await sealed_json("x", key=new_key())
    unknown_key["payloads"][0]["metadata"][KEY_ID] = base64.b64encode(b"k9").decode()
    truncated = {
        "payloads": [
            {
                "metadata": {
                    "encoding": base64.b64encode(ENCODING).decode(),
                    KEY_ID: base64.b64encode(b"k1").decode(),
                },
                "data": base64.b64encode(b"too short to be sealed").decode(),
            }
        ]
    }
    for bad in (unknown_key, await sealed_json("x", key=new_key()), truncated):
        response = await codec_api.post("/codec/decode", json=bad, headers=AS_ADMIN)
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["field"] == "payloads"


async def test_a_production_ui_origin_always_needs_the_admin_key(
    dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    origin = "https://temporal.example.com"
    settings = Settings(data_dir=tmp_path, payload_keys={"k1": KEY_1}, codec_ui_origin=origin)
    async with serving(settings, dev_server_env, worker=False) as api:
        api.headers.pop("Authorization")
        body = await sealed_json("x")
        anonymous = await api.post("/codec/decode", json=body, headers={"Origin": origin})
        assert anonymous.status_code == 401
        admin = await api.post("/codec/decode", json=body, headers={"Origin": origin} | AS_ADMIN)
        assert admin.status_code == 200 and admin.headers["access-control-allow-origin"] == origin

    no_keys = Settings(data_dir=tmp_path / "plain", codec_ui_origin=origin)
    async with serving(no_keys, dev_server_env, worker=False) as api:
        response = await api.post("/codec/decode", json=await sealed_json("x"), headers=AS_ADMIN)
        assert response.status_code == 404
