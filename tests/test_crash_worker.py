"""Workers that die or stop while money moves: no dispute is lost and no payout happens twice.

Real processes against the session's dev server: the API under uvicorn and ``worker.py``, sending
effects over HTTP to the platform's endpoints in the test, whose payments answer slowly. Workers
are SIGKILLed while they wait for a payout's answer (the platform has already applied it), and
stopped with SIGTERM while payouts are in flight. Sizes grow under ``make soak``."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from tests.processes import (
    SETTLES,
    Platform,
    Process,
    agree,
    effects_over_http,
    endpoint,
    open_dispute,
    record_figures,
    scale,
    service,
    settled,
    temporal_address,
    until,
)

PAYOUTS = ("/refunds", "/releases")
#: Short clocks: an attempt cut off by a crash is retried after the activity timeout.
FAST = {"DISPUTES_ACTIVITY_TIMEOUT": "PT3S", "DISPUTES_ACTIVITY_MAX_RETRY_INTERVAL": "PT1S"}


def slow_platform(hold: float) -> Platform:
    """Payments that apply a request at once and answer ``hold`` seconds later."""
    return Platform(hold=dict.fromkeys(PAYOUTS, hold))


def check_paid_once(platform: Platform, views: dict[str, Any], shapes: dict[str, str]) -> dict[str, int]:
    """Every dispute settled as agreed, each payout applied under exactly one key; the counts."""
    refunds, releases = platform.applied_per_case("/refunds"), platform.applied_per_case("/releases")
    for dispute_id, shape in shapes.items():
        buyer, seller = SETTLES[shape]
        outcome = views[dispute_id]["outcome"]
        assert (outcome["refunded_to_buyer"], outcome["released_to_seller"]) == (buyer, seller), dispute_id
        assert (refunds[dispute_id], releases[dispute_id]) == (int(buyer > 0), int(seller > 0)), dispute_id
    paid = {body["case_id"] for path in PAYOUTS for body in platform.applied(path)}
    assert paid == set(shapes)  # nothing paid for a dispute that is not in the batch
    doubled = sum(n - 1 for per_case in (refunds, releases) for n in per_case.values() if n > 1)
    requests = sum(sum(platform.requests_per_key(path).values()) for path in PAYOUTS)
    applied = sum(len(platform.applied(path)) for path in PAYOUTS)
    return {"payouts_applied": applied, "payout_requests": requests, "duplicates": doubled}


async def test_workers_killed_mid_payout_lose_nothing_and_pay_once(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    kills_wanted, disputes, slots = scale("KILLS", 20), scale("DISPUTES", 12), 3
    platform = slow_platform(hold=1.0)
    async with endpoint(platform.app()) as platform_http:
        settings = effects_over_http(platform_http.url + "/platform") | FAST
        async with service(temporal_address(dev_server_env), task_queue, tmp_path, **settings) as deployment:
            workers: dict[str, Process] = {}

            def start_worker() -> None:
                token = f"worker-{uuid.uuid4().hex[:6]}"  # the platform tells the workers apart by it
                workers[token] = deployment.start_worker(DISPUTES_EFFECTS_BEARER_TOKEN=token)

            for _ in range(slots):
                start_worker()
            deployment.start_api()
            await deployment.api_ready()
            async with deployment.client() as http:
                shapes: dict[str, str] = {}
                killing = asyncio.Event()

                async def traffic() -> None:
                    # Disputes open and settle in a stream for as long as workers are being killed,
                    # so payouts keep starting while workers die.
                    agreeing = []
                    while killing.is_set() or len(shapes) < disputes:
                        dispute_id = await open_dispute(http, f"o-{uuid.uuid4().hex[:10]}")
                        shapes[dispute_id] = ("refund", "release", "partial")[len(shapes) % 3]
                        agreeing.append(asyncio.create_task(agree(http, dispute_id, shapes[dispute_id])))
                        await asyncio.sleep(0.7)
                    await asyncio.gather(*agreeing)

                killing.set()
                flowing = asyncio.create_task(traffic())
                started = time.monotonic()
                cut: list[int] = []  # payout requests in flight at each kill
                while len(cut) < kills_wanted:

                    async def mid_payout() -> str | None:
                        # A worker waiting for a payout's answer, and another one polling meanwhile
                        # (killing the last ready worker would only measure start-up time).
                        ready = [t for t, w in workers.items() if w.alive and w.logged("worker polling")]
                        paying = [t for t in ready if platform.holding[t] > 0]
                        return random.choice(paying) if paying and len(ready) > 1 else None

                    token = await until(
                        mid_payout, 120, f"a worker in the middle of a payout (kill {len(cut) + 1})"
                    )
                    cut.append(platform.holding[token])
                    workers.pop(token).kill()
                    start_worker()
                last_kill = time.monotonic()
                killing.clear()
                await flowing
                views = await settled(http, list(shapes), seconds=240)
                settle_seconds = time.monotonic() - last_kill
                counts = check_paid_once(platform, views, shapes)
                errors = deployment.server_errors()
                assert 500 not in errors, errors
                for dispute_id, shape in shapes.items():
                    effects = (await http.get(f"/v1/disputes/{dispute_id}/effects")).json()["items"]
                    kinds = Counter(
                        e["kind"] for e in effects if e["kind"] in ("REFUND_TO_BUYER", "RELEASE_TO_SELLER")
                    )
                    buyer, seller = SETTLES[shape]
                    assert kinds == Counter(
                        {"REFUND_TO_BUYER": int(buyer > 0), "RELEASE_TO_SELLER": int(seller > 0)}
                    ), dispute_id
    assert counts["duplicates"] == 0
    record_figures(
        "worker_sigkill",
        {
            "disputes": len(shapes),
            "kills": len(cut),
            "worker_processes": len(cut) + slots,
            "payout_requests_cut_by_kills": sum(cut),
            **counts,
            "lost": 0,
            "api_5xx": errors,
            "seconds_total": round(time.monotonic() - started),
            "seconds_to_settle_after_last_kill": round(settle_seconds),
        },
    )


async def stop_mid_payouts(
    env: WorkflowEnvironment, task_queue: str, folder: Path, grace: int, disputes: int
) -> dict[str, Any]:
    """Payouts in flight on one worker, which gets SIGTERM with ``grace`` seconds to finish them;
    then a second worker takes over. What the platform saw, from which worker."""
    hold = 2.0
    platform = slow_platform(hold)
    async with endpoint(platform.app()) as platform_http:
        settings = effects_over_http(platform_http.url + "/platform") | {
            "DISPUTES_ACTIVITY_TIMEOUT": "PT10S",  # the attempt itself never times out here
            "DISPUTES_ACTIVITY_MAX_RETRY_INTERVAL": "PT1S",
            "DISPUTES_WORKER_SHUTDOWN_GRACE": f"PT{grace}S",
        }
        async with service(temporal_address(env), task_queue, folder, **settings) as deployment:
            first = deployment.start_worker(DISPUTES_EFFECTS_BEARER_TOKEN="first")
            deployment.start_api()
            await deployment.api_ready()
            await until(lambda: first.logged("worker polling"), 60, "the first worker to poll")
            async with deployment.client() as http:
                opened = await asyncio.gather(
                    *(open_dispute(http, f"o-{uuid.uuid4().hex[:10]}") for _ in range(disputes))
                )
                # Refunds, and partial refunds whose release only the second worker can send.
                shapes = {d: ("refund", "partial")[n % 2] for n, d in enumerate(opened)}
                await asyncio.gather(*(agree(http, d, shape) for d, shape in shapes.items()))

                async def every_refund_sent() -> bool:
                    return len({h.key for h in platform.held if h.caller == "first"}) >= disputes

                await until(every_refund_sent, 60, "every refund to be in flight")
                in_flight = [h for h in platform.held if h.caller == "first" and h.answered_at is None]
                stopping = time.monotonic()
                first.terminate()
                code = await first.exited(grace + 60)
                exited = time.monotonic()
                deployment.start_worker(DISPUTES_EFFECTS_BEARER_TOKEN="second")
                views = await settled(http, list(shapes), seconds=120)
                counts = check_paid_once(platform, views, shapes)
                errors = deployment.server_errors()
                assert 500 not in errors, errors
    sent_by = {caller: {h.key for h in platform.held if h.caller == caller} for caller in ("first", "second")}
    return {
        "exit_code": code,
        "shutdown_seconds": exited - stopping,
        "in_flight": in_flight,
        "answered_before_exit": sum(1 for h in in_flight if h.answered_at and h.answered_at <= exited),
        # answered after the worker was gone (or never): it cannot have heard of them
        "answered_after_exit": {h.key for h in in_flight if h.answered_at is None or h.answered_at > exited},
        "sent_again": sent_by["first"] & sent_by["second"],
        "requests_per_key": platform.requests_per_key("/refunds") + platform.requests_per_key("/releases"),
        "api_5xx": errors,
        **counts,
    }


async def test_a_stopping_worker_finishes_its_payouts_within_the_grace(
    dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    disputes, grace = scale("STOP_DISPUTES", 10), 15
    # With the grace, and (the control) without it, as the SDK's default would have it.
    graceful, abrupt = await asyncio.gather(
        stop_mid_payouts(dev_server_env, f"tq-{uuid.uuid4()}", tmp_path / "grace", grace, disputes),
        stop_mid_payouts(dev_server_env, f"tq-{uuid.uuid4()}", tmp_path / "no-grace", 0, disputes // 2),
    )
    # SIGTERM with payouts in flight: the worker waits for their answers, reports them, and exits
    # cleanly within the grace; the next worker sends none of them again.
    assert graceful["in_flight"], "no payout was in flight when the worker was stopped"
    assert graceful["exit_code"] == 0
    assert graceful["answered_before_exit"] == len(graceful["in_flight"])
    assert graceful["shutdown_seconds"] < grace + 30  # its own slack: process exit on a busy machine
    assert graceful["sent_again"] == set()
    assert set(graceful["requests_per_key"].values()) == {1}  # each payout requested exactly once
    # Without a grace the in-flight payouts are cut off; the platform applied them already, and
    # the next worker sends them again: only the platform's deduplication saves the money.
    assert abrupt["answered_after_exit"], "the control's worker waited for its payouts"
    assert abrupt["sent_again"] >= abrupt["answered_after_exit"]
    assert abrupt["duplicates"] == graceful["duplicates"] == 0
    record_figures(
        "worker_sigterm",
        {
            "disputes": disputes,
            "grace_seconds": grace,
            "payouts_in_flight_at_sigterm": len(graceful["in_flight"]),
            "finished_before_exit": graceful["answered_before_exit"],
            "shutdown_seconds": round(graceful["shutdown_seconds"], 1),
            "payouts_applied": graceful["payouts_applied"],
            "payout_requests": graceful["payout_requests"],
            "sent_again_by_next_worker": len(graceful["sent_again"]),
            "duplicates": 0,
            "lost": 0,
            "api_5xx": graceful["api_5xx"],
            "control_without_grace": {
                "payouts_in_flight_at_sigterm": len(abrupt["in_flight"]),
                "sent_again_by_next_worker": len(abrupt["sent_again"]),
                "duplicates_applied": abrupt["duplicates"],
            },
        },
    )
