"""Party reads (``actor_role`` / ``actor_id``) list that party's cases only, or are refused: a role a
list is not read in never falls back to the whole list (finding 2 of issue 12)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support import AS_CARE, claim, eventually, new_order


def as_party(role: str, party_id: str, **filters: str) -> dict[str, str]:
    return {"actor_role": role, "actor_id": party_id, **filters}


def refused(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    for word in words:
        assert word in problem["detail"], problem
    return problem


def ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_every_list_is_filtered_by_the_reading_party_or_refused(api: httpx.AsyncClient) -> None:
    run = uuid.uuid4().hex[:6]
    buyer, other_buyer, seller = f"b-{run}", f"b2-{run}", f"s-{run}"
    mine = await api.post("/v1/disputes", json=claim(new_order(), buyer_id=buyer, seller_id=seller))
    theirs = await api.post("/v1/disputes", json=claim(new_order(), buyer_id=other_buyer, seller_id=seller))
    assert (mine.status_code, theirs.status_code) == (201, 201), (mine.text, theirs.text)
    report = {"user_id": buyer, "role": "buyer", "topic": "PAYMENT", "details": "Charged twice"}
    my_report = await api.post("/v1/tickets", json=report)
    their_report = await api.post("/v1/tickets", json=report | {"user_id": other_buyer})
    assert (my_report.status_code, their_report.status_code) == (201, 201)
    both_disputes = {mine.json()["id"], theirs.json()["id"]}
    both_reports = {my_report.json()["id"], their_report.json()["id"]}

    async def listed() -> bool:  # visibility catches up with the starts
        disputes = ids(await api.get("/v1/disputes", params={"seller_id": seller}))
        reports = ids(await api.get("/v1/tickets", params={"topic": "PAYMENT", "limit": 500}))
        return both_disputes <= disputes and both_reports <= reports

    await eventually(listed)

    # The finding: a party read as `user` listed every dispute. Disputes are read as buyer or seller.
    as_user = await api.get("/v1/disputes", params=as_party("user", buyer))
    problem = refused(as_user, 422, "disputes cannot be read as user", "buyer or seller")
    assert problem["errors"] == [{"field": "actor_role", "reason": problem["detail"]}]
    assert ids(await api.get("/v1/disputes", params=as_party("buyer", buyer))) == {mine.json()["id"]}
    assert ids(await api.get("/v1/disputes", params=as_party("seller", seller))) == both_disputes
    narrowed = as_party("seller", seller, buyer_id=other_buyer)
    assert ids(await api.get("/v1/disputes", params=narrowed)) == {theirs.json()["id"]}
    # a filter naming another party is refused, not silently replaced
    snooping = await api.get("/v1/disputes", params=as_party("buyer", buyer, buyer_id=other_buyer))
    refused(snooping, 403, f"buyer {buyer} may not read the disputes of {other_buyer}")
    care_read = await api.get("/v1/disputes", params=as_party("care", "agent-7"), headers=AS_CARE)
    refused(care_read, 422, "disputes cannot be read as care")

    # Reports are read as their user; buyer and seller name dispute parties, not reporters.
    assert ids(await api.get("/v1/tickets", params=as_party("user", buyer))) == {my_report.json()["id"]}
    refused(
        await api.get("/v1/tickets", params=as_party("buyer", buyer)), 422, "reports cannot be read as buyer"
    )
    refused(
        await api.get("/v1/tickets", params=as_party("user", buyer, user_id=other_buyer)),
        403,
        f"user {buyer} may not read the reports of {other_buyer}",
    )
    as_care = await api.get("/v1/tickets", params=as_party("care", "agent-7"), headers=AS_CARE)
    refused(as_care, 422, "reports cannot be read as care")

    # The care queue is read whole by care tools, never as a party.
    queue = await api.get("/v1/care/queue", params=as_party("care", "agent-7"), headers=AS_CARE)
    refused(queue, 422, "the care queue cannot be read as care")
    assert (await api.get("/v1/care/queue", headers=AS_CARE)).status_code == 200

    # An inbox is its user's, whichever of its roles the platform reads it in.
    inbox = f"/v1/users/{buyer}/inbox"
    for role in ("user", "buyer", "seller"):
        assert (await api.get(inbox, params=as_party(role, buyer))).status_code == 200
    refused(await api.get(inbox, params=as_party("user", other_buyer)), 403, f"of {buyer}")
    refused(await api.get(inbox, params=as_party("care", "agent-7"), headers=AS_CARE), 422, "as care")
