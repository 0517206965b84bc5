"""The event feed (``GET /v1/case-events``) on SQLite and PostgreSQL: a receiver that was down
replays what it missed from its last event id (nothing missing, nothing doubled, in order, the same
bodies the webhooks send); who may read it; the type filter; retention pruning."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from activities.webhooks import payload_of
from api.paging import encode_cursor, is_cursor
from core.settings import Settings
from domain.outbound import CaseEvent, EventType
from store.db import database
from store.webhooks import WebhookStore, webhook_store
from tests import views
from tests.support import AS_ADMIN, AS_CARE, BUYER, claim, eventually, listening, new_order


@pytest.fixture(params=views.ENGINES)
def settings(request: pytest.FixtureRequest, task_queue: str, tmp_path: Path) -> Settings:
    """The test's settings on a SQLite file or a new, migrated PostgreSQL database."""
    return views.settings_on(request, task_queue, tmp_path)


class Receiver:
    """A platform's webhook endpoint that can be down (503)."""

    def __init__(self) -> None:
        self.up = True
        self.accepted: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/hooks", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        if not self.up:
            return JSONResponse({"error": "maintenance"}, status_code=503)
        self.accepted.append(json.loads(await request.body()))
        return JSONResponse({"ok": True})


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    async with listening(receiver.app) as url:
        yield receiver, f"{url}/hooks"


async def feed(api: httpx.AsyncClient, limit: int = 100, **params: Any) -> list[dict[str, Any]]:
    """Every event of the feed from ``after``, following next_cursor."""
    events: list[dict[str, Any]] = []
    while True:
        got = await api.get("/v1/case-events", params={"limit": limit, **params})
        assert got.status_code == 200, got.text
        body = got.json()
        events += body["items"]
        if body["next_cursor"] is None:
            return events
        params["after"] = body["next_cursor"]


async def open_dispute(api: httpx.AsyncClient) -> str:
    opened = await api.post("/v1/disputes", json=claim(new_order()))
    assert opened.status_code == 201, opened.text
    dispute_id: str = opened.json()["id"]
    return dispute_id


async def test_a_receiver_that_was_down_replays_from_its_last_event_id(
    api: httpx.AsyncClient, hooks: tuple[Receiver, str]
) -> None:
    receiver, url = hooks
    subscribed = await api.post("/v1/webhooks", json={"url": url, "event_types": ["*"]})
    assert subscribed.status_code == 201, subscribed.text
    first = await open_dispute(api)
    await eventually(lambda: _has(receiver.accepted, first, "dispute.opened"), seconds=30)
    last_seen = receiver.accepted[-1]["id"]

    receiver.up = False  # the outage: everything from here on fails to arrive
    missed_cases = [await open_dispute(api) for _ in range(3)]
    cancelled = await api.post(f"/v1/disputes/{missed_cases[0]}/cancel", json={"actor": BUYER})
    assert cancelled.status_code == 200, cancelled.text
    everything = await eventually(
        lambda: _feed_holds(
            api, [(c, "dispute.opened") for c in missed_cases] + [(missed_cases[0], "dispute.cancelled")]
        ),
        seconds=30,
    )

    # Back up, the receiver pulls from its last event id, two at a time.
    replayed = await feed(api, limit=2, after=last_seen)
    ids = [event["id"] for event in everything]
    assert [event["id"] for event in replayed] == ids[ids.index(last_seen) + 1 :]  # in order, none missing
    assert len({event["id"] for event in replayed}) == len(replayed)  # none twice
    assert {(e["case_id"], e["type"]) for e in replayed} >= {(c, "dispute.opened") for c in missed_cases}
    assert last_seen not in {event["id"] for event in replayed}
    # The very bodies the webhooks send.
    delivered = {event["id"]: event for event in receiver.accepted}
    assert delivered and all(
        event == delivered[event["id"]] for event in everything if event["id"] in delivered
    )
    # Only the cancellation, by type.
    cancellations = await feed(api, type="dispute.cancelled")
    assert [(e["case_id"], e["type"]) for e in cancellations] == [(missed_cases[0], "dispute.cancelled")]


async def test_who_reads_the_feed_and_what_after_may_be(api: httpx.AsyncClient) -> None:
    opened = [await open_dispute(api) for _ in range(2)]
    events = await eventually(lambda: _feed_holds(api, [(d, "dispute.opened") for d in opened]), seconds=30)
    assert (await api.get("/v1/case-events", headers=AS_ADMIN)).status_code == 200
    care = await api.get("/v1/case-events", headers=AS_CARE)
    assert care.status_code == 403 and care.headers["content-type"] == "application/problem+json"
    as_party = await api.get("/v1/case-events", params={"actor_role": "buyer", "actor_id": "b-1"})
    assert as_party.status_code == 422 and as_party.json()["errors"][0]["field"] == "actor_role"
    for bad, field in [("evt-unknown", "after"), ("", "after"), ("dispute.nope", "after")]:
        got = await api.get("/v1/case-events", params={"after": bad})
        assert got.status_code == 422 and got.json()["errors"][0]["field"] == field, got.text
    unknown_type = await api.get("/v1/case-events", params={"type": "dispute.lost"})
    assert unknown_type.status_code == 422 and unknown_type.json()["errors"][0]["field"] == "type.0"
    assert (await api.get("/v1/case-events", params={"limit": 501})).status_code == 422
    # after = an event id and after = that event's cursor give the same page.
    by_cursor = (await api.get("/v1/case-events", params={"limit": 1})).json()
    by_id = await api.get("/v1/case-events", params={"after": events[0]["id"]})
    by_next = await api.get("/v1/case-events", params={"after": by_cursor["next_cursor"]})
    assert by_cursor["items"][0]["id"] == events[0]["id"], by_cursor
    assert by_id.status_code == by_next.status_code == 200, (by_id.text, by_next.text)
    assert by_id.json()["items"] == by_next.json()["items"] == events[1:100]


async def _has(events: list[dict[str, Any]], case_id: str, kind: str) -> bool:
    return any(e["case_id"] == case_id and e["type"] == kind for e in events)


async def _feed_holds(api: httpx.AsyncClient, wanted: list[tuple[str, str]]) -> list[dict[str, Any]] | None:
    events = await feed(api)
    held = {(e["case_id"], e["type"]) for e in events}
    return events if set(wanted) <= held else None


# -- retention ------------------------------------------------------------------------------------


def event(case_id: str, seq: int, at: datetime) -> CaseEvent:
    return CaseEvent(
        id=f"{case_id}:{seq}", type=EventType.DISPUTE_UPDATED, case_id=case_id, occurred_at=at, data={}
    )


async def test_events_past_their_retention_are_pruned(settings: Settings) -> None:
    now = datetime.now(UTC)
    async with database(settings) as engine:
        store = webhook_store(settings, engine)  # as the worker's publish step builds it: P30D
        assert store.event_retention == timedelta(days=30)
        # Written without the store's pruning, as events handed over long ago were.
        keeper = WebhookStore(engine, [])
        old = [event("dispute-old", n, now - timedelta(days=40, minutes=-n)) for n in range(1500)]
        for handed in old:
            await keeper.hand_over(handed, payload_of(handed))
        recent = event("dispute-new", 1, now - timedelta(days=29))
        await keeper.hand_over(recent, payload_of(recent))
        assert len(await store.events(limit=5000)) == 1501

        # The next hand-over prunes (more than one batch of them), once a minute in a process.
        fresh = event("dispute-new", 2, now)
        await store.hand_over(fresh, payload_of(fresh))
        assert [e.id for e in await store.events(limit=5000)] == [recent.id, fresh.id]
        assert await store.event_seq(old[0].id) is None
        again = event("dispute-old", 9999, now - timedelta(days=31))
        await keeper.hand_over(again, payload_of(again))
        later = event("dispute-new", 3, now)
        await store.hand_over(later, payload_of(later))  # within the minute: not pruned yet
        assert await store.event_seq(again.id) is not None
        assert await store.prune_events(now - timedelta(days=30)) == 1
        assert [e.id for e in await store.events()] == [recent.id, fresh.id, later.id]


def test_the_retention_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().event_retention == timedelta(days=30)
    monkeypatch.setenv("DISPUTES_EVENT_RETENTION", "PT12H")
    assert Settings().event_retention == timedelta(hours=12)
    monkeypatch.setenv("DISPUTES_EVENT_RETENTION", "P0D")
    with pytest.raises(ValueError, match="event_retention"):
        Settings()


def test_event_ids_are_never_taken_for_cursors() -> None:
    assert not is_cursor(str(uuid.uuid4()), (int,))
    assert not is_cursor("dispute-o-1:3", (int,))
    assert is_cursor(encode_cursor([3]), (int,))


async def test_a_reader_tailing_the_feed_misses_nothing_while_many_hand_over(settings: Settings) -> None:
    """Hand-overs from many connections at once while a reader follows the feed from its last
    position: on PostgreSQL a later number could commit first without the feed's lock."""
    now = datetime.now(UTC)
    async with database(settings) as engine:
        store = WebhookStore(engine, [], event_retention=timedelta(days=30))
        handed = [event(f"dispute-c{lane}", n, now) for lane in range(8) for n in range(40)]
        done = asyncio.Event()

        async def writer(lane: int) -> None:
            for one in handed[lane * 40 : (lane + 1) * 40]:
                await store.hand_over(one, payload_of(one))

        seen: list[tuple[int, str]] = []

        async def reader() -> None:
            position = 0
            while True:
                finished = done.is_set()
                page = await store.events(after=position, limit=50)
                seen.extend((e.seq, e.id) for e in page)
                position = page[-1].seq if page else position
                if finished and not page:
                    return
                await asyncio.sleep(0)

        tail = asyncio.create_task(reader())
        await asyncio.gather(*(writer(lane) for lane in range(8)))
        done.set()
        await tail
    assert [seq for seq, _ in seen] == sorted({seq for seq, _ in seen})  # in order, none twice
    assert {event_id for _, event_id in seen} == {e.id for e in handed}  # none missing
