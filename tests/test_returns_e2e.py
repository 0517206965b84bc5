"""A return and refund over real HTTP on the dev server, driven by the marketplace's delivery
CloudEvent (issue 20): one refund at the platform; a delivery twice is applied once, one for an
unknown tracking number is refused and changes nothing, over the batch and over REST."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support import AS_CARE, claim, eventually, new_order

BATCH = {"Content-Type": "application/cloudevents-batch+json"}
BUYER = {"role": "buyer", "id": "b-1"}
SELLER = {"role": "seller", "id": "s-1"}


def delivered(
    order_id: str, tracking_number: str, at: datetime, event_id: str | None = None
) -> dict[str, Any]:
    """The marketplace's ``com.marketplace.shipment.delivered`` for ``order_id``."""
    return {
        "specversion": "1.0",
        "id": event_id or f"dlv-{uuid.uuid4().hex[:12]}",
        "source": "/logistics",
        "type": "com.marketplace.shipment.delivered",
        "subject": order_id,
        "datacontenttype": "application/json",
        "data": {"tracking_number": tracking_number, "delivered_at": at.isoformat(), "carrier": "jne"},
    }


async def batch(
    api: httpx.AsyncClient, *events: dict[str, Any], headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    response = await api.post("/v1/events", content=json.dumps(list(events)), headers=BATCH | (headers or {}))
    assert response.status_code == 202, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_return_driven_by_the_delivery_event_refunds_once(api: httpx.AsyncClient) -> None:
    order = new_order()
    solution = {"kind": "RETURN_AND_REFUND", "amount": 120_000}
    opened = await api.post("/v1/disputes", json=claim(order, requested_solution=solution, reason="DAMAGED"))
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]
    base = f"/v1/disputes/{dispute_id}"

    accepted = await api.post(f"{base}/accept", json={"actor": SELLER})
    assert accepted.status_code == 200, accepted.text
    [window] = accepted.json()["deadlines"]
    assert (window["party"], window["action"], window["then"]) == (
        "buyer",
        "ship",
        "claim_lapsed_funds_released",
    )
    shipped = await api.post(
        f"{base}/shipments", json={"actor": BUYER, "tracking_number": "JNE-R1", "carrier": "jne"}
    )
    assert shipped.status_code == 200, shipped.text
    [transit] = shipped.json()["deadlines"]  # in transit: care takes over if it never arrives
    assert (transit["action"], transit["then"]) == ("return_delivered", "escalated_to_care")
    seq_before = shipped.json()["timeline_seq"]

    # a delivery for a resi the dispute does not have: refused, nothing reaches the case
    [unknown] = await batch(api, delivered(order, "JNE-NOPE", datetime.now(UTC)))
    assert (unknown["status"], unknown["problem_status"], unknown["case_id"]) == ("refused", 404, dispute_id)
    assert (await api.get(base)).json()["timeline_seq"] == seq_before
    rest_unknown = await api.post(
        f"{base}/shipments/JNE-NOPE/delivered", json={"delivered_at": datetime.now(UTC).isoformat()}
    )
    assert rest_unknown.status_code == 404, rest_unknown.text
    assert rest_unknown.headers["content-type"].startswith("application/problem+json")

    [by_care_event] = await batch(api, delivered(order, "JNE-R1", datetime.now(UTC)), headers=AS_CARE)
    assert by_care_event["status"] == "forbidden"
    at = datetime.now(UTC)  # after the shipment was reported (a window never counts from before it)
    event = delivered(order, "JNE-R1", at, event_id="dlv-first")
    again = delivered(order, "JNE-R1", at)  # the same delivery as another event
    results = await batch(api, event, event, again)
    assert [r["status"] for r in results] == ["accepted", "accepted", "accepted"]

    async def inspecting() -> dict[str, Any] | None:
        dispute: dict[str, Any] = (await api.get(base)).json()
        return dispute if dispute["shipments"][0]["delivered_at"] is not None else None

    dispute = await eventually(inspecting)
    [inspection] = dispute["deadlines"]
    assert (inspection["party"], inspection["action"]) == ("seller", "confirm_return")
    assert datetime.fromisoformat(inspection["due_at"]) == at + timedelta(days=2)
    assert [e["event"] for e in dispute["timeline"]].count("delivered") == 1
    assert dispute["allowed_actions"]["seller"] == ["message", "confirm_return", "refuse_return"]

    # the REST twin is platform-only, and a repeat there changes nothing either
    by_care = await api.post(
        f"{base}/shipments/JNE-R1/delivered", json={"delivered_at": at.isoformat()}, headers=AS_CARE
    )
    assert by_care.status_code == 403, by_care.text
    repeat = await api.post(f"{base}/shipments/JNE-R1/delivered", json={"delivered_at": at.isoformat()})
    assert repeat.status_code == 200, repeat.text
    assert [e["event"] for e in repeat.json()["timeline"]].count("delivered") == 1

    confirmed = await api.post(f"{base}/return/confirm", json={"actor": SELLER})
    assert confirmed.status_code == 200, confirmed.text

    async def resolved() -> dict[str, Any] | None:
        dispute: dict[str, Any] = (await api.get(base)).json()
        return dispute if dispute["status"] == "RESOLVED" else None

    final = await eventually(resolved)
    assert (final["outcome"]["refunded_to_buyer"], final["outcome"]["released_to_seller"]) == (
        120_000,
        30_000,
    )
    assert final["return_result"]["verdict"] == "confirmed"
    effects = (await api.get(f"{base}/effects")).json()["items"]
    refunds = [e for e in effects if e["kind"] == "REFUND_TO_BUYER"]
    assert [(e["amount"], e["idempotency_key"]) for e in refunds] == [
        (120_000, f"{dispute_id}:refund_to_buyer")
    ]
    [arrived] = [e for e in effects if e["template"] == "dispute.return_delivered"]
    assert (arrived["party"], arrived["locale"], arrived["params"]["resi"]) == ("seller", "id", "JNE-R1")
    assert f"Barang retur untuk komplain {dispute_id} (resi JNE-R1) sudah sampai" in arrived["text"]

    # once closed, a delivery is answered 'closed'
    [late] = await batch(api, delivered(order, "JNE-R1", at))
    assert late["status"] == "closed"
