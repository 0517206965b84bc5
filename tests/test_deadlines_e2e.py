"""The clocks that act, over real HTTP against the real Temporal dev server, with shortened
settings: a silent seller is escalated by the system, an exchange the buyer never confirms is
completed by the system with exactly one release, an appeal goes to a supervisor key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from core import search_attributes as sa
from core.settings import Settings
from tests.support import (
    AS_ADMIN,
    AS_CARE,
    AS_SUPERVISOR,
    BUYER,
    CARE,
    SELLER,
    claim,
    eventually,
    new_order,
    serving,
    upload_evidence,
)

SUPERVISOR = {"role": "supervisor", "id": "lead-3"}


async def read(api: httpx.AsyncClient, dispute_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/disputes/{dispute_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def effects(api: httpx.AsyncClient, dispute_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get(f"/v1/disputes/{dispute_id}/effects")).json()["items"]
    return items


async def test_a_seller_who_never_answers_is_escalated_by_the_system(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    settings = Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        seller_response=timedelta(seconds=4),
        reminder_lead=timedelta(seconds=2),
    )
    async with serving(settings, dev_server_env) as api:
        opened = await api.post("/v1/disputes", json=claim(new_order()))
        assert opened.status_code == 201, opened.text
        dispute = opened.json()
        dispute_id = dispute["id"]
        seller_window = dispute["deadlines"][0]
        assert {k: seller_window[k] for k in ("party", "action", "then")} == {
            "party": "seller",
            "action": "respond",
            "then": "escalated_to_care",
        }

        async def escalated() -> dict[str, Any] | None:
            state = await read(api, dispute_id)
            return state if state["status"] == "IN_MEDIATION" else None

        state = await eventually(escalated, seconds=30)
        assert (state["escalated_by"], state["escalation_reason"]) == (
            "system",
            "the seller did not respond within 4s",
        )
        entry = next(e for e in state["timeline"] if e["event"] == "escalated")
        assert (entry["actor"], entry["detail"]["by"]) == (None, "system")
        assert [(d["party"], d["action"]) for d in state["deadlines"]] == [
            ("care", "reply"),
            ("care", "decide"),
        ]

        async def mediation_opened() -> bool:
            return (await read(api, dispute_id))["mediation_case_ref"] is not None

        await eventually(mediation_opened)

        async def reminders() -> list[str]:
            notices = [e for e in await effects(api, dispute_id) if e["kind"] == "NOTIFICATION"]
            return [e["party"] for e in notices if e["template"] == "dispute.reminder.care_takes_over"]

        assert await eventually(reminders) == ["seller"]  # once, before the window closed
        reminded = next(e for e in state["timeline"] if e["event"] == "reminder_sent")
        assert datetime.fromisoformat(reminded["at"]) < datetime.fromisoformat(entry["at"])

        async def queued() -> dict[str, Any] | None:
            items = (await api.get("/v1/care/queue", params={"kind": "dispute"}, headers=AS_CARE)).json()[
                "items"
            ]
            return next((item for item in items if item["id"] == dispute_id), None)

        item = await eventually(queued)
        for due in ("care_reply_due_at", "care_decision_due_at"):
            assert datetime.fromisoformat(item[due]) == datetime.fromisoformat(state[due])

        soon = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = f"{sa.NEXT_DEADLINE_AT.name} < '{soon}' AND WorkflowId = '{dispute_id}'"

        async def listed_by_deadline() -> bool:
            return [w.id async for w in dev_server_env.client.list_workflows(query)] == [dispute_id]

        await eventually(listed_by_deadline)


async def test_an_exchange_the_buyer_never_confirms_is_completed_with_one_release(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    settings = Settings(task_queue=task_queue, data_dir=tmp_path, receipt_window=timedelta(seconds=6))
    async with serving(settings, dev_server_env) as api:
        body = claim(new_order(), requested_solution={"kind": "EXCHANGE"})
        dispute_id = (await api.post("/v1/disputes", json=body)).json()["id"]
        assert (
            await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": SELLER})
        ).status_code == 200
        returned = await api.post(
            f"/v1/disputes/{dispute_id}/shipments",
            json={"actor": BUYER, "tracking_number": "JNE-RET-1", "carrier": "jne"},
        )
        assert returned.json()["deadlines"][0]["party"] == "seller"
        shipped = await api.post(
            f"/v1/disputes/{dispute_id}/shipments",
            json={"actor": SELLER, "tracking_number": "JNE-NEW-1", "carrier": "jne"},
        )
        assert [(d["party"], d["action"], d["then"]) for d in shipped.json()["deadlines"]] == [
            ("buyer", "confirm_receipt", "receipt_confirmed")
        ]

        async def resolved() -> dict[str, Any] | None:
            state = await read(api, dispute_id)
            return state if state["status"] == "RESOLVED" else None

        final = await eventually(resolved, seconds=30)
        assert final["outcome"]["released_to_seller"] == 150000
        assert final["outcome"]["refunded_to_buyer"] == 0
        events = [e["event"] for e in final["timeline"]]
        assert "receipt_confirmed" in events and "confirm_receipt" not in events
        money = [(e["kind"], e["amount"]) for e in await effects(api, dispute_id) if e["amount"] is not None]
        assert money == [("RELEASE_TO_SELLER", 150000)]
        assert final["deadlines"] == []


async def test_an_appeal_of_cares_decision_goes_to_a_supervisor_key(api: httpx.AsyncClient) -> None:
    dispute_id = (await api.post("/v1/disputes", json=claim(new_order()))).json()["id"]
    await api.post(
        f"/v1/disputes/{dispute_id}/offers",
        json={"actor": SELLER, "solution": {"kind": "REFUND_TO_BUYER", "amount": 20000}},
    )
    await api.post(f"/v1/disputes/{dispute_id}/help", json={"actor": BUYER})
    decided = await api.post(
        f"/v1/disputes/{dispute_id}/care/decision",
        json={"actor": CARE, "solution": {"kind": "REFUND_TO_BUYER", "amount": 75000}},
        headers=AS_CARE,
    )
    assert decided.json()["status"] == "DECIDED"
    video = await upload_evidence(api, "seller", SELLER["id"])
    appealed = await api.post(
        f"/v1/disputes/{dispute_id}/decision/appeal",
        json={"actor": SELLER, "reason": "The buyer dropped it", "evidence": [video]},
    )
    assert appealed.status_code == 200, appealed.text
    assert appealed.json()["status"] == "DECISION_APPEALED"
    assert appealed.json()["allowed_actions"]["supervisor"] == [
        "confirm_decision",
        "replace_decision",
        "request_info",
        "assign",
        "claim",
    ]
    assert [(d["party"], d["action"]) for d in appealed.json()["deadlines"]] == [
        ("supervisor", "review_decision")
    ]
    again = await api.post(
        f"/v1/disputes/{dispute_id}/decision/appeal", json={"actor": BUYER, "reason": "me too"}
    )
    assert again.status_code == 409

    confirm = {"actor": SUPERVISOR, "note": "the evidence holds"}
    for refused in (api.headers, AS_CARE, AS_ADMIN):  # platform, care and admin keys may not
        response = await api.post(
            f"/v1/disputes/{dispute_id}/supervisor/confirm", json=confirm, headers=refused
        )
        assert response.status_code == 403, response.text
    confirmed = await api.post(
        f"/v1/disputes/{dispute_id}/supervisor/confirm", json=confirm, headers=AS_SUPERVISOR
    )
    assert confirmed.status_code == 200, confirmed.text

    async def resolved() -> dict[str, Any] | None:
        state = await read(api, dispute_id)
        return state if state["status"] == "RESOLVED" else None

    final = await eventually(resolved)
    assert (final["outcome"]["decided_by"], final["outcome"]["refunded_to_buyer"]) == ("care", 75000)
    assert final["decision_appeal"]["by"] == "seller"
