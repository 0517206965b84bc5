"""Deflection end to end over HTTP: users open Help Center articles, some file a report to care
(a real ticket workflow on the dev server) and care reads who was deflected. The API's clock is
moved forward instead of waiting a day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from api import deps
from api.main import create_app
from core.settings import Settings
from store.help import starter_id
from tests.support import API_KEYS, AS_CARE, AS_PLATFORM, listening
from wiring.temporal import build_worker, case_activities

REFUND = starter_id("refund-after-complaint.id")
DOUBLE_CHARGE = starter_id("double-charge.id")


@dataclass
class Clock:
    """The API's now, moved by the test."""

    at: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=3))

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
async def clocked(
    dev_server_env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    """The API with a movable clock, and a worker for the reports it files."""
    settings = settings.model_copy(update={"api_keys": API_KEYS})
    client = dev_server_env.client
    app = create_app(settings, client=client, engine=engine)
    clock = Clock()
    app.dependency_overrides[deps.now] = clock
    async with AsyncExitStack() as stack:
        base_url = await stack.enter_async_context(listening(app))
        await stack.enter_async_context(
            build_worker(client, settings, case_activities(settings, client, engine), engine)
        )
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=base_url, timeout=30, headers=AS_PLATFORM)
        )
        yield http, clock


def report(user_id: str, viewed: list[str]) -> dict[str, object]:
    return {
        "user_id": user_id,
        "role": "buyer",
        "topic": "PAYMENT",
        "details": "Saldo saya terpotong dua kali dan dana belum dikembalikan",
        "viewed_articles": viewed,
    }


async def test_deflection_counts_users_who_read_and_filed_no_report_within_a_day(
    clocked: tuple[httpx.AsyncClient, Clock],
) -> None:
    api, clock = clocked
    start = clock.at

    async def read(article: str, user: str | None) -> None:
        params = {"user_id": user} if user else {}
        assert (await api.get(f"/v1/help/articles/{article}", params=params)).status_code == 200

    found = (await api.get("/v1/help/search", params={"q": "terpotong dua kali", "user_id": "u-soon"})).json()
    assert found["items"][0]["id"] == DOUBLE_CHARGE
    for user in ("u-reader", "u-soon", "u-late"):
        await read(REFUND, user)
    await read(DOUBLE_CHARGE, "u-soon")
    await read(REFUND, None)  # anonymous: a view, but nobody to follow

    clock.at = start + timedelta(hours=2)
    unknown = await api.post("/v1/tickets", json=report("u-soon", ["art-nothing"]))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "viewed_articles"
    filed = await api.post("/v1/tickets", json=report("u-soon", [REFUND, DOUBLE_CHARGE]))
    assert filed.status_code == 201, filed.text
    ticket = filed.json()
    assert ticket["viewed_articles"] == [REFUND, DOUBLE_CHARGE]
    # care sees what the user read before writing, on the report itself
    seen = await api.get(f"/v1/tickets/{ticket['id']}", headers=AS_CARE)
    assert seen.status_code == 200 and seen.json()["viewed_articles"] == [REFUND, DOUBLE_CHARGE]

    clock.at = start + timedelta(hours=30)  # more than a day after u-late read: deflected anyway
    assert (await api.post("/v1/tickets", json=report("u-late", []))).status_code == 201
    clock.at = start + timedelta(hours=47)
    await read(REFUND, "u-fresh")  # its day is not over when care looks: pending

    clock.at = start + timedelta(hours=48)
    stats = await api.get("/v1/help/stats", params={"since": start.isoformat()}, headers=AS_CARE)
    assert stats.status_code == 200, stats.text
    deflection = stats.json()["deflection"]
    assert deflection == {
        "window": "P1D",
        "users": 4,
        "deflected": 2,  # u-reader never filed; u-late filed 30 hours later
        "filed_report": 1,  # u-soon, two hours after reading
        "pending": 1,
        "rate": 0.6667,
    }
    uses = {use["article_id"]: use["views"] for use in stats.json()["articles"]}
    assert uses == {REFUND: 5, DOUBLE_CHARGE: 1}
    assert stats.json()["searches"] == 1

    metrics = (await api.get("/metrics")).text
    assert 'help_deflection_users{outcome="deflected"} 2.0' in metrics
    assert 'help_reports_total{after_reading="true"}' in metrics
