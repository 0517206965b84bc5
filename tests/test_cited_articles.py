"""Care replies citing Help Center articles (issue 17 part 6): the ids travel from the reply
command through its timeline entry and notices to the outbox, and the inbox shows each article's
title and slug as they are when it is read. Pure rules, the workflow on the time-skipping server,
and the API over real HTTP against the dev server."""

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
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.http_adapters import HttpAdapters
from activities.models import NotifyInput
from core.settings import Settings
from domain.commands import Appeal, CareReply, RequestHelp
from domain.effects import EffectName
from domain.events import CareSpoke
from domain.ids import ticket_workflow_id
from domain.reactions import NoticeCategory, consequences
from domain.ticket import OpenTicketInput, ReporterRole, TicketReply, TicketTopic
from domain.types import Role
from store.cases import Timelines
from store.db import database
from store.help import HelpStore, starter_id
from store.migrate import migrate
from store.outbox import CitedArticle, Effect, Outbox
from tests.factories import BUYER, CARE, SELLER, USER, drive_dispute, drive_ticket
from tests.platform import SIGNING_SECRET, Receiver
from tests.postgres import PostgresServer
from tests.support import AS_CARE, claim, eventually, new_order
from tests.support import BUYER as BUYER_BODY
from tests.support import CARE as CARE_BODY
from tests.support import SELLER as SELLER_BODY
from wiring.temporal import build_worker, case_activities, effect_adapters
from workflows.base import Ack
from workflows.ticket import CareTicketWorkflow, TicketRun

REFUND = starter_id("refund-after-complaint.id")
PAYMENT = starter_id("payment-not-verified.id")

# -- the rules ------------------------------------------------------------------------------------


def test_a_ticket_reply_citing_articles_tells_the_user_with_their_ids() -> None:
    ticket = drive_ticket()
    happened = ticket.apply(
        TicketReply(actor=CARE, text="Baca ini", articles=[REFUND, PAYMENT]), datetime.now(UTC)
    )
    assert CareSpoke(text="Baca ini", articles=(REFUND, PAYMENT)) in happened
    assert ticket.timeline[-1].event == "reply"
    assert ticket.timeline[-1].detail["articles"] == [REFUND, PAYMENT]
    (notice,) = consequences(ticket, happened).notices
    assert (notice.party_id, notice.category, notice.articles) == (
        USER.id,
        NoticeCategory.CARE_REPLY,
        [REFUND, PAYMENT],
    )


def test_a_mediation_reply_citing_an_article_tells_both_parties_with_its_id() -> None:
    dispute = drive_dispute(Appeal(actor=SELLER, reason="Delivered"), RequestHelp(actor=BUYER))
    happened = dispute.apply(
        CareReply(actor=CARE, text="See the rules", articles=[REFUND]), datetime.now(UTC)
    )
    assert dispute.timeline[-1].detail == {"text": "See the rules", "articles": [REFUND]}
    notices = consequences(dispute, happened).notices
    assert [(n.party, n.category, n.articles) for n in notices] == [
        (Role.BUYER, NoticeCategory.CARE_REPLY, [REFUND]),
        (Role.SELLER, NoticeCategory.CARE_REPLY, [REFUND]),
    ]


def test_a_reply_without_articles_is_recorded_as_before() -> None:
    """Replies recorded before the field existed decode, and one citing nothing records no field."""
    reply = TicketReply.model_validate({"actor": CARE.model_dump(), "text": "Sudah"})
    assert reply.articles == []
    ticket = drive_ticket(reply)
    assert ticket.timeline[-1].detail == {"text": "Sudah"}
    with pytest.raises(ValidationError):
        TicketReply(actor=CARE, text="x", articles=[f"art-{n}" for n in range(11)])
    with pytest.raises(ValidationError):
        TicketReply(actor=CARE, text="x", articles=["not an id"])


# -- the outbox and the inbox, on both databases ---------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated database of the test's own (the starter Help Center loaded by migration 0005)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}"
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database("cited")
    await asyncio.to_thread(migrate, url)
    async with database(Settings(data_dir=tmp_path, database_url=url)) as engine:
        yield engine


async def test_the_inbox_names_cited_articles_in_the_order_care_cited_them(db: AsyncEngine) -> None:
    outbox = Outbox(db)

    def reply(key: str, articles: list[str] | None) -> Effect:
        return Effect(
            case_id="care-ticket-1",
            kind=EffectName.NOTIFICATION,
            party="user",
            party_id="u-1",
            text=key,
            category=NoticeCategory.CARE_REPLY.value,
            articles=articles,
            idempotency_key=key,
        )

    plain = await outbox.record(reply("k-1", None))
    cited = await outbox.record(reply("k-2", [PAYMENT, "art-gone", REFUND]))
    assert (plain.articles, cited.articles) == (None, [PAYMENT, "art-gone", REFUND])
    help_store = HelpStore(db)
    payment, refund = await help_store.get(PAYMENT), await help_store.get(REFUND)
    assert payment is not None and refund is not None
    newest, oldest = await outbox.inbox("u-1")
    assert oldest.articles == []
    assert newest.articles == [  # an id no article has (none is ever deleted) is left out
        CitedArticle(id=PAYMENT, slug=payment.slug, title=payment.title),
        CitedArticle(id=REFUND, slug=refund.slug, title=refund.title),
    ]


# -- the workflow, on the time-skipping server ----------------------------------------------------


@pytest.fixture
async def outbox(
    time_skipping_env: WorkflowEnvironment, task_queue: str, tmp_path: Path, engine: AsyncEngine
) -> AsyncIterator[Outbox]:
    settings = Settings(task_queue=task_queue, data_dir=tmp_path)
    activities = case_activities(settings, time_skipping_env.client, engine)
    async with build_worker(time_skipping_env.client, settings, activities, engine):
        yield Outbox(engine)


async def test_a_reply_citing_articles_records_their_ids_through_to_the_outbox(
    time_skipping_env: WorkflowEnvironment, task_queue: str, outbox: Outbox
) -> None:
    handle = await time_skipping_env.client.start_workflow(
        CareTicketWorkflow.run,
        TicketRun(
            open=OpenTicketInput(
                user_id=USER.id,
                role=ReporterRole.BUYER,
                topic=TicketTopic.REFUNDS,
                details="Dana belum kembali",
            )
        ),
        id=ticket_workflow_id(uuid.uuid4().hex[:12]),
        task_queue=task_queue,
    )
    reply = TicketReply(actor=CARE, text="Silakan baca artikel ini", articles=[REFUND, PAYMENT])
    await handle.execute_update(reply.action, reply, result_type=Ack)
    await time_skipping_env.sleep(timedelta(minutes=1))

    async def replied() -> list[Any] | None:
        found = [e for e in await outbox.for_case(handle.id) if e.category == NoticeCategory.CARE_REPLY]
        return found or None

    (effect,) = await eventually(replied)
    assert (effect.kind, effect.party_id, effect.articles) == (
        EffectName.NOTIFICATION,
        USER.id,
        [REFUND, PAYMENT],
    )
    stored = await Timelines(outbox.engine).for_case(handle.id)
    assert [e.detail.get("articles") for e in stored if e.event == "reply"] == [[REFUND, PAYMENT]]
    others = [
        e
        for e in await outbox.for_case(handle.id)
        if e.kind is EffectName.NOTIFICATION and e.category != NoticeCategory.CARE_REPLY
    ]
    assert others and all(e.articles is None for e in others)  # "report received" cites nothing

    # The inbox reads titles at read time: a renamed article shows its new title, an archived
    # one still shows, with its last title.
    help_store = HelpStore(outbox.engine)
    now = datetime.now(UTC)
    renamed = await help_store.update(REFUND, {"title": "Dana kembali setelah komplain"}, "lead", now, None)
    archived = await help_store.update(PAYMENT, {"status": "archived"}, "lead", now, None)
    assert archived.status == "archived"
    (item,) = await outbox.inbox(USER.id)
    assert item.text == "Silakan baca artikel ini"
    assert item.articles == [
        CitedArticle(id=REFUND, slug=renamed.slug, title="Dana kembali setelah komplain"),
        CitedArticle(id=PAYMENT, slug=archived.slug, title=archived.title),
    ]


async def test_the_platform_notification_of_a_reply_carries_the_cited_ids(
    receiver: Receiver, tmp_path: Path, engine: AsyncEngine
) -> None:
    settings = Settings(
        effects="http",
        effects_signing_secret=SIGNING_SECRET,
        effects_base_url=receiver.url,
        data_dir=tmp_path,
    )
    adapters = effect_adapters(settings, engine)
    assert isinstance(adapters, HttpAdapters)
    notice = NotifyInput(
        case_id="care-ticket-1",
        party="user",
        party_id=USER.id,
        text="Baca ini",
        category="care_reply",
        articles=[REFUND],
        idempotency_key="care-ticket-1:notice:2",
    )
    try:
        effect = await adapters.notify(notice)
    finally:
        await adapters.aclose()
    [seen] = receiver.seen("/notifications")
    assert seen.body["articles"] == [REFUND]
    assert effect.articles == [REFUND]


# -- the API over real HTTP -----------------------------------------------------------------------


def _field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["errors"][0]["field"])


async def test_care_cites_a_starter_article_and_the_inbox_shows_its_title_and_slug(
    api: httpx.AsyncClient,
) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    filed = await api.post(
        "/v1/tickets",
        json={"user_id": user, "role": "buyer", "topic": "REFUNDS", "details": "Dana saya belum kembali"},
    )
    assert filed.status_code == 201, filed.text
    ticket_id = filed.json()["id"]
    reply_url = f"/v1/tickets/{ticket_id}/care/replies"
    draft = await api.post(
        "/v1/help/articles",
        json={"title": "Draf", "body": "Belum terbit", "topic": "REFUNDS"},
        headers=AS_CARE,
    )
    assert draft.status_code == 201 and draft.json()["status"] == "draft"

    # An unknown or unpublished article is refused before the case sees the reply.
    for refused in (["art-000000000000"], [REFUND, draft.json()["id"]]):
        answer = await api.post(
            reply_url, json={"actor": CARE_BODY, "text": "Baca ini", "articles": refused}, headers=AS_CARE
        )
        assert _field(answer) == "articles"
        assert refused[-1] in answer.json()["detail"]
    # The same reply sent as a CloudEvent is refused the same way.
    event = {
        "specversion": "1.0",
        "id": f"evt-{uuid.uuid4().hex[:12]}",
        "source": "/care-tools",
        "type": "com.marketplace.ticket.care.reply",
        "subject": ticket_id,
        "data": {"actor": CARE_BODY, "text": "Baca ini", "articles": ["art-000000000000"]},
    }
    batch = {"Content-Type": "application/cloudevents-batch+json"} | AS_CARE
    (ingested,) = (await api.post("/v1/events", content=json.dumps([event]), headers=batch)).json()["items"]
    assert (ingested["status"], ingested["errors"][0]["field"]) == ("invalid", "articles"), ingested
    unchanged = (await api.get(f"/v1/tickets/{ticket_id}")).json()
    assert unchanged["status"] == "AWAITING_CARE"
    assert [e["event"] for e in unchanged["timeline"]] == ["opened"]

    article = (await api.get(f"/v1/help/articles/{REFUND}")).json()
    replied = await api.post(
        reply_url,
        json={"actor": CARE_BODY, "text": "Silakan baca artikel ini", "articles": [REFUND]},
        headers=AS_CARE,
    )
    assert replied.status_code == 200, replied.text
    assert replied.json()["timeline"][-1]["detail"]["articles"] == [REFUND]

    async def delivered() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await api.get(f"/v1/users/{user}/inbox")).json()["items"]
        return items or None

    (item,) = await eventually(delivered)
    assert item["text"] == "Silakan baca artikel ini"
    assert item["articles"] == [{"id": REFUND, "slug": article["slug"], "title": article["title"]}]


async def test_a_mediation_reply_cites_articles_to_both_parties(api: httpx.AsyncClient) -> None:
    order = new_order()
    dispute_id = (await api.post("/v1/disputes", json=claim(order))).json()["id"]
    await api.post(f"/v1/disputes/{dispute_id}/appeal", json={"actor": SELLER_BODY, "reason": "Delivered"})
    helped = await api.post(f"/v1/disputes/{dispute_id}/help", json={"actor": BUYER_BODY})
    assert helped.json()["status"] == "IN_MEDIATION", helped.text
    url = f"/v1/disputes/{dispute_id}/care/replies"
    unknown = await api.post(
        url, json={"actor": CARE_BODY, "text": "Lihat", "articles": ["art-unknown"]}, headers=AS_CARE
    )
    assert _field(unknown) == "articles"
    replied = await api.post(
        url, json={"actor": CARE_BODY, "text": "Lihat", "articles": [REFUND]}, headers=AS_CARE
    )
    assert replied.status_code == 200, replied.text

    async def both_told() -> list[list[dict[str, Any]]] | None:
        inboxes = [(await api.get(f"/v1/users/{who}/inbox")).json()["items"] for who in (BUYER.id, SELLER.id)]
        return inboxes if all(inboxes) else None

    for inbox in await eventually(both_told):
        assert [a["id"] for a in inbox[0]["articles"]] == [REFUND]
