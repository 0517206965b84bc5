"""The Help Center over real HTTP: who may read and write what, sanitised bodies, versions, cursor
pages, topics, search and its relevance set on SQLite and PostgreSQL, suggestions, votes, stats."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from store.help import HelpStore, starter_id
from store.help_starter import STARTERS
from store.migrate import migrate
from store.schema import help_articles
from tests.help_relevance import RELEVANCE
from tests.postgres import PostgresServer
from tests.support import AS_ADMIN, AS_CARE, AS_SUPERVISOR, serving


@pytest.fixture
async def help_api(
    dev_server_env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The API (no worker: the Help Center needs none) on a fresh SQLite database, platform key."""
    async with serving(settings, dev_server_env, worker=False, engine=engine) as http:
        yield http


def article(**overrides: Any) -> dict[str, Any]:
    return {
        "title": f"Artikel uji {uuid.uuid4().hex[:6]}",
        "body": "Isi artikel tentang **pengembalian dana**.",
        "topic": "REFUNDS",
    } | overrides


def problem_field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    field: str = response.json()["errors"][0]["field"]
    return field


# -- who may do what -----------------------------------------------------------------------------


async def test_platform_keys_read_published_articles_only_and_cannot_write(
    help_api: httpx.AsyncClient,
) -> None:
    refused = await help_api.post("/v1/help/articles", json=article())
    assert refused.status_code == 403, refused.text

    draft = (await help_api.post("/v1/help/articles", json=article(), headers=AS_CARE)).json()
    assert draft["status"] == "draft" and draft["version"] == 1
    assert (await help_api.get(f"/v1/help/articles/{draft['id']}")).status_code == 404
    assert (await help_api.get(f"/v1/help/articles/{draft['slug']}")).status_code == 404
    assert (await help_api.get("/v1/help/articles", params={"status": "draft"})).status_code == 403
    assert (await help_api.get(f"/v1/help/articles/{draft['id']}/versions")).status_code == 403
    assert (await help_api.put(f"/v1/help/articles/{draft['id']}", json={"title": "x"})).status_code == 403
    assert (await help_api.post(f"/v1/help/articles/{draft['id']}/archive")).status_code == 403
    assert (await help_api.get("/v1/help/stats")).status_code == 403
    drafts = await help_api.get("/v1/help/articles", params={"status": "draft"}, headers=AS_ADMIN)
    assert [item["id"] for item in drafts.json()["items"]] == [draft["id"]]
    searched = await help_api.get("/v1/help/search", params={"q": draft["title"]})
    assert draft["id"] not in [item["id"] for item in searched.json()["items"]]

    published = await help_api.put(
        f"/v1/help/articles/{draft['id']}", json={"status": "published"}, headers=AS_SUPERVISOR
    )
    assert published.status_code == 200, published.text
    read = await help_api.get(f"/v1/help/articles/{draft['slug']}")
    assert read.status_code == 200 and read.json()["id"] == draft["id"]
    searched = await help_api.get("/v1/help/search", params={"q": draft["title"]})  # not a stale cache
    assert draft["id"] in [item["id"] for item in searched.json()["items"]]

    archived = await help_api.post(f"/v1/help/articles/{draft['id']}/archive", headers=AS_CARE)
    assert archived.json()["status"] == "archived" and archived.json()["version"] == 3
    assert (await help_api.get(f"/v1/help/articles/{draft['id']}")).status_code == 404
    assert (await help_api.get(f"/v1/help/articles/{draft['id']}", headers=AS_CARE)).status_code == 200
    searched = await help_api.get("/v1/help/search", params={"q": draft["title"]})
    assert draft["id"] not in [item["id"] for item in searched.json()["items"]]


async def test_bodies_are_rendered_without_dangerous_markup(help_api: httpx.AsyncClient) -> None:
    body = (
        '**Tebal** <script>alert(\'x\')</script>\n\n<img src="a.png" onerror="alert(1)">\n\n'
        '[tautan](javascript:alert(1)) <a href="javascript:alert(2)" onclick="x()">klik</a>'
        " [aman](https://example.com)"
    )
    created = await help_api.post("/v1/help/articles", json=article(body=body), headers=AS_CARE)
    assert created.status_code == 201, created.text
    html = created.json()["body_html"]
    assert "<strong>Tebal</strong>" in html and 'href="https://example.com"' in html
    assert "<script" not in html and "onerror" not in html and "onclick" not in html
    assert 'href="javascript' not in html.lower()
    assert created.json()["body"] == body  # the Markdown is kept as written


async def test_every_version_is_kept_with_who_changed_what(help_api: httpx.AsyncClient) -> None:
    first = (
        await help_api.post("/v1/help/articles", json=article(title="Judul awal"), headers=AS_CARE)
    ).json()
    second = await help_api.put(
        f"/v1/help/articles/{first['id']}",
        json={"title": "Judul kedua", "expected_version": 1},
        headers=AS_SUPERVISOR,
    )
    assert second.json()["version"] == 2 and second.json()["updated_by"] == "care-leads"
    stale = await help_api.put(
        f"/v1/help/articles/{first['id']}", json={"body": "lama", "expected_version": 1}, headers=AS_CARE
    )
    assert stale.status_code == 409 and stale.json()["current_version"] == 2, stale.text
    same = await help_api.put(
        f"/v1/help/articles/{first['id']}", json={"title": "Judul kedua"}, headers=AS_CARE
    )
    assert same.json()["version"] == 2  # nothing changed: no new version
    third = await help_api.put(
        f"/v1/help/articles/{first['id']}", json={"body": "Isi baru", "topic": "PAYMENT"}, headers=AS_ADMIN
    )
    assert third.json()["version"] == 3

    versions = (await help_api.get(f"/v1/help/articles/{first['id']}/versions", headers=AS_CARE)).json()[
        "items"
    ]
    assert [(v["version"], v["changed_by"]) for v in versions] == [
        (1, "care-tools"),
        (2, "care-leads"),
        (3, "ops"),
    ]
    assert versions[1]["changed"] == ["title"] and sorted(versions[2]["changed"]) == ["body", "topic"]
    old = await help_api.get(f"/v1/help/articles/{first['slug']}/versions/1", headers=AS_CARE)
    assert old.json()["title"] == "Judul awal" and old.json()["body"] == first["body"]
    missing = await help_api.get(f"/v1/help/articles/{first['id']}/versions/9", headers=AS_CARE)
    assert missing.status_code == 404

    taken = await help_api.post("/v1/help/articles", json=article(slug=first["slug"]), headers=AS_CARE)
    assert taken.status_code == 409, taken.text
    again = await help_api.post("/v1/help/articles", json=article(title="Judul awal"), headers=AS_CARE)
    assert again.json()["slug"] == "judul-awal-2"


async def test_a_keyed_create_happens_once(help_api: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex} | AS_CARE
    body = article()
    first = await help_api.post("/v1/help/articles", json=body, headers=key)
    retry = await help_api.post("/v1/help/articles", json=body, headers=key)
    assert first.status_code == retry.status_code == 201 and first.json()["id"] == retry.json()["id"]


# -- browsing ------------------------------------------------------------------------------------


async def test_the_starter_help_center_is_there_by_topic(help_api: httpx.AsyncClient) -> None:
    topics = (await help_api.get("/v1/help/topics", params={"locale": "id"})).json()["items"]
    assert [t["topic"] for t in topics][:9] == [
        "ACCOUNT",
        "ORDERS",
        "PAYMENT",
        "SHIPPING",
        "REFUNDS",
        "BALANCE_WITHDRAWAL",
        "SALES",
        "PROMOTIONS",
        "ACCOUNT_SECURITY",
    ]
    assert all(t["articles"] > 0 for t in topics), topics
    assert sum(t["articles"] for t in topics) == len(STARTERS) >= 30
    sellers = (await help_api.get("/v1/help/topics", params={"locale": "en", "audience": "seller"})).json()
    buyers = (await help_api.get("/v1/help/topics", params={"locale": "en", "audience": "buyer"})).json()
    count = {t["topic"]: t["articles"] for t in sellers["items"]}
    assert count["SALES"] > 0 and {t["topic"]: t["articles"] for t in buyers["items"]}["SALES"] == 0

    read = (await help_api.get("/v1/help/articles/ajukan-banding-menyanggah-komplain-pembeli")).json()
    assert read["locale"] == "id" and read["translations"][0]["locale"] == "en"
    assert "<strong>Ajukan Banding</strong>" in read["body_html"]


async def test_articles_come_in_cursor_pages(help_api: httpx.AsyncClient) -> None:
    everything = (await help_api.get("/v1/help/articles", params={"limit": 500})).json()
    assert everything["next_cursor"] is None and len(everything["items"]) == 2 * len(STARTERS)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = (await help_api.get("/v1/help/articles", params=params)).json()
        assert len(page["items"]) <= 7
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [item["id"] for item in everything["items"]]  # stable, no gap, no repeat

    english = (await help_api.get("/v1/help/articles", params={"locale": "en", "topic": "SALES"})).json()
    assert english["items"] and all(i["locale"] == "en" and i["topic"] == "SALES" for i in english["items"])
    assert problem_field(await help_api.get("/v1/help/articles", params={"cursor": "bogus"})) == "cursor"
    assert problem_field(await help_api.get("/v1/help/articles", params={"limit": 501})) == "limit"


# -- search --------------------------------------------------------------------------------------


async def test_search_results_contract_and_refused_queries(help_api: httpx.AsyncClient) -> None:
    found = (await help_api.get("/v1/help/search", params={"q": "pengembalian dana"})).json()
    assert found["searched"] == ["kembali", "dana"]
    first = found["items"][0]
    assert set(first) == {"id", "slug", "title", "topic", "locale", "snippet", "score"}
    assert first["id"] == starter_id("refund-after-complaint.id")
    assert "<mark>dikembalikan</mark>" in first["snippet"]  # the article says "dana dikembalikan"
    scores = [item["score"] for item in found["items"]]
    assert scores == sorted(scores, reverse=True)

    for q in ("", "   ", "yang dan di", "?!"):
        assert problem_field(await help_api.get("/v1/help/search", params={"q": q})) == "q"
    assert problem_field(await help_api.get("/v1/help/search")) == "q"
    nothing = await help_api.get("/v1/help/search", params={"q": "kapal selam"})
    assert nothing.status_code == 200 and nothing.json()["items"] == []


async def test_titles_weigh_more_than_bodies(help_api: httpx.AsyncClient) -> None:
    word = "zebrakuda"
    in_body = article(
        title="Artikel biasa satu", body=f"Isi yang menyebut {word} sekali saja.", status="published"
    )
    in_title = article(title=f"Tentang {word}", body="Isi tanpa kata itu.", status="published")
    for body in (in_body, in_title):
        assert (await help_api.post("/v1/help/articles", json=body, headers=AS_CARE)).status_code == 201
    found = (await help_api.get("/v1/help/search", params={"q": word})).json()["items"]
    assert [item["title"] for item in found] == [in_title["title"], in_body["title"]]


async def test_suggestions_for_a_report_being_written(help_api: httpx.AsyncClient) -> None:
    text = "Saya sudah bayar tapi status pembayaran masih menunggu, tolong dicek"
    found = await help_api.post("/v1/help/suggest", json={"text": text, "topic": "PAYMENT"})
    assert found.status_code == 200, found.text
    ids = [item["id"] for item in found.json()["items"]]
    assert ids[0] == starter_id("payment-not-verified.id") and len(ids) <= 5
    assert problem_field(await help_api.post("/v1/help/suggest", json={"text": "yang dan"})) == "text"
    assert (
        problem_field(await help_api.post("/v1/help/suggest", json={"text": "x", "topic": "NOPE"})) == "topic"
    )


# -- relevance on both databases -----------------------------------------------------------------


async def recall_at_3(api: httpx.AsyncClient) -> tuple[float, list[str]]:
    async def hit(query: str, locale: str, key: str) -> str | None:
        found = await api.get("/v1/help/search", params={"q": query, "locale": locale, "limit": 3})
        assert found.status_code == 200, found.text
        ids = [item["id"] for item in found.json()["items"]]
        return None if starter_id(f"{key}.{locale}") in ids else f"{query!r}: {ids}"

    misses = [miss for miss in await asyncio.gather(*(hit(*row) for row in RELEVANCE)) if miss]
    return 1 - len(misses) / len(RELEVANCE), misses


@pytest.fixture(params=["sqlite", "postgresql"])
async def both_api(
    request: pytest.FixtureRequest, dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The API on a fresh database of each engine (PostgreSQL migrated as deployments do)."""
    settings = Settings(task_queue=f"tq-{uuid.uuid4()}", data_dir=tmp_path)
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database("help")
        await asyncio.to_thread(migrate, url)
        settings = settings.model_copy(update={"database_url": url})
    async with serving(settings, dev_server_env, worker=False) as api:
        yield api


async def test_relevance_set_recall_at_3(both_api: httpx.AsyncClient) -> None:
    assert len(RELEVANCE) >= 40
    recall, misses = await recall_at_3(both_api)
    assert recall >= 0.9, misses


# -- votes and stats -----------------------------------------------------------------------------


async def test_votes_views_and_searches_reach_the_stats(help_api: httpx.AsyncClient) -> None:
    refund = starter_id("refund-after-complaint.id")
    for user in ("u-1", "u-2"):
        assert (
            await help_api.get(f"/v1/help/articles/{refund}", params={"user_id": user})
        ).status_code == 200
    assert (
        await help_api.get(f"/v1/help/articles/{refund}", headers=AS_CARE)
    ).status_code == 200  # not a view
    vote = await help_api.post(
        f"/v1/help/articles/{refund}/feedback", json={"helpful": False, "user_id": "u-1"}
    )
    assert vote.status_code == 200 and vote.json() == {
        "article_id": refund,
        "helpful": False,
        "user_id": "u-1",
    }
    await help_api.post(
        f"/v1/help/articles/{refund}/feedback", json={"helpful": True, "user_id": "u-1"}
    )  # changed
    await help_api.post(f"/v1/help/articles/{refund}/feedback", json={"helpful": False, "user_id": "u-2"})
    await help_api.post(f"/v1/help/articles/{refund}/feedback", json={"helpful": True})
    assert problem_field(await help_api.post(f"/v1/help/articles/{refund}/feedback", json={})) == "helpful"
    missing = await help_api.post("/v1/help/articles/nope/feedback", json={"helpful": True})
    assert missing.status_code == 404
    for q in ("kapal selam", "Kapal  Selam", "pesawat terbang", "pengembalian dana"):
        await help_api.get("/v1/help/search", params={"q": q})
    await help_api.post("/v1/help/suggest", json={"text": "dana belum kembali"})

    stats = (await help_api.get("/v1/help/stats", headers=AS_CARE)).json()
    assert stats["searches"] == 4 and stats["suggestions"] == 1 and stats["searches_without_result"] == 3
    assert stats["top_no_result_queries"] == [
        {"query": "kapal selam", "count": 2},
        {"query": "pesawat terbang", "count": 1},
    ]
    (use,) = stats["articles"]
    assert use | {"title": None} == {
        "article_id": refund,
        "slug": "pengembalian-dana-setelah-komplain-disetujui",
        "title": None,
        "views": 2,
        "helpful": 2,
        "not_helpful": 1,
        "helpful_ratio": 0.6667,
    }
    assert stats["deflection"]["users"] == 2 and stats["deflection"]["pending"] == 2
    assert problem_field(
        await help_api.get("/v1/help/stats", params={"since": "2026-01-01T00:00"}, headers=AS_ADMIN)
    ) == ("since")
    metrics = (await help_api.get("/metrics")).text
    assert 'help_searches_total{found="false",kind="search"}' in metrics
    assert "help_article_votes_total" in metrics and "help_deflection_users" in metrics


async def test_reindex_rebuilds_what_search_finds(help_api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    refund = starter_id("refund-after-complaint.id")
    async with engine.begin() as connection:  # as if indexed by an older analysis
        await connection.execute(
            help_articles.update().where(help_articles.c.id == refund).values(title_terms="", body_terms="")
        )
    first = (await help_api.get("/v1/help/search", params={"q": "pengembalian dana"})).json()["items"]
    assert refund not in [item["id"] for item in first]
    assert await HelpStore(engine).reindex() == 2 * len(STARTERS)
    again = (await help_api.get("/v1/help/search", params={"q": "pengembalian dana"})).json()["items"]
    assert again[0]["id"] == refund


async def test_concurrent_writers_of_one_article_take_turns(both_api: httpx.AsyncClient) -> None:
    help_api = both_api
    first = (await help_api.post("/v1/help/articles", json=article(), headers=AS_CARE)).json()

    async def write(n: int) -> httpx.Response:
        return await help_api.put(
            f"/v1/help/articles/{first['id']}", json={"body": f"Isi {n}"}, headers=AS_CARE
        )

    answers = await asyncio.gather(*(write(n) for n in range(8)))
    assert [answer.status_code for answer in answers] == [200] * 8, [a.text for a in answers]
    versions = (await help_api.get(f"/v1/help/articles/{first['id']}/versions", headers=AS_CARE)).json()
    assert [v["version"] for v in versions["items"]] == list(range(1, 10))

    racing = [article(slug="slug-yang-sama") for _ in range(4)]
    created = await asyncio.gather(
        *(help_api.post("/v1/help/articles", json=b, headers=AS_CARE) for b in racing)
    )
    assert sorted(answer.status_code for answer in created) == [201, 409, 409, 409]
