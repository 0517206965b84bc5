"""The platform's payment endpoint and a webhook receiver down for longer than the retry backoff:
everything completes once they are back, nothing is lost and nothing is done twice.

Real processes against the session's dev server (the API under uvicorn and ``worker.py``); the
platform's endpoints and the webhook receiver are servers in the test, stopped (connections
refused) and started again on the same port."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.processes import (
    SETTLES,
    Endpoint,
    Platform,
    Webhooks,
    agree,
    effects_over_http,
    open_dispute,
    record_figures,
    scale,
    service,
    settled,
    temporal_address,
    until,
)
from tests.support import AS_ADMIN

OUTAGE = 4.0  # seconds each receiver stays down: several retries at the backoff's maximum (1 s)
#: The webhook events of each shape of dispute, numbered 1..n by the case: opened, one update per
#: action, then an update and "resolved" when the payouts are done.
EVENTS = {"refund": 4, "release": 5, "partial": 5}
PATIENCE = {"DISPUTES_ACTIVITY_MAX_RETRY_INTERVAL": "PT1S", "DISPUTES_WEBHOOK_MAX_RETRY_INTERVAL": "PT1S"}


async def pending_attempts(env: WorkflowEnvironment, case_ids: list[str]) -> int:
    """The most attempts any pending effect step of these cases has made so far."""
    most = 0
    for case_id in case_ids:
        described = await env.client.get_workflow_handle(case_id).describe()
        for pending in described.raw_description.pending_activities:
            most = max(most, pending.attempt)
    return most


async def test_receivers_down_longer_than_the_backoff_lose_and_double_nothing(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    disputes = scale("OUTAGE_DISPUTES", 9)
    platform, hooks = Platform(), Webhooks()
    platform_http, hooks_http = Endpoint(platform.app()), Endpoint(hooks.app())
    await hooks_http.up()
    await platform_http.up()
    subscription = {
        "id": "crash-hooks",
        "url": f"{hooks_http.url}/hooks",
        "secret": "s" * 32,
        "event_types": ["*"],
    }
    settings = effects_over_http(platform_http.url + "/platform") | PATIENCE
    settings["DISPUTES_WEBHOOKS"] = json.dumps([subscription])
    try:
        async with service(temporal_address(dev_server_env), task_queue, tmp_path, **settings) as deployment:
            deployment.start_worker()
            deployment.start_api()
            await deployment.api_ready()
            async with deployment.client() as http:
                # Both down; the parties open and settle disputes meanwhile.
                await platform_http.down()
                await hooks_http.down()
                went_down = time.monotonic()
                opened = await asyncio.gather(
                    *(open_dispute(http, f"o-{uuid.uuid4().hex[:10]}") for _ in range(disputes))
                )
                shapes = {d: ("refund", "release", "partial")[n % 3] for n, d in enumerate(opened)}
                await asyncio.gather(*(agree(http, d, shape) for d, shape in shapes.items()))
                await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - went_down)))
                effect_attempts = await pending_attempts(dev_server_env, opened)
                assert effect_attempts >= 3, "the effect steps did not retry while the platform was down"

                # The platform is back; the webhook receiver stays down a while longer.
                await platform_http.up()
                views = await settled(http, opened, seconds=120)
                await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - went_down) + OUTAGE / 2))
                attempts = (await http.get("/v1/webhooks/deliveries", headers=AS_ADMIN)).json()["items"]
                failed = [a for a in attempts if not a["delivered"]]
                assert failed, "no delivery was tried while the receiver was down"
                await hooks_http.up()

                async def all_delivered() -> bool:
                    return all(f"{d}:{EVENTS[shape]}" in hooks.accepted for d, shape in shapes.items())

                await until(all_delivered, 120, "every webhook event to be delivered")
                await asyncio.sleep(2)  # a late or second delivery would show by now
                errors = deployment.server_errors()
                assert 500 not in errors, errors
    finally:
        await platform_http.down()
        await hooks_http.down()

    # Money: each payout applied once per dispute, as agreed.
    refunds, releases = platform.applied_per_case("/refunds"), platform.applied_per_case("/releases")
    for dispute_id, shape in shapes.items():
        buyer, seller = SETTLES[shape]
        outcome = views[dispute_id]["outcome"]
        assert (outcome["refunded_to_buyer"], outcome["released_to_seller"]) == (buyer, seller)
        assert (refunds[dispute_id], releases[dispute_id]) == (int(buyer > 0), int(seller > 0))
    # Notices: both parties told of the resolution, once each.
    resolved = Counter(
        (n["case_id"], n["party"])
        for n in platform.applied("/notifications")
        if n["template"] == "dispute.resolved"
    )
    assert resolved == Counter({(d, party): 1 for d in opened for party in ("buyer", "seller")})
    # Webhooks: every event of every dispute arrived, each once, in full; none is missing.
    expected = {f"{d}:{n}" for d, shape in shapes.items() for n in range(1, EVENTS[shape] + 1)}
    assert set(hooks.accepted) == expected
    assert set(hooks.accepted.values()) == {1}, "an event was delivered twice"
    for dispute_id, shape in shapes.items():
        types = [hooks.events[f"{dispute_id}:{n}"]["type"] for n in range(1, EVENTS[shape] + 1)]
        assert types[0] == "dispute.opened" and types[-1] == "dispute.resolved", types
    record_figures(
        "receivers_down",
        {
            "disputes": disputes,
            "outage_seconds": {"payments": OUTAGE, "webhooks": round(OUTAGE * 1.5, 1)},
            "max_retry_interval_seconds": 1,
            "effect_attempts_while_down": effect_attempts,
            "webhook_attempts_failed_while_down": len(failed),
            "payouts_applied": sum(refunds.values()) + sum(releases.values()),
            "webhook_events_delivered": len(expected),
            "duplicates": 0,
            "lost": 0,
            "api_5xx": errors,
        },
    )
