"""Cursor pages over the read model (store/view_pages.py), on SQLite and PostgreSQL: a pass over
10,000 cases while they change and new ones open gives each case once; ``updated_after`` syncs
what changed; every filter; the fields read from the stored view."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from domain.commands import MakeOffer, RequestHelp
from domain.dispute import DisputeStatus
from domain.ticket import TicketTopic
from domain.types import Actor, Role
from store.db import database
from store.migrate import migrate
from store.view_pages import CaseFilter, CaseRow, CaseViews, Key, Order, key_of
from tests import views
from tests.factories import T0, ask_help, offer
from tests.postgres import PostgresServer

ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of the test's own: a SQLite file, or a new database on the session's server."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database("views")


@pytest.fixture
async def db(url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """That database migrated and an engine on it."""
    await asyncio.to_thread(migrate, url)
    async with database(Settings(data_dir=tmp_path, database_url=url)) as engine:
        yield engine


def mediation(buyer_id: str, seller_id: str) -> tuple[MakeOffer, RequestHelp]:
    """The seller offers something else and the buyer asks care to mediate."""
    return offer(Actor(role=Role.SELLER, id=seller_id)), ask_help(Actor(role=Role.BUYER, id=buyer_id))


async def walk(
    store: CaseViews, where: CaseFilter, limit: int, between: object = None
) -> AsyncIterator[list[CaseRow]]:
    """Every page of ``where`` in turn, as a client follows next_cursor."""
    after: Key | None = None
    while True:
        rows, more = await store.page(where, limit, after)
        yield rows
        if not more:
            return
        after = key_of(rows[-1], where.order)


async def test_a_pass_gives_each_case_once_while_cases_change_and_open(db: AsyncEngine) -> None:
    rows = views.many_disputes(10_000)
    await views.insert(db, rows)
    existing = {row["case_id"] for row in rows}
    store = CaseViews(db)
    shuffled = random.Random(16)
    seen: list[str] = []
    later = T0 + timedelta(days=1)
    pages = 0
    async for page in walk(store, CaseFilter(kind="dispute"), limit=500):
        pages += 1
        seen += [row.case_id for row in page]
        assert [key_of(r, Order.OPENED) for r in page] == sorted(
            (key_of(r, Order.OPENED) for r in page), reverse=True
        )
        # Between two pages: cases already seen and not yet seen change, and new ones open.
        await views.touch(db, shuffled.sample(sorted(existing), 200), later + timedelta(minutes=pages))
        fresh = views.many_disputes(30, start=later + timedelta(minutes=pages))
        for n, row in enumerate(fresh):
            row["case_id"] = row["state"]["id"] = f"dispute-new-{pages}-{n}"
        await views.insert(db, fresh)
    assert len(seen) == len(set(seen)), "a case was listed twice in one pass"
    assert existing <= set(seen), "a case open before the pass began was not listed"
    assert pages >= 20


async def test_updated_after_lists_what_changed_oldest_change_first(db: AsyncEngine) -> None:
    rows = views.many_disputes(300)
    await views.insert(db, rows)
    store = CaseViews(db)
    changed_at = T0 + timedelta(days=2)
    first, second = [r["case_id"] for r in rows[10:20]], [r["case_id"] for r in rows[200:205]]
    await views.touch(db, first, changed_at)
    await views.touch(db, second, changed_at + timedelta(seconds=5))
    where = CaseFilter(kind="dispute", updated_after=changed_at)
    synced: list[CaseRow] = []
    async for page in walk(store, where, limit=4):
        synced += page
        if len(synced) == 4:  # a case already synced changes during the pass: it comes again, newer
            await views.touch(db, [first[0]], changed_at + timedelta(seconds=9))
    assert [r.case_id for r in synced] == sorted(first) + sorted(second) + [first[0]]
    assert [r.version for r in synced if r.case_id == first[0]] == [2, 3]
    # Inclusive: a change at the very instant asked for is not missed.
    assert {r.case_id for r in (await store.page(where, 500))[0]} == set(first) | set(second)
    later = CaseFilter(kind="dispute", updated_after=changed_at + timedelta(seconds=10))
    assert (await store.page(later, 500)) == ([], False)


async def test_filters(db: AsyncEngine) -> None:
    mediated = views.dispute(1, T0, *mediation("b-9", "s-9"), buyer_id="b-9", seller_id="s-9")
    plain = [views.dispute(n, T0 + timedelta(minutes=n)) for n in range(2, 6)]
    owned = views.dispute(6, T0 + timedelta(hours=2)) | {"assignee": "agent-1", "care_group": "payments"}
    reports = [
        views.ticket(1, T0, topic=TicketTopic.BALANCE_WITHDRAWAL, user_id="u-1"),
        views.ticket(2, T0 + timedelta(minutes=1), topic=TicketTopic.ACCOUNT, user_id="u-1"),
        views.ticket(3, T0 + timedelta(minutes=2), topic=TicketTopic.ACCOUNT, user_id="u-2"),
    ]
    await views.insert(db, [mediated, *plain, owned, *reports])
    store = CaseViews(db)

    async def ids(**where: object) -> list[str]:
        rows, more = await store.page(CaseFilter(**where), 500)  # type: ignore[arg-type]
        assert not more
        return [row.case_id for row in rows]

    assert await ids(kind="dispute", buyer_id="b-9") == [mediated["case_id"]]
    assert await ids(kind="dispute", seller_id="s-9") == [mediated["case_id"]]
    assert await ids(kind="dispute", order_id="o-3") == [plain[1]["case_id"]]
    assert await ids(kind="dispute", statuses=(DisputeStatus.IN_MEDIATION,)) == [mediated["case_id"]]
    assert await ids(kind="dispute", assignee="agent-1") == [owned["case_id"]]
    assert await ids(kind="dispute", care_group="payments") == [owned["case_id"]]
    assert owned["case_id"] not in await ids(kind="dispute", unassigned=True)
    assert len(await ids(kind="dispute", unassigned=True)) == 5
    # newest first; opened_after / opened_before are strict
    assert await ids(kind="dispute", opened_after=T0 + timedelta(minutes=3)) == [
        owned["case_id"],
        plain[3]["case_id"],
        plain[2]["case_id"],
    ]
    assert await ids(kind="dispute", opened_before=T0 + timedelta(minutes=2)) == [mediated["case_id"]]
    assert await ids(kind="ticket", user_id="u-1") == [reports[1]["case_id"], reports[0]["case_id"]]
    assert await ids(kind="ticket", topic=TicketTopic.ACCOUNT) == [
        reports[2]["case_id"],
        reports[1]["case_id"],
    ]
    assert await ids(kind="ticket", buyer_id="b-9") == []


async def test_rows_carry_the_fields_of_the_stored_view(db: AsyncEngine) -> None:
    mediated = views.dispute(1, T0, *mediation("b-1", "s-1"))
    report = views.ticket(1, T0, topic=TicketTopic.ACCOUNT, user_id="u-5")
    await views.insert(db, [mediated, report])
    store = CaseViews(db)
    dispute = await store.get(mediated["case_id"])
    assert dispute is not None
    assert dispute.status == DisputeStatus.IN_MEDIATION
    assert dispute.care_reply_due_at is not None
    assert dispute.care_reply_due_at.isoformat() == mediated["state"]["care_clock"]["due_at"].replace(
        "Z", "+00:00"
    )
    assert (dispute.user_id, dispute.topic, dispute.priority) == (None, None, None)
    ticket = await store.get(report["case_id"])
    assert ticket is not None
    assert (ticket.user_id, ticket.topic, ticket.priority) == (
        "u-5",
        TicketTopic.ACCOUNT,
        report["state"]["priority"],
    )
    assert ticket.care_reply_due_at is not None and ticket.opened_at == T0
    assert await store.get("dispute-none") is None
    # The same fields when the row keeps the public view (computed fields) instead of the state.
    public = views.dispute(2, T0, *mediation("b-2", "s-2"))
    public["state"] = {k: v for k, v in public["state"].items() if k not in {"care_clock", "decision_clock"}}
    await views.insert(db, [public])
    shown = await store.get(public["case_id"])
    assert shown is not None and shown.care_reply_due_at == dispute.care_reply_due_at
