"""An Idempotency-Key is recorded only for a request that validated and was allowed (finding 8 of
issue 12): a refused request (422, 403, 409) leaves no record, so the corrected request with the
same key goes through, once."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from store.idempotency import IdempotencyKeys
from tests.support import API_KEYS, BUYER, PLATFORM_KEY, SELLER, claim, new_order


def new_key() -> dict[str, str]:
    return {"Idempotency-Key": f"k-{uuid.uuid4()}"}


async def recorded(engine: AsyncEngine, key: dict[str, str]) -> bool:
    """Whether the API holds a record of ``key`` (as the platform key's holder sent it)."""
    caller = API_KEYS[PLATFORM_KEY].name
    digest = hashlib.sha256(f"{caller}\0{key['Idempotency-Key']}".encode()).hexdigest()[:40]
    return await IdempotencyKeys(engine).get(digest) is not None


def events(response: httpx.Response, event: str) -> list[dict[str, Any]]:
    return [entry for entry in response.json()["timeline"] if entry["event"] == event]


async def test_a_refused_request_does_not_use_up_its_key(api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    # 422: the body does not validate (here: no order total).
    opening, order = new_key(), new_order()
    body = claim(order)
    invalid = await api.post("/v1/disputes", json={**body, "order_total": None}, headers=opening)
    assert invalid.status_code == 422, invalid.text
    assert not await recorded(engine, opening)
    opened = await api.post("/v1/disputes", json=body, headers=opening)
    assert opened.status_code == 201, opened.text
    assert await recorded(engine, opening)
    retried = await api.post("/v1/disputes", json=body, headers=opening)
    assert (retried.status_code, retried.json()["id"]) == (201, opened.json()["id"])
    url = f"/v1/disputes/{opened.json()['id']}"

    # 403 (not a party), 403 (a role the key may not act in), 422 (evidence that is not one's own):
    # each is refused without recording the key; then the right message is said once.
    saying = new_key()
    message = {"actor": BUYER, "text": f"Where is it? {uuid.uuid4().hex[:6]}"}
    refusals = [
        (message | {"actor": {"role": "buyer", "id": "b-9"}}, 403),
        (message | {"actor": {"role": "care", "id": "agent-7"}}, 403),
        (message | {"evidence": [f"ev-{uuid.uuid4().hex}"]}, 422),
        (message | {"text": ""}, 422),
    ]
    for refused_body, status in refusals:
        refused = await api.post(f"{url}/messages", json=refused_body, headers=saying)
        assert refused.status_code == status, refused.text
        assert not await recorded(engine, saying), refused_body
    said = await api.post(f"{url}/messages", json=message, headers=saying)
    said_again = await api.post(f"{url}/messages", json=message, headers=saying)
    assert (said.status_code, said_again.status_code) == (200, 200), said.text
    assert said_again.json() == said.json()
    assert [entry["detail"]["text"] for entry in events(said_again, "message")] == [message["text"]]

    # 409: the case's state does not allow it (the buyer cannot accept its own request); the
    # seller's accept then goes through with that key, once.
    accepting = new_key()
    too_early = await api.post(f"{url}/accept", json={"actor": BUYER}, headers=accepting)
    assert too_early.status_code == 409, too_early.text
    assert not await recorded(engine, accepting)
    accepted = await api.post(f"{url}/accept", json={"actor": SELLER}, headers=accepting)
    assert accepted.status_code == 200, accepted.text
    again = await api.post(f"{url}/accept", json={"actor": SELLER}, headers=accepting)
    assert (again.status_code, again.json()) == (200, accepted.json())
    assert len(events(again, "accept")) == 1

    # A key that was used for a request that went through is still bound to it.
    reused = await api.post(f"{url}/messages", json=message | {"text": "other"}, headers=accepting)
    assert reused.status_code == 422 and reused.json()["errors"][0]["field"] == "Idempotency-Key"
