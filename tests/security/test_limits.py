"""Limits and hygiene: per-key rate limits, a cap on case openings per CloudEvents batch, the
worker's metrics on loopback, evidence files readable by the service alone."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import yaml
from temporalio.testing import WorkflowEnvironment

from api.limits import TokenBucket
from api.main import create_app
from core.observability import metrics_bind_address
from core.settings import Settings
from store.blobstore import LocalBlobStore
from tests.support import AS_CARE, claim, serving

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take("checkout") for _ in range(3)] == [0, 0, 0]
    assert bucket.take("checkout") == 0.5  # the next token in half a second at 2/s
    assert bucket.take("care-tools") == 0  # every key has its own bucket
    now[0] += 0.5
    assert bucket.take("checkout") == 0
    now[0] += 60
    assert [bucket.take("checkout") for _ in range(4)][-1] > 0  # refills to the burst, not beyond


async def test_a_key_over_its_rate_gets_429_and_others_do_not(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    settings = Settings(
        task_queue=task_queue, data_dir=tmp_path, rate_limit_per_second=0.2, rate_limit_burst=2
    )
    async with serving(settings, dev_server_env, worker=False) as api:
        statuses = [(await api.get("/v1/disputes")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = await api.get("/v1/disputes")
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["retry-after"]) <= 5
        assert limited.json()["retry_after"] == int(limited.headers["retry-after"])
        assert "checkout" in limited.json()["detail"]
        assert (await api.get("/v1/care/queue", headers=AS_CARE)).status_code == 200
        for _ in range(5):  # health checks and scrapes are never limited
            assert (await api.get("/health")).status_code == 200
            assert (await api.get("/metrics")).status_code == 200


def test_anonymous_buckets_are_per_address_and_bounded() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=1, burst=1, clock=lambda: now[0], max_keys=2)
    assert [bucket.take("10.0.0.1"), bucket.take("10.0.0.1")] == [0, 1.0]
    assert bucket.take("10.0.0.2") == 0  # another address has its own bucket
    bucket.take("10.0.0.3")
    assert len(bucket._buckets) == 2  # the least recently used address was dropped


async def test_requests_without_a_valid_key_are_limited_per_address(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    """Before: an unauthenticated caller got 401 forever, as fast as it could ask (guessing keys)."""
    settings = Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        anonymous_rate_limit_per_second=0.2,
        anonymous_rate_limit_burst=3,
        payload_keys={"k1": "A" * 43 + "="},
    )
    async with serving(settings, dev_server_env, worker=False) as api:
        no_key = {"Authorization": ""}
        guesses = [{"Authorization": f"Bearer guess-{n}"} for n in range(2)]
        statuses = [(await api.get("/v1/disputes", headers=h)).status_code for h in [no_key, *guesses]]
        assert statuses == [401, 401, 401]
        limited = await api.get("/v1/disputes", headers={"Authorization": "Bearer guess-3"})
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["retry-after"]) <= 5
        assert limited.json()["retry_after"] == int(limited.headers["retry-after"])
        assert "without a valid API key" in limited.json()["detail"]
        # the codec's door counts against the same bucket
        decode = await api.post("/codec/decode", json={"payloads": []}, headers=no_key)
        assert decode.status_code == 429
        # a valid key from the same address is limited by its own bucket only
        assert (await api.get("/v1/disputes")).status_code == 200
        for _ in range(5):  # health checks and scrapes are never limited
            assert (await api.get("/health", headers=no_key)).status_code == 200
            assert (await api.get("/metrics", headers=no_key)).status_code == 200


async def test_a_batch_opens_at_most_the_cap_and_says_so_for_the_rest(
    dev_server_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    """Before: one batch of 100 'opened' events started 100 workflows."""
    settings = Settings(task_queue=task_queue, data_dir=tmp_path, events_max_openings=2)
    orders = [f"o-{uuid.uuid4().hex[:8]}" for _ in range(4)]
    batch = [
        {
            "specversion": "1.0",
            "id": f"open-{order}",
            "source": "/checkout",
            "type": "com.marketplace.dispute.opened",
            "data": claim(order),
        }
        for order in orders
    ]
    batch.insert(
        1,
        {
            "specversion": "1.0",
            "id": "msg-1",
            "source": "/chat",
            "type": "com.marketplace.dispute.buyer.message",
            "subject": f"dispute-{orders[0]}",
            "data": {"actor": {"role": "buyer", "id": "b-1"}, "text": "hello"},
        },
    )
    async with serving(settings, dev_server_env) as api:
        response = await api.post("/v1/events", json=batch)
        assert response.status_code == 202, response.text
        statuses = [item["status"] for item in response.json()["items"]]
        assert statuses == ["accepted", "accepted", "accepted", "limited", "limited"]
        assert "at most 2" in response.json()["items"][3]["detail"]
        for order, expected in zip(orders, [200, 200, 404, 404], strict=True):
            assert (await api.get(f"/v1/disputes/dispute-{order}")).status_code == expected


def test_worker_metrics_bind_loopback_unless_told_otherwise() -> None:
    assert metrics_bind_address(Settings()) == "127.0.0.1:9464"
    assert metrics_bind_address(Settings(worker_metrics_host="::1", worker_metrics_port=9500)) == "[::1]:9500"
    assert metrics_bind_address(Settings(worker_metrics_port=None)) is None
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["x-disputes-env"]["DISPUTES_WORKER_METRICS_HOST"] == "0.0.0.0"  # scraped from outside


async def test_evidence_files_are_0600_in_a_0700_folder(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    root.mkdir(mode=0o755)  # as an older version left it
    root.chmod(0o755)
    store = LocalBlobStore(root)
    await store.put("ev-0123", b"%PDF-1.4\n%%EOF\n", "application/pdf")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "ev-0123").stat().st_mode) == 0o600
    assert await store.get("ev-0123") == b"%PDF-1.4\n%%EOF\n"


def test_the_api_limit_problem_is_documented() -> None:
    responses = create_app(Settings()).openapi()["paths"]["/v1/disputes"]["get"]["responses"]
    assert "429" in responses
