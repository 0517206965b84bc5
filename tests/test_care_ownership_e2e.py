"""Ownership over real HTTP against a real dev server: two agents claiming one case at once (one
wins, the other gets 409), assigning and releasing on both kinds, and the team lead's stats
reflecting an assignment."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.settings import Settings
from tests.support import (
    AS_ADMIN,
    AS_CARE,
    AS_SUPERVISOR,
    BUYER,
    SELLER,
    claim,
    eventually,
    listening,
    new_order,
)

AGENT = {"role": "care", "id": "agent-7"}
OTHER = {"role": "care", "id": "agent-8"}
LEAD = {"role": "supervisor", "id": "lead-3"}
OPERATOR = {"role": "operator", "id": "oncall-1"}


@pytest.fixture
def settings(task_queue: str, tmp_path: Path) -> Settings:
    """Two care groups; reports about payments and disputes about parcels routed to them."""
    return Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        care_groups=["payments", "logistics"],
        care_routing={"PAYMENT": "payments", "NOT_RECEIVED": "logistics"},
        webhook_allow_private_hosts=True,
    )


async def mediated(api: httpx.AsyncClient) -> str:
    """A dispute about a parcel that never arrived, taken to care by the buyer."""
    opened = await api.post("/v1/disputes", json=claim(new_order()))
    assert opened.status_code == 201, opened.text
    dispute_id: str = opened.json()["id"]
    countered = await api.post(
        f"/v1/disputes/{dispute_id}/offers",
        json={"actor": SELLER, "solution": {"kind": "REFUND_TO_BUYER", "amount": 10_000}},
    )
    assert countered.status_code == 200, countered.text
    helped = await api.post(f"/v1/disputes/{dispute_id}/help", json={"actor": BUYER})
    assert helped.json()["status"] == "IN_MEDIATION", helped.text
    return dispute_id


async def filed(api: httpx.AsyncClient, topic: str = "PAYMENT") -> str:
    body = {
        "user_id": f"u-{uuid.uuid4().hex[:8]}",
        "role": "buyer",
        "topic": topic,
        "details": "I was charged twice for one order",
    }
    answer = await api.post("/v1/tickets", json=body)
    assert answer.status_code == 201, answer.text
    ticket_id: str = answer.json()["id"]
    return ticket_id


async def test_two_agents_claiming_one_case_at_once_one_wins(api: httpx.AsyncClient) -> None:
    dispute_id = await mediated(api)
    case = (await api.get(f"/v1/disputes/{dispute_id}")).json()
    assert (case["care_group"], case["assignee"]) == ("logistics", None)  # routed by its reason
    path = f"/v1/disputes/{dispute_id}/care/claim"
    answers = await asyncio.gather(
        *(api.post(path, json={"actor": agent}, headers=AS_CARE) for agent in (AGENT, OTHER))
    )
    codes = sorted(answer.status_code for answer in answers)
    assert codes[1] == 409 and codes[0] in (200, 202), [a.text for a in answers]
    won = next(answer for answer in answers if answer.status_code != 409).json()
    lost = next(answer for answer in answers if answer.status_code == 409).json()
    winner = won["assignee"]
    assert winner in (AGENT["id"], OTHER["id"])
    assert lost["assignee"] == winner and f"assigned to {winner}" in lost["detail"]
    assert "claim" in lost["allowed_actions"]["care"]
    # the loser cannot release or hand over the winner's case either
    loser = OTHER if winner == AGENT["id"] else AGENT
    released = await api.post(
        f"/v1/disputes/{dispute_id}/care/release", json={"actor": loser}, headers=AS_CARE
    )
    assert released.status_code == 409


async def test_assign_and_release_on_a_report(api: httpx.AsyncClient) -> None:
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"ok": True})

    async with listening(Starlette(routes=[Route("/hooks", hook, methods=["POST"])])) as url:
        subscribed = await api.post(
            "/v1/webhooks", json={"url": f"{url}/hooks", "event_types": ["care.assigned"]}
        )
        assert subscribed.status_code == 201, subscribed.text
        await assign_and_release(api)

        async def told() -> list[dict[str, Any]]:
            return [event for event in received if event["data"].get("assignee") == OTHER["id"]]

        [handed] = await eventually(told)
    assert {event["type"] for event in received} == {"care.assigned"}  # the subscription's type only
    assert handed["data"]["care_group"] == "logistics"
    assert "I was charged twice" not in str(received)  # ids and groups, never the report's text


async def assign_and_release(api: httpx.AsyncClient) -> None:
    """Assign, claim and release a report through the care, supervisor and admin keys."""
    ticket_id = await filed(api)
    base = f"/v1/tickets/{ticket_id}/care"
    assert (await api.get(f"/v1/tickets/{ticket_id}")).json()["care_group"] == "payments"

    # the platform's key acts for no care agent; an assignment names someone and a known group
    platform = await api.post(f"{base}/claim", json={"actor": AGENT})
    assert platform.status_code == 403
    posing = await api.post(f"{base}/assign", json={"actor": LEAD, "assignee": "agent-9"}, headers=AS_CARE)
    assert posing.status_code == 403  # a care key acts for agents, not as a supervisor
    empty = await api.post(f"{base}/assign", json={"actor": LEAD}, headers=AS_SUPERVISOR)
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "assignee"
    unknown = await api.post(
        f"{base}/assign", json={"actor": LEAD, "group": "billing"}, headers=AS_SUPERVISOR
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "group"

    given = await api.post(
        f"{base}/assign",
        json={"actor": LEAD, "assignee": AGENT["id"], "group": "logistics"},
        headers=AS_SUPERVISOR,
    )
    assert given.status_code == 200, given.text
    assert (given.json()["assignee"], given.json()["care_group"]) == (AGENT["id"], "logistics")
    assert given.json()["allowed_actions"]["care"] == ["reply", "solve", "hold", "assign", "claim", "release"]
    taken = await api.post(f"{base}/claim", json={"actor": OTHER}, headers=AS_CARE)
    assert taken.status_code == 409
    mine = await api.post(f"{base}/release", json={"actor": AGENT}, headers=AS_CARE)
    assert mine.status_code == 200, mine.text
    assert (mine.json()["assignee"], mine.json()["care_group"]) == (None, "logistics")
    events = [entry["event"] for entry in mine.json()["timeline"]]
    assert events[-2:] == ["assign", "release"]
    # an operator (admin key) reassigns too; an operator claims nothing
    handed = await api.post(
        f"{base}/assign", json={"actor": OPERATOR, "assignee": OTHER["id"]}, headers=AS_ADMIN
    )
    assert handed.status_code == 200, handed.text
    assert handed.json()["assignee"] == OTHER["id"]
    refused = await api.post(f"{base}/claim", json={"actor": OPERATOR}, headers=AS_ADMIN)
    assert refused.status_code == 409


async def test_the_stats_reflect_an_assignment(api: httpx.AsyncClient) -> None:
    ticket_id = await filed(api)
    agent = {"role": "care", "id": f"agent-{uuid.uuid4().hex[:6]}"}
    assert (await api.get("/v1/care/stats")).status_code == 403  # the platform's key
    given = await api.post(
        f"/v1/tickets/{ticket_id}/care/assign",
        json={"actor": LEAD, "assignee": agent["id"]},
        headers=AS_SUPERVISOR,
    )
    assert given.status_code == 200, given.text
    replied = await api.post(
        f"/v1/tickets/{ticket_id}/care/replies", json={"actor": agent, "text": "Refunded"}, headers=AS_CARE
    )
    assert replied.status_code == 200, replied.text

    async def agent_figures() -> dict[str, Any] | None:
        stats = await api.get("/v1/care/stats", headers=AS_SUPERVISOR)
        assert stats.status_code == 200, stats.text
        found = [row for row in stats.json()["agents"] if row["agent"] == agent["id"]]
        return found[0] if found and found[0]["first_replies"] == 1 else None

    figures = await eventually(agent_figures)
    assert figures["open_cases"] == 1
    assert figures["breaches"] == 0
    assert figures["first_reply_median_seconds"] >= 0
    groups = {
        row["group"]: row for row in (await api.get("/v1/care/stats", headers=AS_CARE)).json()["groups"]
    }
    assert groups["payments"]["open_cases"] >= 1
    naive = await api.get("/v1/care/stats", params={"since": "2026-01-01T00:00:00"}, headers=AS_CARE)
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "since"
