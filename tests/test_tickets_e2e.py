"""Help-center reports over real HTTP against a real dev server: queue, reply, inbox, solve, links."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.outbound import CaseEvent
from tests.support import AS_CARE, eventually, serving
from wiring.temporal import build_worker, case_activities

CARE = {"role": "care", "id": "agent-7"}


def report(user_id: str, topic: str = "PAYMENT", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "user_id": user_id,
        "role": "buyer",
        "topic": topic,
        "order_id": None,
        "details": "I was charged twice for one order",
        "attachments": [],
    }
    return body | overrides


async def queue_ids(api: httpx.AsyncClient, **params: str) -> list[str]:
    page = await api.get("/v1/care/queue", params=params, headers=AS_CARE)
    assert page.status_code == 200, page.text
    return [item["id"] for item in page.json()["items"]]


async def test_report_queue_reply_inbox_solve(api: httpx.AsyncClient) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    filed = await api.post("/v1/tickets", json=report(user))
    assert filed.status_code == 201, filed.text
    ticket = filed.json()
    ticket_id = ticket["id"]
    assert ticket_id.startswith("care-ticket-")
    assert ticket["status"] == "AWAITING_CARE"
    assert ticket["care_reply_due_at"] is not None
    assert ticket["sla_breached"] is False
    assert ticket["messages"][0]["text"] == "I was charged twice for one order"

    urgent = (await api.post("/v1/tickets", json=report(user, "ACCOUNT_SECURITY"))).json()["id"]

    async def both_queued() -> list[str] | None:
        ids = await queue_ids(api, kind="ticket")
        return ids if {ticket_id, urgent} <= set(ids) else None

    ids = await eventually(both_queued)
    assert ids.index(urgent) < ids.index(ticket_id)  # account security sorts first
    assert ticket_id in await queue_ids(api, topic="PAYMENT")
    assert ticket_id not in await queue_ids(api, topic="SHIPPING")

    stranger = await api.post(
        f"/v1/tickets/{ticket_id}/messages", json={"actor": {"role": "user", "id": "u-other"}, "text": "hi"}
    )
    assert stranger.status_code == 403
    too_early = await api.post(
        f"/v1/tickets/{ticket_id}/messages", json={"actor": CARE, "text": "hi"}, headers=AS_CARE
    )
    assert too_early.status_code == 409
    assert too_early.json()["allowed_actions"]["care"] == ["reply", "solve", "hold", "assign", "claim"]

    replied = await api.post(
        f"/v1/tickets/{ticket_id}/care/replies",
        json={"actor": CARE, "text": "The duplicate is refunded"},
        headers=AS_CARE,
    )
    assert replied.status_code == 200, replied.text
    assert replied.json()["status"] == "AWAITING_USER"

    async def delivered() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await api.get(f"/v1/users/{user}/inbox")).json()["items"]
        return items or None

    inbox = await eventually(delivered)
    assert [(m["case_id"], m["text"], m["read"]) for m in inbox] == [
        (ticket_id, "The duplicate is refunded", False)
    ]
    read = await api.post(f"/v1/users/{user}/inbox/{inbox[0]['id']}/read")
    assert read.json()["read"] is True
    assert (await api.get(f"/v1/users/{user}/inbox")).json()["items"][0]["read"] is True
    assert (await api.post(f"/v1/users/u-other/inbox/{inbox[0]['id']}/read")).status_code == 404

    async def left_queue() -> bool:
        return ticket_id not in await queue_ids(api, kind="ticket")

    await eventually(left_queue)

    solved = await api.post(f"/v1/tickets/{ticket_id}/solve", json={"actor": CARE}, headers=AS_CARE)
    assert solved.json()["status"] == "SOLVED"
    assert solved.json()["closes_at"] is not None
    mine = (await api.get("/v1/tickets", params={"user_id": user})).json()["items"]
    assert {item["id"] for item in mine} >= {ticket_id, urgent}


async def test_report_about_an_order_in_dispute_links_both_ways(api: httpx.AsyncClient) -> None:
    order = f"o-{uuid.uuid4().hex[:8]}"
    dispute = await api.post(
        "/v1/disputes",
        json={
            "order_id": order,
            "buyer_id": "b-9",
            "seller_id": "s-9",
            "order_total": 75000,
            "reason": "DAMAGED",
            "requested_solution": {"kind": "EXCHANGE"},
            "description": "Cracked",
        },
    )
    dispute_id = dispute.json()["id"]
    filed = await api.post("/v1/tickets", json=report("b-9", "ORDERS", order_id=order))
    ticket = filed.json()
    assert ticket["dispute_id"] == dispute_id

    async def linked() -> bool:
        state = (await api.get(f"/v1/disputes/{dispute_id}")).json()
        return bool(state["linked_tickets"] == [ticket["id"]])

    await eventually(linked)

    unrelated = await api.post("/v1/tickets", json=report("b-9", "ORDERS", order_id="o-without-dispute"))
    assert unrelated.json()["dispute_id"] is None

    bad = await api.post("/v1/tickets", json=report("b 9", "GOSSIP"))
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"user_id", "topic"}
    assert (await api.get("/v1/tickets/care-ticket-nope")).status_code == 404


async def test_a_reply_while_an_event_is_being_published_still_reaches_the_inbox(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, engine: AsyncEngine
) -> None:
    """Regression: notices queued while the workflow was publishing a change were left unsent."""
    settings = Settings(task_queue=task_queue, data_dir=tmp_path)
    activities = case_activities(settings, dev_server_env.client, engine)
    real = activities.publisher

    class SlowPublisher:
        async def publish(self, event: CaseEvent) -> int:
            await asyncio.sleep(1)  # a slow webhook store, or many subscribers
            return await real.publish(event)

    activities.publisher = SlowPublisher()
    worker = build_worker(dev_server_env.client, settings, activities, engine)
    async with serving(settings, dev_server_env, worker=False, engine=engine) as api, worker:
        user = f"u-{uuid.uuid4().hex[:8]}"
        ticket = (await api.post("/v1/tickets", json=report(user))).json()["id"]
        await asyncio.sleep(0.5)  # the 'opened' notice is out; the 'opened' event is being dispatched
        replied = await api.post(
            f"/v1/tickets/{ticket}/care/replies", json={"actor": CARE, "text": "Refunded"}, headers=AS_CARE
        )
        assert replied.status_code == 200, replied.text

        async def delivered() -> list[Any]:
            items: list[Any] = (await api.get(f"/v1/users/{user}/inbox")).json()["items"]
            return items

        assert [m["text"] for m in await eventually(delivered, seconds=10)] == ["Refunded"]
