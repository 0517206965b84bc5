"""Asking a party for information and holding a report, over real HTTP against the real Temporal
dev server (issue 18): a request answered with evidence resumes care's decision target, one left
unanswered expires and resumes it, and a report on hold waits for its user."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.notices import render
from domain.types import Locale
from tests.support import (
    AS_CARE,
    BUYER,
    CARE,
    SELLER,
    claim,
    eventually,
    new_order,
    serving,
    upload_evidence,
)


async def read(api: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def notices(api: httpx.AsyncClient, dispute_id: str, party: str, template: str) -> list[dict[str, Any]]:
    """The party's notifications of ``template`` on the dispute, as the effects feed shows them."""
    items = (await api.get(f"/v1/disputes/{dispute_id}/effects")).json()["items"]
    return [
        e for e in items if e["kind"] == "NOTIFICATION" and e["party"] == party and e["template"] == template
    ]


def english(notice: dict[str, Any]) -> str:
    """The notice rendered in English from its template and parameters (the parties read Indonesian)."""
    return render(notice["template"], notice["params"], Locale.EN, strict=True)


async def mediated(api: httpx.AsyncClient) -> str:
    """A dispute the buyer took to care after the seller's counter-offer."""
    dispute_id: str = (await api.post("/v1/disputes", json=claim(new_order()))).json()["id"]
    offered = await api.post(
        f"/v1/disputes/{dispute_id}/offers",
        json={"actor": SELLER, "solution": {"kind": "REFUND_TO_BUYER", "amount": 20000}},
    )
    assert offered.status_code == 200, offered.text
    helped = await api.post(f"/v1/disputes/{dispute_id}/help", json={"actor": BUYER})
    assert helped.json()["status"] == "IN_MEDIATION"
    return dispute_id


def by_action(deadlines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["action"]: d for d in deadlines}


async def test_a_request_for_information_answered_with_evidence(api: httpx.AsyncClient) -> None:
    dispute_id = await mediated(api)
    path = f"/v1/disputes/{dispute_id}/care/request-info"
    ask = {
        "actor": CARE,
        "party": "seller",
        "text": "Please send the proof of delivery.",
        "due_in": "P1D",
        "evidence_type": "PROOF_OF_DELIVERY",
    }
    # bad input names the field; a platform key may not act as care
    for field, value in (("party", "care"), ("due_in", "P30D"), ("due_in", "PT0S")):
        refused = await api.post(path, json=ask | {field: value}, headers=AS_CARE)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in refused.json()["errors"]}, refused.json()
    assert (await api.post(path, json=ask)).status_code == 403

    asked = await api.post(path, json=ask, headers=AS_CARE)
    assert asked.status_code == 200, asked.text
    assert asked.json()["allowed_actions"]["care"] == [
        "reply",
        "decide",
        "request_info",
        "assign",
        "claim",
    ]  # the buyer too
    state = await read(api, f"/v1/disputes/{dispute_id}")
    deadlines = by_action(state["deadlines"])
    assert {k: deadlines["message"][k] for k in ("party", "then", "paused")} == {
        "party": "seller",
        "then": "care_target_resumes",
        "paused": False,
    }
    decide = deadlines["decide"]
    assert (decide["paused"], decide["due_at"]) == (True, None)
    assert decide["remaining"].startswith("P2DT23H")
    assert state["care_decision_due_at"] is None
    # the care queue shows the paused target too
    queue = (await api.get("/v1/care/queue", params={"kind": "dispute"}, headers=AS_CARE)).json()["items"]
    [item] = [i for i in queue if i["id"] == dispute_id]
    assert (item["paused"], item["care_decision_due_at"]) == (True, None)
    again = await api.post(path, json=ask, headers=AS_CARE)
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "party"

    [told] = await eventually(lambda: notices(api, dispute_id, "seller", "dispute.info_requested.evidence"))
    assert (told["locale"], told["params"]["evidence_type"]) == ("id", "PROOF_OF_DELIVERY")
    assert told["text"].startswith(f"Tokopedia Care meminta bukti barang sampai untuk komplain {dispute_id}")
    assert english(told).startswith(f"Care asks you for proof of delivery on dispute {dispute_id}")
    assert "Please send the proof of delivery." in told["text"]  # care's own words, as written
    inbox = (await api.get(f"/v1/users/{SELLER['id']}/inbox")).json()["items"]
    assert [m["text"] for m in inbox if m["case_id"] == dispute_id] == [told["text"]]  # Pesan Bantuan

    receipt = await upload_evidence(api, "seller", SELLER["id"])
    answered = await api.post(
        f"/v1/disputes/{dispute_id}/messages",
        json={"actor": SELLER, "text": "Delivered, signed by the buyer", "evidence": [receipt]},
    )
    assert answered.status_code == 200, answered.text
    state = await read(api, f"/v1/disputes/{dispute_id}")
    events = [e["event"] for e in state["timeline"]]
    assert events[-3:] == ["info_request_answered", "target_resumed", "message"]
    decide = by_action(state["deadlines"])["decide"]
    assert decide["paused"] is False and decide["due_at"] == state["care_decision_due_at"] is not None
    # the answer is a party's message: care owes a reply to it; the seller owes nothing more
    assert [(d["party"], d["action"]) for d in state["deadlines"]] == [("care", "reply"), ("care", "decide")]


async def test_a_request_for_information_that_expires(api: httpx.AsyncClient) -> None:
    dispute_id = await mediated(api)
    asked = await api.post(
        f"/v1/disputes/{dispute_id}/care/request-info",
        json={"actor": CARE, "party": "buyer", "text": "Please send the unboxing video.", "due_in": "PT3S"},
        headers=AS_CARE,
    )
    assert asked.status_code == 200, asked.text

    async def expired() -> dict[str, Any] | None:
        state = await read(api, f"/v1/disputes/{dispute_id}")
        return state if "info_request_expired" in [e["event"] for e in state["timeline"]] else None

    state = await eventually(expired, seconds=30)
    events = [e["event"] for e in state["timeline"]]
    assert events.index("info_request_expired") + 1 == events.index("target_resumed")
    assert [(d["action"], d["paused"]) for d in state["deadlines"]] == [("decide", False)]
    assert state["care_decision_due_at"] is not None
    [lapsed] = await eventually(lambda: notices(api, dispute_id, "buyer", "dispute.info_request_expired"))
    assert "has passed" in english(lapsed) and "sudah habis" in lapsed["text"]


async def test_a_report_on_hold_waits_for_its_user(api: httpx.AsyncClient) -> None:
    opened = await api.post(
        "/v1/tickets",
        json={"user_id": "u-hold-1", "role": "buyer", "topic": "PAYMENT", "details": "Charged twice"},
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["id"]
    held = await api.post(
        f"/v1/tickets/{ticket_id}/care/hold",
        json={"actor": CARE, "reason": "Waiting for the payment provider"},
        headers=AS_CARE,
    )
    assert held.status_code == 200, held.text
    assert held.json()["allowed_actions"]["care"] == ["reply", "solve", "resume", "assign", "claim"]
    state = await read(api, f"/v1/tickets/{ticket_id}")
    [paused] = state["deadlines"]
    assert (paused["action"], paused["paused"], paused["due_at"]) == ("reply", True, None)
    assert state["care_reply_due_at"] is None
    queue = (await api.get("/v1/care/queue", params={"kind": "ticket"}, headers=AS_CARE)).json()["items"]
    [item] = [i for i in queue if i["id"] == ticket_id]
    assert (item["paused"], item["care_reply_due_at"]) == (True, None)
    wrote = await api.post(
        f"/v1/tickets/{ticket_id}/messages",
        json={"actor": {"role": "user", "id": "u-hold-1"}, "text": "Any news?"},
    )
    assert wrote.status_code == 200, wrote.text
    state = await read(api, f"/v1/tickets/{ticket_id}")
    assert [e["event"] for e in state["timeline"]][-3:] == ["hold_ended", "target_resumed", "message"]
    assert state["deadlines"][0]["paused"] is False and state["care_reply_due_at"] is not None


async def test_the_calendar_in_force_is_copied_into_a_new_case(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    """DISPUTES_CARE_CALENDAR as the API reads it: a report filed now carries the calendar (shown
    in its Temporal UI details) and its reply target says it counts business hours."""
    every_day = {day: ["00:00", "24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    settings = Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        care_calendar={"timezone": "Asia/Jakarta", "hours": every_day, "extra_holidays": ["2020-01-01"]},
    )
    async with serving(settings, dev_server_env) as api:
        opened = await api.post(
            "/v1/tickets",
            json={"user_id": "u-cal-1", "role": "buyer", "topic": "PAYMENT", "details": "Charged twice"},
        )
        assert opened.status_code == 201, opened.text
        report = opened.json()
        [target] = report["deadlines"]
        assert (target["action"], target["business_hours"], target["paused"]) == ("reply", True, False)
        filed = datetime.fromisoformat(report["timeline"][0]["at"])
        assert datetime.fromisoformat(target["due_at"]) == filed + timedelta(hours=24)
        described = await dev_server_env.client.get_workflow_handle(report["id"]).describe()
        assert "care targets in business hours (Asia/Jakarta: mon 00:00-24:00" in (
            await described.static_details() or ""
        )
