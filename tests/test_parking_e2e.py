"""Refused effects park the case instead of failing it, and operators repair them over the API.

The platform's effect endpoints (tests/platform.py) refuse a payout for good (a final 4xx) or
stay down past the retry window; the dispute waits for an operator with NeedsAttention set, a
``needs_attention`` timeline entry and a ``case.needs_attention`` webhook event, and each repair
(retry, done by hand, care's new decision) settles it with the money moved exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from core import search_attributes as sa
from core.settings import Settings
from tests.platform import SIGNING_SECRET, Receiver
from tests.support import AS_ADMIN, AS_CARE, BUYER, CARE, SELLER, claim, eventually, new_order, serving

OPERATOR = {"role": "operator", "id": "oncall-1"}


@pytest.fixture
async def api(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, receiver: Receiver
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        effects="http",
        effects_base_url=receiver.url,
        effects_signing_secret=SIGNING_SECRET,
        money_retry_window=timedelta(seconds=3),
        activity_max_retry_interval=timedelta(seconds=1),
        webhook_allow_private_hosts=True,
    )
    async with serving(settings, dev_server_env) as http:
        yield http


async def partial_refund_agreed(api: httpx.AsyncClient, refund: int = 40_000) -> str:
    """A dispute on a 150,000 order where the buyer accepted a refund of ``refund``."""
    opened = await api.post("/v1/disputes", json=claim(new_order(), reason="INCOMPLETE"))
    dispute_id: str = opened.json()["id"]
    solution = {"kind": "REFUND_TO_BUYER", "amount": refund}
    offered = await api.post(
        f"/v1/disputes/{dispute_id}/offers", json={"actor": SELLER, "solution": solution}
    )
    assert offered.status_code == 200, offered.text
    accepted = await api.post(f"/v1/disputes/{dispute_id}/accept", json={"actor": BUYER})
    assert accepted.status_code == 200, accepted.text
    return dispute_id


async def parked(api: httpx.AsyncClient, dispute_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        body: dict[str, Any] = (await api.get(f"/v1/disputes/{dispute_id}")).json()
        return body if body["needs_attention"] else {}

    found: dict[str, Any] = await eventually(check)
    return found


async def resolved(api: httpx.AsyncClient, dispute_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        body: dict[str, Any] = (await api.get(f"/v1/disputes/{dispute_id}")).json()
        return body if body["status"] == "RESOLVED" else {}

    found: dict[str, Any] = await eventually(check)
    return found


async def test_a_refused_refund_parks_the_dispute_and_a_retry_settles_it(
    api: httpx.AsyncClient, receiver: Receiver, dev_server_env: WorkflowEnvironment
) -> None:
    receiver.refuse["/refunds"] = (400, {})  # e.g. the buyer's payment account is closed
    dispute_id = await partial_refund_agreed(api)

    waiting = await parked(api, dispute_id)
    assert waiting["status"] == "AWAITING_FULFILMENT"  # not failed, not frozen: waiting for on-call
    [attention] = waiting["attention"]
    assert attention["effect"] == "refund_to_buyer"
    assert attention["key"] == f"{dispute_id}:refund_to_buyer"
    assert "EffectRejected" in attention["reason"] and "answered 400" in attention["reason"]
    assert "refused" not in attention["reason"]  # the platform's body stays out of the timeline
    assert waiting["allowed_actions"]["operator"] == ["retry_effect", "resolve_effect"]
    assert "redecide" in waiting["allowed_actions"]["care"]
    assert [e["event"] for e in waiting["timeline"]][-1] == "needs_attention"

    handle = dev_server_env.client.get_workflow_handle(dispute_id)
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    assert described.typed_search_attributes.get(sa.NEEDS_ATTENTION) is True
    listed = [
        w.id
        async for w in dev_server_env.client.list_workflows(
            f"NeedsAttention = true AND WorkflowId = '{dispute_id}'"
        )
    ]
    assert listed == [dispute_id]

    # only an admin key repairs, as an operator; a platform key may not act as operator
    assert (
        await api.post(f"/v1/disputes/{dispute_id}/operator/retry", json={"actor": OPERATOR})
    ).status_code == 403
    del receiver.refuse["/refunds"]  # the platform fixed the account
    retried = await api.post(
        f"/v1/disputes/{dispute_id}/operator/retry", json={"actor": OPERATOR}, headers=AS_ADMIN
    )
    assert retried.status_code == 200, retried.text

    done = await resolved(api, dispute_id)
    assert (done["outcome"]["refunded_to_buyer"], done["outcome"]["released_to_seller"]) == (40_000, 110_000)
    assert done["needs_attention"] is False
    assert len(receiver.applied("/refunds")) == 1 and len(receiver.applied("/releases")) == 1
    assert (await handle.describe()).typed_search_attributes.get(sa.NEEDS_ATTENTION) is False


async def test_a_refused_release_after_a_partial_refund_is_recorded_as_done_by_hand(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.refuse["/releases"] = (403, {})  # the seller's payouts are frozen
    dispute_id = await partial_refund_agreed(api)

    waiting = await parked(api, dispute_id)
    assert [a["effect"] for a in waiting["attention"]] == ["release_to_seller"]
    assert [p["amount"] for p in waiting["payouts_made"]] == [40_000]  # the buyer was paid

    wrong = await api.post(
        f"/v1/disputes/{dispute_id}/operator/resolve",
        json={"actor": OPERATOR, "key": "nope", "external_ref": "manual-1"},
        headers=AS_ADMIN,
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "key"
    by_hand = await api.post(
        f"/v1/disputes/{dispute_id}/operator/resolve",
        json={"actor": OPERATOR, "external_ref": "bank-transfer-7781", "note": "paid by the finance team"},
        headers=AS_ADMIN,
    )
    assert by_hand.status_code == 200, by_hand.text

    done = await resolved(api, dispute_id)
    assert (done["outcome"]["refunded_to_buyer"], done["outcome"]["released_to_seller"]) == (40_000, 110_000)
    release = next(p for p in done["payouts_made"] if p["kind"] == "RELEASE_TO_SELLER")
    assert release["reference"] == "bank-transfer-7781"
    assert receiver.applied("/releases") == []  # nothing was sent again
    effects = (await api.get(f"/v1/disputes/{dispute_id}/effects")).json()["items"]
    assert [e["amount"] for e in effects if e["kind"] == "REFUND_TO_BUYER"] == [40_000]


async def test_care_replaces_a_decision_whose_release_was_refused(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.refuse["/releases"] = (403, {})
    dispute_id = await partial_refund_agreed(api)
    await parked(api, dispute_id)

    below_paid = {"kind": "REFUND_TO_BUYER", "amount": 10_000}
    refused = await api.post(
        f"/v1/disputes/{dispute_id}/care/redecision",
        json={"actor": CARE, "solution": below_paid},
        headers=AS_CARE,
    )
    assert refused.status_code == 422, refused.text  # 40,000 was already refunded
    full_refund = {"kind": "REFUND_TO_BUYER", "amount": 150_000}
    redecided = await api.post(
        f"/v1/disputes/{dispute_id}/care/redecision",
        json={"actor": CARE, "solution": full_refund, "note": "the seller cannot be paid; refund the rest"},
        headers=AS_CARE,
    )
    assert redecided.status_code == 200, redecided.text

    done = await resolved(api, dispute_id)
    assert (done["outcome"]["refunded_to_buyer"], done["outcome"]["released_to_seller"]) == (150_000, 0)
    keys = sorted(body["case_id"] + ":" + str(body["amount"]) for body in receiver.applied("/refunds"))
    assert keys == [f"{dispute_id}:110000", f"{dispute_id}:40000"]  # the rest, under a new key
    assert {c.key for c in receiver.seen("/refunds")} == {
        f"{dispute_id}:refund_to_buyer",
        f"{dispute_id}:refund_to_buyer:1",
    }


async def test_a_payout_that_keeps_failing_parks_after_its_retry_window(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.refuse["/refunds"] = (503, {})  # down, retryable: retried for 3 s (the test's window)
    dispute_id = await partial_refund_agreed(api)

    waiting = await parked(api, dispute_id)
    [attention] = waiting["attention"]
    assert attention["reason"].startswith("out of retries"), attention
    assert "answered 503" in attention["reason"]
    assert len(receiver.seen("/refunds")) >= 2  # it was retried before it parked

    del receiver.refuse["/refunds"]
    retried = await api.post(
        f"/v1/disputes/{dispute_id}/operator/retry", json={"actor": OPERATOR}, headers=AS_ADMIN
    )
    assert retried.status_code == 200
    assert (await resolved(api, dispute_id))["outcome"]["refunded_to_buyer"] == 40_000
