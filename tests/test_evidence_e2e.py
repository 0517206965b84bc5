"""Evidence uploads over real HTTP against a real dev server: sniffing, limits, hashes, who may download;
and the S3 blob store against moto's S3 server."""

from __future__ import annotations

import hashlib
import re
import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from domain.types import Actor, Role
from store.blobstore import EvidenceStore, LocalBlobStore, S3BlobStore, blob_store
from tests.support import AS_ADMIN, AS_CARE, PDF

LIMIT = 1024
BUYER = {"actor_role": "buyer", "actor_id": "b-1"}


def png(width: int = 1) -> bytes:
    """A small valid PNG: one grey row of ``width`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\x80" * width)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@pytest.fixture
def settings(task_queue: str, tmp_path: Path) -> Settings:
    return Settings(task_queue=task_queue, data_dir=tmp_path, evidence_max_bytes=LIMIT)


async def upload(
    api: httpx.AsyncClient,
    data: bytes,
    filename: str = "photo.png",
    declared: str = "image/png",
    actor: dict[str, str] = BUYER,
    **kwargs: Any,
) -> httpx.Response:
    return await api.post("/v1/evidence", files={"file": (filename, data, declared)}, data=actor, **kwargs)


async def stored(api: httpx.AsyncClient, data: bytes, **kwargs: Any) -> str:
    response = await upload(api, data, **kwargs)
    assert response.status_code == 201, response.text
    reference: str = response.json()["reference"]
    return reference


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    if field is not None:
        assert [error["field"] for error in problem["errors"]] == [field]
    return problem


# -- upload ---------------------------------------------------------------------------------------------


async def test_upload_sniffs_the_type_hashes_and_enforces_the_limit(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    image = png()
    # The declared name and type are ignored: the bytes say PNG.
    photo = await upload(api, image, filename="scan.pdf", declared="application/pdf")
    assert photo.status_code == 201, photo.text
    receipt = photo.json()
    assert receipt["sha256"] == hashlib.sha256(image).hexdigest()
    assert re.fullmatch(r"ev-[0-9a-f]{32}", receipt["reference"])
    assert receipt["reference"] != f"ev-{receipt['sha256'][:32]}"  # random, not derived from the bytes
    assert (receipt["size"], receipt["content_type"]) == (len(image), "image/png")
    assert (settings.data_dir / "evidence" / receipt["reference"]).read_bytes() == image

    pdf = await upload(api, PDF, filename="receipt.pdf", declared="application/octet-stream")
    assert pdf.status_code == 201, pdf.text
    assert pdf.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert pdf.json()["content_type"] == "application/pdf"

    again = (await upload(api, image, actor={"actor_role": "seller", "actor_id": "s-9"})).json()
    assert again["sha256"] == receipt["sha256"] and again["reference"] != receipt["reference"]

    text = await upload(api, b"just some words, not a photo\n", filename="photo.jpg", declared="image/jpeg")
    assert assert_problem(text, 415, "file")["detected_type"] == "application/octet-stream"
    page = await upload(api, b"<!DOCTYPE html><html><script>x()</script></html>", filename="a.png")
    assert assert_problem(page, 415, "file")["detected_type"] == "text/html"

    too_big = png() + bytes(range(256)) * 8
    assert len(too_big) > LIMIT
    over = assert_problem(await upload(api, too_big), 413, "file")
    assert (over["max_bytes"], over["detail"]) == (LIMIT, f"the file is larger than {LIMIT} bytes")
    huge = png() + b"\x00" * 200_000  # refused from its Content-Length, before the body is read
    assert "request body" in assert_problem(await upload(api, huge), 413, "file")["detail"]

    # Without a Content-Length the body is counted while it streams in and cut off early.
    boundary = "evidence-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="actor_role"\r\n\r\nbuyer\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="actor_id"\r\n\r\nb-1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + huge[:120_000]
        + f"\r\n--{boundary}--\r\n".encode()
    )

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    streamed = await api.post(
        "/v1/evidence",
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "request body" in assert_problem(streamed, 413, "file")["detail"]

    assert_problem(await upload(api, image, headers={"Authorization": ""}), 401)
    as_care = await upload(api, image, actor={"actor_role": "care", "actor_id": "agent-7"})
    assert "may not act as care" in assert_problem(as_care, 403)["detail"]
    assert_problem(await upload(api, image, actor={"actor_role": "buyer"}), 422, "actor_id")
    no_file = await api.post("/v1/evidence", data=BUYER, files={"other": ("x.png", image, "image/png")})
    assert_problem(no_file, 422, "file")
    assert_problem(await upload(api, b""), 422, "file")
    assert_problem(await api.post("/v1/evidence", json=BUYER), 415)
    stored_files = sorted(path.name for path in (settings.data_dir / "evidence").iterdir())
    assert stored_files == sorted([receipt["reference"], pdf.json()["reference"], again["reference"]])


async def test_idempotency_key_binds_to_the_file(api: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await upload(api, png(), headers=key)
    retry = await upload(api, png(), headers=key)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    other_file = await upload(api, png(width=2), headers=key)
    assert "Idempotency-Key" in assert_problem(other_file, 422, "Idempotency-Key")["detail"]


# -- download -------------------------------------------------------------------------------------------


async def test_download_needs_a_citing_case_and_a_party(api: httpx.AsyncClient) -> None:
    image = png()
    photo = await stored(api, image)
    receipt = await stored(api, PDF)
    never_cited = await stored(api, png(width=5))
    opened = await api.post(
        "/v1/disputes",
        json={
            "order_id": f"o-{uuid.uuid4().hex[:10]}",
            "buyer_id": "b-1",
            "seller_id": "s-1",
            "order_total": 150000,
            "reason": "DAMAGED",
            "requested_solution": {"kind": "REFUND_TO_BUYER", "amount": 150000},
            "description": "Broken screen",
            "evidence": [photo],
        },
    )
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]
    url = f"/v1/evidence/{photo}"

    download = await api.get(url, params={"case_id": dispute_id})
    assert download.status_code == 200, download.text
    assert download.content == image
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    as_buyer = await api.get(url, params={"case_id": dispute_id, **BUYER})
    assert (as_buyer.status_code, as_buyer.content) == (200, image)
    as_seller = await api.get(url, params={"case_id": dispute_id, "actor_role": "seller", "actor_id": "s-1"})
    assert as_seller.status_code == 200
    other_seller = await api.get(
        url, params={"case_id": dispute_id, "actor_role": "seller", "actor_id": "s-2"}
    )
    assert_problem(other_seller, 403)
    for headers in (AS_CARE, AS_ADMIN):
        assert (await api.get(url, params={"case_id": dispute_id}, headers=headers)).content == image
    assert_problem(await api.get(url, params={"case_id": dispute_id}, headers={"Authorization": ""}), 401)

    assert_problem(await api.get(f"/v1/evidence/{never_cited}", params={"case_id": dispute_id}), 404)
    assert_problem(await api.get(f"/v1/evidence/ev-{'0' * 32}", params={"case_id": dispute_id}), 404)
    assert_problem(await api.get("/v1/evidence/..%2Foutbox.sqlite3", params={"case_id": dispute_id}), 404)
    assert_problem(await api.get(url, params={"case_id": "dispute-o-none"}), 404)
    assert_problem(await api.get(url), 422)

    # Evidence cited later, in a message on the timeline, becomes readable for that case.
    pdf_url = f"/v1/evidence/{receipt}"
    assert_problem(await api.get(pdf_url, params={"case_id": dispute_id}), 404)
    message = {"actor": {"role": "buyer", "id": "b-1"}, "text": "The receipt", "evidence": [receipt]}
    assert (await api.post(f"/v1/disputes/{dispute_id}/messages", json=message)).status_code == 200
    pdf = await api.get(pdf_url, params={"case_id": dispute_id, "actor_role": "seller", "actor_id": "s-1"})
    assert (pdf.status_code, pdf.content, pdf.headers["content-type"]) == (200, PDF, "application/pdf")

    meta = await api.get(f"{url}/meta", params={"case_id": dispute_id, **BUYER})
    assert meta.status_code == 200, meta.text
    assert meta.json()["sha256"] == hashlib.sha256(image).hexdigest()
    assert "uploaded_by" not in meta.json() and "caller" not in meta.json()  # admin keys only
    admin_meta = (await api.get(f"{url}/meta", params={"case_id": dispute_id}, headers=AS_ADMIN)).json()
    assert (admin_meta["uploaded_by"], admin_meta["caller"]) == ({"role": "buyer", "id": "b-1"}, "checkout")

    # A help-center report cites its user's attachments; only its user (and care) may read them.
    user = f"u-{uuid.uuid4().hex[:8]}"
    statement = await stored(api, PDF, actor={"actor_role": "user", "actor_id": user})
    filed = await api.post(
        "/v1/tickets",
        json={
            "user_id": user,
            "role": "buyer",
            "topic": "PAYMENT",
            "details": "Charged twice",
            "attachments": [statement],
        },
    )
    assert filed.status_code == 201, filed.text
    ticket_id = filed.json()["id"]
    statement_url = f"/v1/evidence/{statement}"
    mine = await api.get(statement_url, params={"case_id": ticket_id, "actor_role": "user", "actor_id": user})
    assert (mine.status_code, mine.content) == (200, PDF)
    theirs = await api.get(
        statement_url, params={"case_id": ticket_id, "actor_role": "user", "actor_id": "u-other"}
    )
    assert_problem(theirs, 403)
    assert_problem(await api.get(url, params={"case_id": ticket_id}), 404)


async def test_evidence_has_a_type_and_the_case_shows_it_grouped(api: httpx.AsyncClient) -> None:
    """The upload says what a file shows (form field or query parameter, OTHER if neither); the case
    shows every file it cites grouped by that type, whoever cited it and wherever, and a client
    cannot claim another type for a file than its upload gave it."""
    photo_response = await upload(api, png(), actor=BUYER | {"evidence_type": "PHOTO_OF_ITEM"})
    assert photo_response.status_code == 201, photo_response.text
    assert photo_response.json()["type"] == "PHOTO_OF_ITEM"
    photo = photo_response.json()["reference"]
    video = await stored(api, png(width=2), params={"evidence_type": "VIDEO_UNBOXING"})
    untyped_response = await upload(api, png(width=3))
    assert untyped_response.json()["type"] == "OTHER"
    untyped = untyped_response.json()["reference"]
    seller = {"actor_role": "seller", "actor_id": "s-1"}
    chat = await stored(
        api,
        PDF,
        filename="chat.pdf",
        declared="application/pdf",
        actor=seller | {"evidence_type": "CONVERSATION"},
    )
    shipped = await stored(
        api,
        PDF,
        filename="resi.pdf",
        declared="application/pdf",
        actor=seller,
        params={"evidence_type": "PROOF_OF_SHIPMENT"},
    )

    assert_problem(await upload(api, png(), actor=BUYER | {"evidence_type": "SELFIE"}), 422, "evidence_type")
    assert_problem(
        await upload(
            api, png(), actor=BUYER | {"evidence_type": "RECEIPT"}, params={"evidence_type": "OTHER"}
        ),
        422,
        "evidence_type",
    )
    meta = await api.get(f"/v1/evidence/{photo}/meta", params={"case_id": "dispute-o-none"})
    assert meta.status_code == 404  # cited nowhere yet

    opened = await api.post(
        "/v1/disputes",
        json={
            "order_id": f"o-{uuid.uuid4().hex[:10]}",
            "buyer_id": "b-1",
            "seller_id": "s-1",
            "order_total": 150000,
            "reason": "DAMAGED",
            "requested_solution": {"kind": "REFUND_TO_BUYER", "amount": 150000},
            "description": "Broken screen",
            "evidence": [photo, untyped],
        },
    )
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]
    assert opened.json()["evidence_by_type"] == {"PHOTO_OF_ITEM": [photo], "OTHER": [untyped]}
    lied = await api.post(
        f"/v1/disputes/{dispute_id}/messages",
        json={
            "actor": {"role": "buyer", "id": "b-1"},
            "text": "The unboxing",
            "evidence": [video],
            "evidence_types": {video: "RECEIPT"},  # the upload said otherwise: ignored
        },
    )
    assert lied.status_code == 200, lied.text
    appealed = await api.post(
        f"/v1/disputes/{dispute_id}/appeal",
        json={
            "actor": {"role": "seller", "id": "s-1"},
            "reason": "Sent intact",
            "evidence": [chat, shipped, photo],
        },
    )
    assert appealed.status_code == 200, appealed.text
    case = (await api.get(f"/v1/disputes/{dispute_id}")).json()
    assert case["evidence"] == [photo, untyped]  # the claim's own, as before
    assert case["evidence_by_type"] == {
        "PROOF_OF_SHIPMENT": [shipped],
        "PHOTO_OF_ITEM": [photo],
        "VIDEO_UNBOXING": [video],
        "CONVERSATION": [chat],
        "OTHER": [untyped],
    }
    typed = await api.get(f"/v1/evidence/{chat}/meta", params={"case_id": dispute_id})
    assert typed.json()["type"] == "CONVERSATION"

    user = f"u-{uuid.uuid4().hex[:8]}"
    statement = await stored(
        api, PDF, actor={"actor_role": "user", "actor_id": user, "evidence_type": "RECEIPT"}
    )
    filed = await api.post(
        "/v1/tickets",
        json={
            "user_id": user,
            "role": "buyer",
            "topic": "PAYMENT",
            "details": "Charged twice",
            "attachments": [statement],
        },
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["evidence_by_type"] == {"RECEIPT": [statement]}


# -- blob stores ----------------------------------------------------------------------------------------


async def test_local_store_keeps_keys_inside_its_folder(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "evidence")
    await store.put("ev-1", b"one", "image/png")
    await store.put("ev-1", b"two", "image/png")
    assert await store.get("ev-1") == b"two"
    assert await store.get("ev-2") is None
    assert [path.name for path in (tmp_path / "evidence").iterdir()] == ["ev-1"]  # no temporary left
    for key in ("../outside", "a/b", "..", ".hidden", ""):
        with pytest.raises(ValueError):
            await store.put(key, b"x", "image/png")
    assert not (tmp_path / "outside").exists()


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


async def test_s3_store_round_trip(s3_endpoint: str, tmp_path: Path, engine: AsyncEngine) -> None:
    bucket = f"evidence-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    settings = Settings(
        data_dir=tmp_path,
        blob_store="s3",
        s3_bucket=bucket,
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
    )
    store = blob_store(settings)
    assert isinstance(store, S3BlobStore)

    await store.put("ev-photo", png(), "image/png")
    assert await store.get("ev-photo") == png()
    assert await store.get("ev-missing") is None
    head = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").head_object(
        Bucket=bucket, Key="evidence/ev-photo"
    )
    assert head["ContentType"] == "image/png"

    evidence = EvidenceStore(store, engine)
    meta = await evidence.save(
        PDF, "application/pdf", Actor(role=Role.SELLER, id="s-1"), "checkout", datetime.now(UTC)
    )
    assert await evidence.meta(meta.reference) == meta
    assert await evidence.content(meta.reference) == PDF
    assert not (tmp_path / "evidence").exists()
