"""Webhook subscriptions, their deliveries and dead letters belong to the API key that made them
(issue 12, finding 1: a second platform key listed, deleted and read the delivery log of another
key's subscription). Another platform key gets 404 and lists only its own; an admin key sees and
manages all of them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import ApiKey, KeyRole, Settings
from tests.support import API_KEYS, AS_ADMIN, AS_CARE, eventually

OTHER_KEY = "pk-test-logistics"
AS_OTHER = {"Authorization": f"Bearer {OTHER_KEY}"}


@pytest.fixture
def settings(task_queue: str, tmp_path: Path) -> Settings:
    """Two platform keys; deliveries to the closed port give up after 2 s, into dead letters."""
    return Settings(
        task_queue=task_queue,
        data_dir=tmp_path,
        api_keys=API_KEYS | {OTHER_KEY: ApiKey(name="logistics", role=KeyRole.PLATFORM)},
        webhook_allow_private_hosts=True,
        webhook_max_retry_interval=timedelta(seconds=1),
        webhook_retry_window=timedelta(seconds=2),
    )


async def items(
    api: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None, **params: Any
) -> Any:
    response = await api.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_second_platform_key_can_neither_see_nor_touch_another_keys_webhooks(
    api: httpx.AsyncClient,
) -> None:
    url = "http://127.0.0.1:9/hooks?token=checkout-only"  # nothing listens on port 9
    created = await api.post("/v1/webhooks", json={"url": url, "event_types": ["ticket.opened"]})
    assert created.status_code == 201, created.text
    mine = created.json()["id"]
    assert created.json()["owner"] == "checkout"
    theirs = (await api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/l"}, headers=AS_OTHER)).json()

    filed = await api.post(
        "/v1/tickets", json={"user_id": "u-9", "role": "seller", "topic": "SALES", "details": "Empty report"}
    )
    event_id = f"{filed.json()['id']}:1"

    async def both_dead() -> list[Any]:
        letters = await items(api, "/v1/webhooks/dead-letters", AS_ADMIN)
        return letters if len(letters) == 2 else []

    await eventually(both_dead, seconds=40)

    # The owner sees its subscription, its attempts and its dead letter.
    assert [s["id"] for s in await items(api, "/v1/webhooks")] == [mine]
    assert (await api.get(f"/v1/webhooks/{mine}")).json()["url"] == url
    assert {a["subscription_id"] for a in await items(api, "/v1/webhooks/deliveries")} == {mine}
    [letter] = await items(api, "/v1/webhooks/dead-letters")
    assert letter["subscription_id"] == mine and letter["event"]["id"] == event_id

    # Another platform key: as if none of it existed.
    assert [s["id"] for s in await items(api, "/v1/webhooks", AS_OTHER)] == [theirs["id"]]
    for method, path in [
        ("GET", f"/v1/webhooks/{mine}"),
        ("DELETE", f"/v1/webhooks/{mine}"),
        ("POST", f"/v1/webhooks/{mine}/rotate-secret"),
        ("POST", f"/v1/webhooks/{mine}/enable"),
        ("POST", f"/v1/webhooks/dead-letters/{letter['delivery_id']}/redeliver"),
    ]:
        response = await api.request(method, path, headers=AS_OTHER, json={} if method == "POST" else None)
        assert response.status_code == 404, (method, path, response.text)
        assert "checkout-only" not in response.text
    for params in ({}, {"subscription_id": mine}, {"event_id": event_id}):
        seen = await items(api, "/v1/webhooks/deliveries", AS_OTHER, **params)
        assert {a["subscription_id"] for a in seen} <= {theirs["id"]}, params
    assert await items(api, "/v1/webhooks/deliveries", AS_OTHER, subscription_id=mine) == []
    [their_letter] = await items(api, "/v1/webhooks/dead-letters", AS_OTHER)
    assert their_letter["subscription_id"] == theirs["id"]
    assert await items(api, "/v1/webhooks/dead-letters", AS_OTHER, subscription_id=mine) == []
    # ...and the same the other way round.
    assert (await api.delete(f"/v1/webhooks/{theirs['id']}")).status_code == 404

    # '*' still means every event type of every case: a platform key may read every case, so its
    # subscription got the report filed by the other key (docs: README, Webhooks).
    assert their_letter["event"]["id"] == event_id

    # An admin key sees and manages all of them.
    assert {s["id"] for s in await items(api, "/v1/webhooks", AS_ADMIN)} == {mine, theirs["id"]}
    assert {a["subscription_id"] for a in await items(api, "/v1/webhooks/deliveries", AS_ADMIN)} == {
        mine,
        theirs["id"],
    }
    assert (await api.get(f"/v1/webhooks/{theirs['id']}", headers=AS_ADMIN)).json()["owner"] == "logistics"
    assert (await api.delete(f"/v1/webhooks/{theirs['id']}", headers=AS_ADMIN)).status_code == 204
    assert await items(api, "/v1/webhooks", AS_OTHER) == []
    assert (await api.get("/v1/webhooks/dead-letters", headers=AS_CARE)).status_code == 403

    # The owner still has its own, and removes it.
    assert (await api.delete(f"/v1/webhooks/{mine}")).status_code == 204
    assert await items(api, "/v1/webhooks") == []
