"""CloudEvents ingestion over real HTTP: signals (with start), dedupe by id, refusals on record."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.support import AS_CARE, eventually

BATCH = {"Content-Type": "application/cloudevents-batch+json"}


def cloud_event(
    event_type: str, data: dict[str, Any], subject: str | None = None, **extra: Any
) -> dict[str, Any]:
    event = {
        "specversion": "1.0",
        "id": f"evt-{uuid.uuid4().hex[:12]}",
        "source": "/checkout",
        "type": f"com.marketplace.{event_type}",
        "datacontenttype": "application/json",
        "data": data,
    }
    if subject:
        event["subject"] = subject
    return event | extra


async def post(api: httpx.AsyncClient, events: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    response = await api.post(
        "/v1/events", content=json.dumps(events), headers=BATCH | kwargs.pop("headers", {})
    )
    assert response.status_code == 202, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_batch_with_a_duplicate_and_a_disallowed_event(api: httpx.AsyncClient) -> None:
    order = f"o-{uuid.uuid4().hex[:8]}"
    dispute_id = f"dispute-{order}"
    opened = cloud_event(
        "dispute.opened",
        {
            "order_id": order,
            "buyer_id": "b-1",
            "seller_id": "s-1",
            "order_total": 80000,
            "reason": "NOT_AS_DESCRIBED",
            "requested_solution": {"kind": "REFUND_TO_BUYER", "amount": 80000},
            "description": "Wrong colour",
        },
    )
    offer = cloud_event(
        "dispute.seller.offer",
        {"actor": {"role": "seller", "id": "s-1"}, "solution": {"kind": "REFUND_TO_BUYER", "amount": 20000}},
        subject=dispute_id,
    )
    too_early = cloud_event(
        "dispute.buyer.confirm_receipt", {"actor": {"role": "buyer", "id": "b-1"}}, subject=dispute_id
    )
    care_by_platform = cloud_event(
        "dispute.care.reply", {"actor": {"role": "care", "id": "agent-1"}, "text": "hi"}, subject=dispute_id
    )
    unknown = cloud_event(
        "dispute.buyer.dance", {"actor": {"role": "buyer", "id": "b-1"}}, subject=dispute_id
    )
    no_id = {k: v for k, v in offer.items() if k != "id"}
    wrong_role = cloud_event(
        "dispute.buyer.message", {"actor": {"role": "seller", "id": "s-1"}, "text": "x"}, subject=dispute_id
    )

    results = await post(api, [opened, offer, offer, too_early, care_by_platform, unknown, no_id, wrong_role])
    assert [r["status"] for r in results] == [
        "accepted",
        "accepted",
        "accepted",
        "accepted",
        "forbidden",
        "invalid",
        "invalid",
        "invalid",
    ]
    assert results[0]["case_id"] == dispute_id
    assert "unknown event type" in results[5]["detail"]

    async def rejected() -> list[dict[str, Any]]:
        state = (await api.get(f"/v1/disputes/{dispute_id}")).json()
        return [e for e in state["timeline"] if e["event"] == "event_rejected"]

    refusals = await eventually(rejected)
    assert [(r["detail"]["event_id"], r["detail"]["type"]) for r in refusals] == [
        (too_early["id"], "com.marketplace.dispute.buyer.confirm_receipt")
    ]
    assert "may not confirm_receipt" in refusals[0]["detail"]["reason"]
    state = (await api.get(f"/v1/disputes/{dispute_id}")).json()
    assert [p["solution"]["amount"] for p in state["proposals"]] == [20000]  # the duplicate did nothing
    assert state["status"] == "AWAITING_BUYER"

    # the same opened event again is a duplicate; another "opened" for the same order is refused on record
    again = await post(api, [opened, cloud_event("dispute.opened", opened["data"])])
    assert [r["status"] for r in again] == ["accepted", "accepted"]

    async def second_refusal() -> bool:
        return len(await rejected()) == 2

    await eventually(second_refusal)
    assert "already open" in (await rejected())[1]["detail"]["reason"]


async def test_ticket_events_and_unknown_cases(api: httpx.AsyncClient) -> None:
    report = cloud_event(
        "ticket.opened",
        {"user_id": "u-5", "role": "buyer", "topic": "SHIPPING", "details": "Parcel stuck for a week"},
    )
    first = await post(api, [report])
    again = await post(api, [report])
    ticket_id = first[0]["case_id"]
    assert ticket_id.startswith("care-ticket-")
    assert again[0]["case_id"] == ticket_id

    reply = cloud_event(
        "ticket.care.reply",
        {"actor": {"role": "care", "id": "agent-2"}, "text": "Courier contacted"},
        subject=ticket_id,
    )
    assert (await post(api, [reply], headers=AS_CARE))[0]["status"] == "accepted"

    async def replied() -> bool:
        return bool((await api.get(f"/v1/tickets/{ticket_id}")).json()["status"] == "AWAITING_USER")

    await eventually(replied)
    ghost = cloud_event(
        "ticket.user.message",
        {"actor": {"role": "user", "id": "u-5"}, "text": "hello?"},
        subject="care-ticket-none",
    )
    assert (await post(api, [ghost]))[0]["status"] == "not_found"
    empty = await api.post("/v1/events", content="[]", headers=BATCH)
    assert empty.status_code == 422


async def test_an_opened_event_for_another_partys_dispute_is_refused_and_writes_nothing(
    api: httpx.AsyncClient,
) -> None:
    order = f"o-{uuid.uuid4().hex[:8]}"
    dispute_id = f"dispute-{order}"
    claim = {
        "order_id": order,
        "buyer_id": "b-1",
        "seller_id": "s-1",
        "order_total": 80000,
        "reason": "NOT_AS_DESCRIBED",
        "requested_solution": {"kind": "REFUND_TO_BUYER", "amount": 80000},
        "description": "Wrong colour",
    }
    [opened] = await post(api, [cloud_event("dispute.opened", claim)])
    assert opened["status"] == "accepted"
    before = (await api.get(f"/v1/disputes/{dispute_id}")).json()

    # the same order, claimed by another buyer against another seller
    intruder = cloud_event("dispute.opened", claim | {"buyer_id": "b-2", "seller_id": "s-2"})
    [refused] = await post(api, [intruder])
    assert refused["status"] == "conflict", refused
    assert refused["problem_status"] == 409
    assert "between other parties" in refused["detail"]

    # a later event proves the case has handled everything sent before it: nothing of the intruder
    message = cloud_event(
        "dispute.buyer.message", {"actor": {"role": "buyer", "id": "b-1"}, "text": "halo"}, subject=dispute_id
    )
    assert [r["status"] for r in await post(api, [message])] == ["accepted"]

    async def messaged() -> dict[str, Any] | None:
        state: dict[str, Any] = (await api.get(f"/v1/disputes/{dispute_id}")).json()
        return state if len(state["timeline"]) > len(before["timeline"]) else None

    after = await eventually(messaged)
    assert (after["buyer_id"], after["seller_id"]) == ("b-1", "s-1")
    added = after["timeline"][len(before["timeline"]) :]
    assert [e["event"] for e in added if e["event"] == "event_rejected"] == []
    assert intruder["id"] not in json.dumps(after)
