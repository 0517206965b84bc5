"""Adding an action touches the registry, its rule and its test: this test registers one of its own.

A seller's ``request_return_label`` (the seller asks the platform for a prepaid label while the
buyer's return is due) is registered here, with its rule, and nothing else is changed: the HTTP
route, the workflow's update, ``allowed_actions``, the CloudEvents mapping, the timeline, the
notice to the other party and the webhook event all follow from the registry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from domain.commands import Command
from domain.dispute import DISPUTE_ACTIONS, Dispute, DisputeStatus
from domain.events import DomainEvent
from domain.types import Identifier, Role
from tests.support import BUYER, SELLER, claim, eventually, new_order


class RequestReturnLabel(Command):
    """Seller asks for a prepaid return label for the buyer's return shipment."""

    action = "request_return_label"
    carrier: Identifier


@pytest.fixture
def return_label_action() -> Iterator[None]:
    """The whole new action: its command above, and here its rule, registered for disputes."""

    def buyer_must_return(dispute: Dispute, role: Role, now: datetime | None) -> bool:
        return dispute.status is DisputeStatus.AWAITING_FULFILMENT and dispute.next_shipper() is Role.BUYER

    @DISPUTE_ACTIONS.action(
        RequestReturnLabel, roles={Role.SELLER}, path="return-label", allowed=buyer_must_return
    )
    def request_return_label(
        dispute: Dispute, command: RequestReturnLabel, now: datetime
    ) -> list[DomainEvent]:
        return []

    yield
    DISPUTE_ACTIONS.remove(RequestReturnLabel.action)


async def open_exchange(api: httpx.AsyncClient) -> str:
    opened = await api.post(
        "/v1/disputes", json=claim(new_order(), total=80_000, requested_solution={"kind": "EXCHANGE"})
    )
    assert opened.status_code == 201, opened.text
    dispute_id: str = opened.json()["id"]
    return dispute_id


async def test_a_registered_action_works_end_to_end(
    return_label_action: None, api: httpx.AsyncClient
) -> None:
    dispute_id = await open_exchange(api)
    label = {"actor": SELLER, "carrier": "jne"}

    # not allowed before the exchange is agreed: 409 with what is allowed now
    early = await api.post(f"/v1/disputes/{dispute_id}/return-label", json=label)
    assert early.status_code == 409, early.text
    assert "request_return_label" not in early.json()["allowed_actions"]["seller"]

    agreed = await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": SELLER})
    assert agreed.json()["allowed_actions"]["seller"] == ["message", "request_return_label"]

    # the route, validation and actor checks come from the registry too
    assert (
        await api.post(f"/v1/disputes/{dispute_id}/return-label", json={"actor": SELLER})
    ).status_code == 422
    as_buyer = await api.post(
        f"/v1/disputes/{dispute_id}/return-label", json={"actor": BUYER, "carrier": "jne"}
    )
    assert as_buyer.status_code == 409
    requested = await api.post(f"/v1/disputes/{dispute_id}/return-label", json=label)
    assert requested.status_code == 200, requested.text
    entry = requested.json()["timeline"][-1]
    assert (entry["event"], entry["actor"], entry["detail"]) == (
        "request_return_label",
        SELLER,
        {"carrier": "jne"},
    )

    # and as a CloudEvent
    event = {
        "specversion": "1.0",
        "id": f"lbl-{uuid.uuid4().hex[:8]}",
        "source": "/seller-app",
        "type": "com.marketplace.dispute.seller.request_return_label",
        "subject": dispute_id,
        "data": label,
    }
    ingested = await api.post("/v1/events", json=[event])
    assert ingested.json()["items"][0]["status"] == "accepted", ingested.text

    async def both_recorded() -> bool:
        timeline = (await api.get(f"/v1/disputes/{dispute_id}")).json()["timeline"]
        return [e["event"] for e in timeline].count("request_return_label") == 2

    await eventually(both_recorded)

    async def buyer_told_twice() -> bool:
        effects = (await api.get(f"/v1/disputes/{dispute_id}/effects")).json()["items"]
        told = [
            e
            for e in effects
            if e["party"] == "buyer" and (e["params"] or {}).get("action") == "request_return_label"
        ]
        return len(told) == 2

    await eventually(buyer_told_twice)

    schema = (await api.get("/openapi.json")).json()
    assert "/v1/disputes/{dispute_id}/return-label" in schema["paths"]


def test_the_action_is_gone_when_unregistered() -> None:
    assert DISPUTE_ACTIONS.get("request_return_label") is None
