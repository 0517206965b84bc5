"""The platform contract over real HTTP: API keys and actors, Idempotency-Key, concurrent requests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.support import (
    AS_ADMIN,
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


async def open_dispute(api: httpx.AsyncClient) -> str:
    opened = await api.post("/v1/disputes", json=claim(new_order()))
    assert opened.status_code == 201, opened.text
    dispute_id: str = opened.json()["id"]
    return dispute_id


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"k-{uuid.uuid4()}"}


# -- authentication and who may act ---------------------------------------------------------------


async def test_auth_matrix(api: httpx.AsyncClient) -> None:
    dispute_id = await open_dispute(api)
    other_dispute = await open_dispute(api)
    url = f"/v1/disputes/{dispute_id}"

    no_key = await api.get(url, headers={"Authorization": ""})
    assert no_key.status_code == 401
    assert no_key.headers["www-authenticate"] == "Bearer"
    assert no_key.headers["content-type"] == "application/problem+json"
    wrong_key = await api.get(url, headers={"Authorization": "Bearer pk-guessed"})
    assert wrong_key.status_code == 401
    assert "pk-guessed" not in wrong_key.text

    platform_as_care = await api.post(f"{url}/care/replies", json={"actor": CARE, "text": "hi"})
    assert platform_as_care.status_code == 403
    assert "may not act as care" in platform_as_care.json()["detail"]
    care_as_buyer = await api.post(f"{url}/messages", json={"actor": BUYER, "text": "hi"}, headers=AS_CARE)
    assert care_as_buyer.status_code == 403
    admin_acts = await api.post(f"{url}/messages", json={"actor": BUYER, "text": "hi"}, headers=AS_ADMIN)
    assert admin_acts.status_code == 403
    assert (await api.get(url, headers=AS_ADMIN)).status_code == 200

    foreign_seller = {"role": "seller", "id": "s-2"}
    other = await api.post(f"/v1/disputes/{other_dispute}/accept", json={"actor": foreign_seller})
    assert other.status_code == 403
    assert other.json()["title"] == "Not a party"

    as_stranger = await api.get(url, params={"actor_role": "seller", "actor_id": "s-2"})
    assert as_stranger.status_code == 403
    as_party = await api.get(url, params={"actor_role": "seller", "actor_id": "s-1"})
    assert as_party.status_code == 200
    platform_reads_as_care = await api.get(url, params={"actor_role": "care", "actor_id": "agent-7"})
    assert platform_reads_as_care.status_code == 403

    async def listed_for_s1() -> bool:
        page = await api.get("/v1/disputes", params={"actor_role": "seller", "actor_id": "s-1"})
        return dispute_id in {item["id"] for item in page.json()["items"]}

    await eventually(listed_for_s1)
    theirs = await api.get("/v1/disputes", params={"actor_role": "seller", "actor_id": "s-2"})
    assert dispute_id not in {item["id"] for item in theirs.json()["items"]}

    assert (await api.get("/v1/care/queue")).status_code == 403
    assert (await api.get("/v1/care/queue", headers=AS_CARE)).status_code == 200
    assert (await api.get("/health", headers={"Authorization": ""})).status_code == 200


# -- safe retries -----------------------------------------------------------------------------------


async def test_same_key_same_body_is_one_effect_and_the_first_response(api: httpx.AsyncClient) -> None:
    order = f"o-{uuid.uuid4().hex[:10]}"
    open_key = key()
    first = await api.post("/v1/disputes", json=claim(order), headers=open_key)
    again = await api.post("/v1/disputes", json=claim(order), headers=open_key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    unkeyed = await api.post("/v1/disputes", json=claim(order))
    assert unkeyed.status_code == 200  # a plain repeat still says "this already existed"
    dispute_id = first.json()["id"]

    say_key = key()
    message = {
        "actor": BUYER,
        "text": "Photos attached",
        "evidence": [await upload_evidence(api, "buyer", "b-1")],
    }
    said = await api.post(f"/v1/disputes/{dispute_id}/messages", json=message, headers=say_key)
    said_again = await api.post(f"/v1/disputes/{dispute_id}/messages", json=message, headers=say_key)
    assert said.status_code == said_again.status_code == 200
    assert said.json() == said_again.json()
    assert [e["event"] for e in said_again.json()["timeline"]].count("message") == 1

    different = await api.post(
        f"/v1/disputes/{dispute_id}/messages", json=message | {"text": "Other text"}, headers=say_key
    )
    assert different.status_code == 422
    assert different.json()["title"] == "Idempotency key reused"
    assert different.json()["errors"][0]["field"] == "Idempotency-Key"
    reused_elsewhere = await api.post("/v1/disputes", json=claim(new_order()), headers=say_key)
    assert reused_elsewhere.status_code == 422

    accept_key = key()
    accepted = await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": SELLER}, headers=accept_key)
    assert accepted.status_code == 200

    async def resolved() -> bool:
        return bool((await api.get(f"/v1/disputes/{dispute_id}")).json()["status"] == "RESOLVED")

    await eventually(resolved)
    # the retry after the case closed still gets the first answer, not a 409
    replay = await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": SELLER}, headers=accept_key)
    assert replay.status_code == 200
    assert replay.json() == accepted.json()

    effects = (await api.get(f"/v1/disputes/{dispute_id}/effects")).json()["items"]
    assert [e["amount"] for e in effects if e["kind"] == "REFUND_TO_BUYER"] == [150000]
    told_seller = [
        e for e in effects if e["template"] == "dispute.party_acted" and e["params"]["action"] == "message"
    ]
    assert len(told_seller) == 1


async def test_a_keyed_report_is_filed_once(api: httpx.AsyncClient) -> None:
    report = {
        "user_id": "u-7",
        "role": "seller",
        "topic": "BALANCE_WITHDRAWAL",
        "details": "Withdrawal stuck",
    }
    file_key = key()
    first = await api.post("/v1/tickets", json=report, headers=file_key)
    second = await api.post("/v1/tickets", json=report, headers=file_key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert (await api.post("/v1/tickets", json=report)).json()["id"] != first.json()["id"]


async def test_two_api_replicas_share_the_keys(
    dev_server_env: WorkflowEnvironment, settings: Settings, api: httpx.AsyncClient
) -> None:
    async with serving(settings, dev_server_env, worker=False) as replica:
        dispute_id = await open_dispute(api)
        offer_key = key()
        offer = {"actor": SELLER, "solution": {"kind": "RELEASE_TO_SELLER"}, "note": "Works on arrival"}
        via_a = await api.post(f"/v1/disputes/{dispute_id}/offers", json=offer, headers=offer_key)
        via_b = await replica.post(f"/v1/disputes/{dispute_id}/offers", json=offer, headers=offer_key)
        assert via_a.status_code == via_b.status_code == 200
        assert via_a.json() == via_b.json()
        assert [p["by"] for p in via_b.json()["proposals"]] == ["seller"]
        changed = await replica.post(
            f"/v1/disputes/{dispute_id}/offers", json=offer | {"note": "changed"}, headers=offer_key
        )
        assert changed.status_code == 422


# -- concurrent conflicting requests ------------------------------------------------------------------


async def test_conflicting_requests_have_exactly_one_winner(api: httpx.AsyncClient) -> None:
    for _ in range(3):
        dispute_id = await open_dispute(api)
        seller_accepts = api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": SELLER})
        buyer_cancels = api.post(f"/v1/disputes/{dispute_id}/cancel", json={"actor": BUYER})
        results = await asyncio.gather(seller_accepts, buyer_cancels)
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409).json()
        winner = next(r for r in results if r.status_code == 200).json()
        # the loser sees the state the winner made, or what followed it: the payouts may be done,
        # and the winner's own read may come after the loser's refusal (and so be the later one)
        made = {"CANCELLED"} if winner["status"] == "CANCELLED" else {"AWAITING_FULFILMENT", "RESOLVED"}
        assert {loser["current_status"], winner["status"]} <= made
        assert "cancel" not in loser["allowed_actions"]["buyer"]


# -- limits -----------------------------------------------------------------------------------------


async def test_limits_are_clear_413_and_422(dev_server_env: WorkflowEnvironment, settings: Settings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2048})
    async with serving(small, dev_server_env) as api:
        dispute_id = await open_dispute(api)
        url = f"/v1/disputes/{dispute_id}/messages"

        too_big = await api.post(url, json={"actor": BUYER, "text": "x" * 3000})
        assert too_big.status_code == 413
        assert too_big.headers["content-type"] == "application/problem+json"
        assert too_big.json()["title"] == "Content too large"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"actor": {"role": "buyer", "id": "b-1"}, "text": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'

        streamed = await api.post(url, content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413

        long_text = await api.post(url, json={"actor": BUYER, "text": "z" * 1500, "evidence": []})
        assert long_text.status_code == 200  # under the body limit and the 4000-character text limit

    async with serving(settings, dev_server_env) as api:
        dispute_id = await open_dispute(api)
        url = f"/v1/disputes/{dispute_id}/messages"
        cases = {
            "text": {"actor": BUYER, "text": "z" * 4001},
            "evidence": {"actor": BUYER, "text": "many", "evidence": [f"ev-{n}" for n in range(21)]},
        }
        for field, body in cases.items():
            refused = await api.post(url, json=body)
            assert refused.status_code == 422
            assert refused.json()["errors"][0]["field"] == field
        negative = await api.post(
            f"/v1/disputes/{dispute_id}/offers",
            json={"actor": SELLER, "solution": {"kind": "REFUND_TO_BUYER", "amount": -5}},
        )
        assert negative.status_code == 422
        assert negative.json()["errors"][0]["field"] == "solution.amount"


async def test_a_server_fault_is_a_problem_with_a_correlation_id_in_the_logs(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("read model on fire: secret internals")

    monkeypatch.setattr("store.view_pages.CaseViews.page", broken)
    with caplog.at_level("ERROR"):
        failed = await api.get("/v1/disputes", headers={"X-Request-Id": "req-42"})
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    body = failed.json()
    assert body["correlation_id"] == failed.headers["x-request-id"] == "req-42"
    assert "secret internals" not in failed.text and "Traceback" not in failed.text
    logged = [r for r in caplog.records if "req-42" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None  # logged once, with the traceback
