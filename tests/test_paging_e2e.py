"""End to end over HTTP on the dev server, on SQLite and PostgreSQL: a platform pages through the
disputes while others are opened and acted on; each dispute open when the pass began is listed once,
none twice; an ``updated_after`` sync then lists the ones acted on, in their newer version.

The rows come from the cases' own publish step (the read model's write path), not from the test."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from tests import views
from tests.support import BUYER, SELLER, claim, eventually, new_order


@pytest.fixture(params=views.ENGINES)
def settings(request: pytest.FixtureRequest, task_queue: str, tmp_path: Path) -> Settings:
    """The test's settings on a SQLite file or a new, migrated PostgreSQL database."""
    return views.settings_on(request, task_queue, tmp_path)


async def open_dispute(api: httpx.AsyncClient) -> str:
    opened = await api.post("/v1/disputes", json=claim(new_order()))
    assert opened.status_code == 201, opened.text
    dispute_id: str = opened.json()["id"]
    return dispute_id


async def listed(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every dispute of one pass, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await api.get("/v1/disputes", params=params | ({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


async def test_a_pass_lists_each_dispute_once_while_others_open_and_change(api: httpx.AsyncClient) -> None:
    before = [await open_dispute(api) for _ in range(24)]

    async def all_listed() -> bool:
        return {item["id"] for item in await listed(api, limit=500)} >= set(before)

    await eventually(all_listed, seconds=60)
    started = datetime.now(UTC)
    pick = random.Random(16)
    acted: set[str] = set()
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await api.get("/v1/disputes", params={"limit": 5} | ({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
        # Between two pages: a new dispute opens, one is offered something else, one is cancelled.
        await open_dispute(api)
        offered, cancelled = pick.sample(sorted(set(before) - acted), 2)
        solution = {"kind": "REFUND_TO_BUYER", "amount": 1000}
        offer = await api.post(f"/v1/disputes/{offered}/offers", json={"actor": SELLER, "solution": solution})
        cancel = await api.post(f"/v1/disputes/{cancelled}/cancel", json={"actor": BUYER})
        assert offer.status_code == 200 and cancel.status_code == 200, (offer.text, cancel.text)
        acted |= {offered, cancelled}
    assert len(seen) == len(set(seen)), "a dispute was listed twice in one pass"
    assert set(before) <= set(seen), "a dispute open before the pass was not listed"

    # A sync from just before the actions lists every dispute acted on, in a newer version.
    async def synced() -> dict[str, dict[str, Any]] | None:
        since = (started - timedelta(seconds=1)).isoformat()
        changed = {item["id"]: item for item in await listed(api, updated_after=since, limit=3)}
        return changed if acted <= set(changed) and all(changed[i]["version"] > 1 for i in acted) else None

    changed = await eventually(synced, seconds=60)
    statuses = {changed[i]["status"] for i in acted}
    assert "CANCELLED" in statuses and "AWAITING_BUYER" in statuses
