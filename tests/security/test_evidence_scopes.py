"""Evidence belongs to its uploader (finding 5 of issue 12): a random reference per upload, citing
only one's own uploads or what the case already cites, references checked by form, and who
uploaded a file shown to admin keys only."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.support import AS_ADMIN, AS_CARE, BUYER, PDF, SELLER, claim, new_order, upload_evidence
from tests.test_events_e2e import BATCH, cloud_event


def refused_fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"]: error["reason"] for error in response.json()["errors"]}


async def test_the_same_bytes_tell_nothing_about_another_uploader(api: httpx.AsyncClient) -> None:
    bytes_ = PDF + uuid.uuid4().hex.encode()  # bytes nobody uploaded before this test
    first = await api.post(
        "/v1/evidence", data={"actor_role": "buyer", "actor_id": "b-1"}, files={"file": ("a.pdf", bytes_)}
    )
    second = await api.post(
        "/v1/evidence", data={"actor_role": "seller", "actor_id": "s-9"}, files={"file": ("b.pdf", bytes_)}
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["sha256"] == second.json()["sha256"]
    assert first.json()["reference"] != second.json()["reference"]
    # the receipt is the same shape whoever uploaded first: no uploader, no key name
    assert set(second.json()) == {"reference", "sha256", "size", "content_type", "created_at", "type"}
    assert second.json()["created_at"] >= first.json()["created_at"]


async def test_a_party_cites_its_own_uploads_or_what_the_case_cites(api: httpx.AsyncClient) -> None:
    photo = await upload_evidence(api, "buyer", "b-1")
    sellers = await upload_evidence(api, "seller", "s-1")
    unknown = f"ev-{uuid.uuid4().hex}"

    # Opening: the buyer cites its own upload only; someone else's and an unknown one read alike.
    stolen = await api.post("/v1/disputes", json=claim(new_order(), evidence=[photo, sellers, unknown]))
    reasons = refused_fields(stolen)
    assert set(reasons) == {"evidence.1", "evidence.2"}
    assert reasons["evidence.1"] == f"{sellers} is no evidence uploaded by buyer b-1"
    assert reasons["evidence.2"] == f"{unknown} is no evidence uploaded by buyer b-1"
    opened = await api.post("/v1/disputes", json=claim(new_order(), evidence=[photo]))
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]

    # The seller may cite the buyer's photo once the case cites it, not the buyer's other files.
    buyers_other = await upload_evidence(api, "buyer", "b-1")
    url = f"/v1/disputes/{dispute_id}/messages"
    quoted = await api.post(
        url, json={"actor": SELLER, "text": "About your photo", "evidence": [photo, sellers]}
    )
    assert quoted.status_code == 200, quoted.text
    taken = await api.post(url, json={"actor": SELLER, "text": "Look", "evidence": [buyers_other]})
    assert refused_fields(taken) == {
        "evidence.0": f"{buyers_other} is no evidence uploaded by seller s-1 nor cited on {dispute_id}"
    }
    appeal = {"actor": SELLER, "reason": "Delivered", "evidence": [buyers_other]}
    assert "evidence.0" in refused_fields(await api.post(f"/v1/disputes/{dispute_id}/appeal", json=appeal))

    # Cited on one case is not cited on another: the other dispute's parties cannot reach it.
    elsewhere = await api.post(
        "/v1/disputes", json=claim(new_order(), buyer_id="b-2", seller_id="s-2", evidence=[])
    )
    assert elsewhere.status_code == 201, elsewhere.text
    other_url = f"/v1/disputes/{elsewhere.json()['id']}/messages"
    reuse = {"actor": {"role": "buyer", "id": "b-2"}, "text": "Mine now", "evidence": [photo]}
    assert "evidence.0" in refused_fields(await api.post(other_url, json=reuse))

    # A report cites its user's uploads: the same person's upload as buyer is another party's.
    report = {"user_id": "b-1", "role": "buyer", "topic": "PAYMENT", "details": "Charged twice"}
    as_buyer = await api.post("/v1/tickets", json=report | {"attachments": [photo]})
    assert refused_fields(as_buyer) == {"attachments.0": f"{photo} is no evidence uploaded by user b-1"}
    own = await upload_evidence(api, "user", "b-1")
    assert (await api.post("/v1/tickets", json=report | {"attachments": [own]})).status_code == 201

    state = (await api.get(f"/v1/disputes/{dispute_id}")).json()
    assert buyers_other not in json.dumps(state)  # nothing refused reached the case


async def test_references_are_checked_by_form(api: httpx.AsyncClient) -> None:
    opened = await api.post("/v1/disputes", json=claim(new_order()))
    assert opened.status_code == 201, opened.text
    url = f"/v1/disputes/{opened.json()['id']}/messages"
    for hostile in ("javascript:alert(document.cookie)", "../../etc/passwd", "https://evil.example/x.png"):
        said = await api.post(
            url, json={"actor": BUYER, "text": "see", "evidence": ["ev-" + "0" * 32, hostile]}
        )
        reasons = refused_fields(said)
        assert reasons["evidence.1"].startswith("not an evidence reference"), reasons
        opening = await api.post("/v1/disputes", json=claim(new_order(), evidence=[hostile]))
        assert refused_fields(opening)["evidence.0"].startswith("not an evidence reference")
        report = {
            "user_id": "u-1",
            "role": "buyer",
            "topic": "PAYMENT",
            "details": "x",
            "attachments": [hostile],
        }
        assert "attachments.0" in refused_fields(await api.post("/v1/tickets", json=report))


async def test_cloud_events_cite_as_the_api_does(api: httpx.AsyncClient) -> None:
    sellers = await upload_evidence(api, "seller", "s-1")
    order = new_order()
    events: list[dict[str, Any]] = [
        cloud_event("dispute.opened", claim(order, evidence=[sellers])),
        cloud_event("dispute.opened", claim(order)),
        cloud_event(
            "dispute.buyer.message",
            {"actor": BUYER, "text": "hi", "evidence": ["javascript:x"]},
            subject=f"dispute-{order}",
        ),
    ]
    response = await api.post("/v1/events", content=json.dumps(events), headers=BATCH)
    assert response.status_code == 202, response.text
    stolen, opened, hostile = response.json()["items"]
    assert (stolen["status"], [e["field"] for e in stolen["errors"]]) == ("invalid", ["evidence.0"])
    assert opened["status"] == "accepted"
    assert (hostile["status"], [e["field"] for e in hostile["errors"]]) == ("invalid", ["evidence.0"])


async def test_who_uploaded_a_file_is_shown_to_admin_keys_only(api: httpx.AsyncClient) -> None:
    photo = await upload_evidence(api, "buyer", "b-1")
    opened = await api.post("/v1/disputes", json=claim(new_order(), evidence=[photo]))
    assert opened.status_code == 201, opened.text
    params = {"case_id": opened.json()["id"]}
    for headers in ({}, AS_CARE):
        meta = await api.get(f"/v1/evidence/{photo}/meta", params=params, headers=headers)
        assert meta.status_code == 200, meta.text
        assert set(meta.json()) == {"reference", "sha256", "size", "content_type", "created_at", "type"}
    admin = (await api.get(f"/v1/evidence/{photo}/meta", params=params, headers=AS_ADMIN)).json()
    assert admin["uploaded_by"] == BUYER and admin["caller"] == "checkout"
