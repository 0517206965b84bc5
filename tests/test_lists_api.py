"""The lists over real HTTP, read from the read model (rows written straight into ``case_views``):
cursor pages of disputes, reports, the care queue, the inbox and ``/effects``; their filters; a bad
cursor or filter is a 422 naming it; an old ``limit``-only client still gets its fields."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.paging import encode_cursor
from core.settings import Settings
from domain.effects import EffectName
from domain.ticket import Priority, TicketTopic
from domain.types import Actor, Role
from store.outbox import CARE_REPLY, Effect, Outbox
from tests import views
from tests.factories import T0, ask_help, offer
from tests.support import AS_CARE, AS_SUPERVISOR, claim, eventually, new_order

#: The fields a dispute list item had before cursors (an old client reads them).
DISPUTE_FIELDS = {
    "id",
    "order_id",
    "buyer_id",
    "seller_id",
    "status",
    "care_reply_due_at",
    "sla_breached",
    "opened_at",
}
TICKET_FIELDS = DISPUTE_FIELDS - {"buyer_id", "seller_id"} | {"user_id", "topic", "priority"}


@pytest.fixture(params=views.ENGINES)
def settings(request: pytest.FixtureRequest, task_queue: str, tmp_path: Path) -> Settings:
    """The test's settings on a SQLite file or a new, migrated PostgreSQL database."""
    return views.settings_on(request, task_queue, tmp_path)


async def walk(api: httpx.AsyncClient, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a list, following next_cursor."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    headers = params.pop("headers", {})
    while True:
        got = await api.get(path, params=params | ({"cursor": cursor} if cursor else {}), headers=headers)
        assert got.status_code == 200, got.text
        body = got.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]], response.text


def mediation(n: int) -> tuple[Any, ...]:
    return (
        offer(Actor(role=Role.SELLER, id=f"s-{n % 5}")),
        ask_help(Actor(role=Role.BUYER, id=f"b-{n % 7}")),
    )


async def test_dispute_list_pages_filters_and_refusals(api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    rows = [views.dispute(n, T0 + timedelta(minutes=n)) for n in range(25)]
    await views.insert(engine, [*rows, views.ticket(1, T0)])
    pages = await walk(api, "/v1/disputes", limit=10)
    assert [len(page) for page in pages] == [10, 10, 5]
    ids = [item["id"] for page in pages for item in page]
    assert ids == [row["case_id"] for row in reversed(rows)]  # newest first, each once
    first = pages[0][0]
    assert DISPUTE_FIELDS <= set(first) and first["version"] == 1 and first["updated_at"]
    # An old client: only limit, the fields it always read.
    old = (await api.get("/v1/disputes", params={"limit": 3})).json()
    assert [item["id"] for item in old["items"]] == ids[:3] and old["next_cursor"]
    # Filters, and reading as a party.
    assert [i["id"] for p in await walk(api, "/v1/disputes", buyer_id="b-3") for i in p] == [
        r["case_id"] for r in reversed(rows) if r["buyer_id"] == "b-3"
    ]
    as_seller = await walk(api, "/v1/disputes", actor_role="seller", actor_id="s-2")
    assert {i["seller_id"] for p in as_seller for i in p} == {"s-2"}
    window = {
        "opened_after": (T0 + timedelta(minutes=5)).isoformat(),
        "opened_before": (T0 + timedelta(minutes=9)).isoformat(),
    }
    assert [i["id"] for p in await walk(api, "/v1/disputes", **window) for i in p] == ids[16:19]
    # updated_after: what changed since, oldest change first.
    await views.touch(engine, [ids[4], ids[0]], T0 + timedelta(days=1))
    await views.touch(engine, [ids[7]], T0 + timedelta(days=1, seconds=1))
    synced = await walk(api, "/v1/disputes", updated_after=(T0 + timedelta(days=1)).isoformat(), limit=1)
    assert [(i["id"], i["version"]) for p in synced for i in p] == [
        *sorted([(ids[0], 2), (ids[4], 2)]),
        (ids[7], 2),
    ]
    # Refused, naming the field.
    refused(await api.get("/v1/disputes", params={"cursor": "not-a-cursor"}), "cursor")
    opened_cursor: str = (await api.get("/v1/disputes", params={"limit": 1})).json()["next_cursor"]
    mixed = {"cursor": opened_cursor, "updated_after": T0.isoformat()}
    refused(await api.get("/v1/disputes", params=mixed), "cursor")  # a cursor of the other order
    refused(await api.get("/v1/disputes", params={"opened_after": "2026-01-01T00:00:00"}), "opened_after")
    refused(await api.get("/v1/disputes", params={"updated_after": "yesterday"}), "updated_after")
    refused(
        await api.get("/v1/disputes", params={"opened_before": "0001-01-01T00:00:00+01:00"}), "opened_before"
    )
    far = encode_cursor(["o", "0001-01-01T00:00:00+01:00", "dispute-o-1"])
    refused(await api.get("/v1/disputes", params={"cursor": far}), "cursor")
    refused(await api.get("/v1/disputes", params={"limit": 501}), "limit")
    refused(await api.get("/v1/disputes", params={"status": "LOST"}), "status")


async def test_ticket_list_pages_and_filters(api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    rows = [
        views.ticket(
            n, T0 + timedelta(minutes=n), topic=TicketTopic.ACCOUNT if n % 2 else TicketTopic.PAYMENT
        )
        for n in range(12)
    ]
    await views.insert(engine, [*rows, views.dispute(1, T0)])
    pages = await walk(api, "/v1/tickets", limit=5)
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [i["id"] for p in pages for i in p] == [r["case_id"] for r in reversed(rows)]
    assert TICKET_FIELDS <= set(pages[0][0])
    mine = await walk(api, "/v1/tickets", actor_role="user", actor_id="u-3")
    assert {i["user_id"] for p in mine for i in p} == {"u-3"} and sum(map(len, mine)) == 2
    account = await walk(api, "/v1/tickets", topic="ACCOUNT")
    assert {i["topic"] for p in account for i in p} == {"ACCOUNT"} and sum(map(len, account)) == 6
    refused(await api.get("/v1/tickets", params={"cursor": "eyJ4Ijo1fQ"}), "cursor")


async def test_care_queue_order_owners_groups_and_pages(api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    mediated = [views.dispute(n, T0 + timedelta(minutes=n), *mediation(n)) for n in range(6)]
    mediated[4] |= {"assignee": "agent-1", "care_group": "payments"}
    mediated[5] |= {"assignee": "agent-2", "care_group": "payments", "sla_breached": True}
    urgent = views.ticket(1, T0 + timedelta(hours=3), topic=TicketTopic.ACCOUNT_SECURITY)
    plain = views.ticket(2, T0, topic=TicketTopic.PAYMENT)
    waiting = views.dispute(9, T0)  # awaiting the seller: not care's
    assert urgent["state"]["priority"] == Priority.HIGH
    await views.insert(engine, [*mediated, urgent, plain, waiting])
    assert (await api.get("/v1/care/queue")).status_code == 403  # a platform key
    pages = await walk(api, "/v1/care/queue", limit=3, headers=AS_CARE)
    assert [len(p) for p in pages] == [3, 3, 2]
    items = [i for p in pages for i in p]
    # priority first, then breached, then the earliest due (the plain report opened first is due first)
    assert [i["id"] for i in items[:3]] == [urgent["case_id"], mediated[5]["case_id"], plain["case_id"]]
    assert [i["id"] for i in items[3:]] == [m["case_id"] for m in mediated[:5]]
    assert waiting["case_id"] not in {i["id"] for i in items}
    dispute = next(i for i in items if i["kind"] == "dispute")
    assert dispute["buyer_id"] and dispute["topic"] is None and dispute["care_reply_due_at"]
    report = next(i for i in items if i["kind"] == "ticket")
    assert report["user_id"] and report["topic"] and report["buyer_id"] is None

    async def ids(**params: str) -> list[str]:
        return [
            i["id"] for p in await walk(api, "/v1/care/queue", headers=AS_SUPERVISOR, **params) for i in p
        ]

    assert await ids(assignee="agent-1") == [mediated[4]["case_id"]]
    assert await ids(group="payments") == [mediated[5]["case_id"], mediated[4]["case_id"]]
    nobody = await ids(assignee="none", kind="dispute")
    assert nobody == [m["case_id"] for m in mediated[:4]]
    assert await ids(topic="PAYMENT") == [plain["case_id"]]
    refused(await api.get("/v1/care/queue", params={"assignee": "a b"}, headers=AS_CARE), "assignee")
    refused(await api.get("/v1/care/queue", params={"cursor": "AAAA"}, headers=AS_CARE), "cursor")
    refused(await api.get("/v1/care/queue", params={"limit": 1001}, headers=AS_CARE), "limit")
    # The first queue took up to 1000: such a client still gets its page (of at most 500).
    old = await api.get("/v1/care/queue", params={"limit": 1000}, headers=AS_CARE)
    assert old.status_code == 200 and len(old.json()["items"]) == 8 and old.json()["next_cursor"] is None


async def test_inbox_pages_newest_first(api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    outbox = Outbox(engine)
    for n in range(7):
        await outbox.record(
            Effect(
                case_id="ticket-x",
                kind=EffectName.NOTIFICATION,
                party="user",
                party_id="u-77",
                text=f"reply {n}",
                category=CARE_REPLY,
                idempotency_key=f"reply-{n}",
            )
        )
    pages = await walk(api, "/v1/users/u-77/inbox", limit=3)
    assert [[m["text"] for m in p] for p in pages] == [
        ["reply 6", "reply 5", "reply 4"],
        ["reply 3", "reply 2", "reply 1"],
        ["reply 0"],
    ]
    assert set(pages[0][0]) == {
        "id",
        "case_id",
        "text",
        "template",
        "params",
        "locale",
        "articles",
        "read",
        "created_at",
    }
    marked = await api.post(f"/v1/users/u-77/inbox/{pages[1][0]['id']}/read")
    assert marked.status_code == 200 and marked.json()["text"] == "reply 3" and marked.json()["read"]
    assert len((await api.get("/v1/users/u-77/inbox")).json()["items"]) == 7  # the old client
    refused(await api.get("/v1/users/u-77/inbox", params={"cursor": "WyJ4Il0"}), "cursor")


async def test_effects_page_oldest_first(api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    opened = await api.post("/v1/disputes", json=claim(new_order()))
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]
    outbox = Outbox(engine)
    for n in range(5):
        await outbox.record(
            Effect(
                case_id=dispute_id,
                kind=EffectName.NOTIFICATION,
                party="buyer",
                party_id="b-1",
                text=f"notice {n}",
                category="update",
                idempotency_key=f"{dispute_id}-extra-{n}",
            )
        )
    everything = (await api.get(f"/v1/disputes/{dispute_id}/effects")).json()
    assert everything["next_cursor"] is None and len(everything["items"]) >= 5
    pages = await walk(api, f"/v1/disputes/{dispute_id}/effects", limit=2)
    assert [e["idempotency_key"] for p in pages for e in p] == [
        e["idempotency_key"] for e in everything["items"]
    ]
    assert all(len(p) <= 2 for p in pages) and len(pages) >= 3
    refused(await api.get(f"/v1/disputes/{dispute_id}/effects", params={"cursor": "x"}), "cursor")


@pytest.mark.parametrize("limit", [1, 500])
async def test_a_page_size_is_one_to_five_hundred(api: httpx.AsyncClient, limit: int) -> None:
    for path, headers in [("/v1/disputes", {}), ("/v1/tickets", {}), ("/v1/care/queue", AS_CARE)]:
        got = await eventually(lambda: _ok(api, path, limit, headers))  # noqa: B023
        assert got["items"] == [] and got["next_cursor"] is None


async def _ok(api: httpx.AsyncClient, path: str, limit: int, headers: dict[str, str]) -> Any:
    got = await api.get(path, params={"limit": limit}, headers=headers)
    assert got.status_code == 200, got.text
    return got.json()
