"""/v1/help: the Help Center (Pusat Bantuan). Articles browsed by topic, searched in Indonesian
(or English) by their roots, suggested while a report is written, voted on; and what care learns
from it (searches that found nothing, articles that did not help, reports deflected).

Platform keys read published articles for their users; care, supervisor and admin keys also see
drafts and archived articles, write articles, and read the stats."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query, Request, status
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Gauge
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import Caller, CallerDep
from api.cases import CasesDep
from api.deps import EngineDep, NowDep, SettingsDep
from api.paging import CursorParam, Limit, Page, decode_cursor, page_of
from api.problems import Problem, invalid, response_for
from core.settings import KeyRole, Settings
from domain.help import ArticleStatus, Audience, HelpTopic, Locale, words
from domain.types import IDENTIFIER_PATTERN, Identifier
from store.help import (
    Article,
    ArticleFields,
    ArticleNotFound,
    ArticleVersion,
    CachePolicy,
    HelpError,
    HelpStats,
    HelpStore,
    SearchHit,
    SlugTaken,
    VersionConflict,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/help", tags=["help"])

#: Keys that write articles, see drafts and read the stats.
_STAFF = {KeyRole.CARE, KeyRole.SUPERVISOR, KeyRole.ADMIN}

SEARCHES = Counter("help_searches_total", "Help Center searches and suggestions", ["kind", "found"])
VIEWS = Counter("help_article_views_total", "Help Center articles opened by users", ["topic", "locale"])
VOTES = Counter("help_article_votes_total", "Was this article helpful? votes", ["topic", "helpful"])
REPORTS = Counter(
    "help_reports_total", "Reports filed to care, by whether the user had read an article", ["after_reading"]
)
DEFLECTION = Gauge(
    "help_deflection_users",
    "Users who opened an article in the last deflection window's day range, by what followed",
    ["outcome"],
)
DEFLECTION_RATIO = Gauge(
    "help_deflection_ratio", "Share of users who opened an article and filed no report within the window"
)

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)]
Title = Annotated[str, Field(min_length=1, max_length=200)]
Body = Annotated[str, Field(min_length=1, max_length=100_000)]
UserParam = Annotated[
    str | None,
    Query(pattern=IDENTIFIER_PATTERN, description="the user the platform reads for (counts views)"),
]
ArticleRef = Annotated[str, Path(max_length=100, description="an article's id, or its slug")]


# -- models of requests and responses ------------------------------------------------------------


class NewArticle(BaseModel):
    """An article to write; the slug is made from the title when none is given."""

    model_config = {"extra": "forbid"}

    title: Title
    body: Body = Field(description="Markdown; rendered to HTML with dangerous markup removed")
    topic: HelpTopic
    locale: Locale = Locale.ID
    audience: Audience = Audience.ALL
    status: ArticleStatus = ArticleStatus.DRAFT
    slug: Slug | None = None
    translation_group: Identifier | None = Field(
        default=None, description="the same value links an article's versions in other locales"
    )


class ArticleChanges(BaseModel):
    """A new version: the fields given change, the rest stay."""

    model_config = {"extra": "forbid"}

    title: Title | None = None
    body: Body | None = None
    topic: HelpTopic | None = None
    locale: Locale | None = None
    audience: Audience | None = None
    status: ArticleStatus | None = None
    slug: Slug | None = None
    expected_version: int | None = Field(
        default=None, ge=1, description="refuse (409) when the article is no longer at this version"
    )


class ArticleLink(BaseModel):
    """Another article, by name."""

    id: str
    slug: str
    title: str
    locale: Locale


class ArticleSummary(BaseModel):
    """An article in a list."""

    id: str
    slug: str
    title: str
    topic: HelpTopic
    locale: Locale
    audience: Audience
    status: ArticleStatus
    version: int
    updated_at: datetime


class ArticlePublic(ArticleSummary):
    """A whole article: Markdown, safe HTML, and its versions in other locales."""

    body: str
    body_html: str
    translation_group: str | None
    translations: list[ArticleLink]
    created_at: datetime
    updated_by: str


class TopicCount(BaseModel):
    """A topic and its number of published articles."""

    topic: HelpTopic
    articles: int


class Topics(BaseModel):
    """Every topic, in the seed's order."""

    items: list[TopicCount]


class SearchItem(BaseModel):
    """A found article: the snippet is HTML with the matched words in ``<mark>``."""

    id: str
    slug: str
    title: str
    topic: HelpTopic
    locale: Locale
    snippet: str
    score: float


class SearchResults(BaseModel):
    """Found articles, best first, and the roots searched for (after stemming and typo fixes)."""

    items: list[SearchItem]
    searched: list[str]


class Suggestion(BaseModel):
    """A report being written, for the articles that may answer it first."""

    model_config = {"extra": "forbid"}

    text: Annotated[str, Field(min_length=1, max_length=5000)]
    topic: HelpTopic | None = None
    locale: Locale = Locale.ID
    audience: Audience | None = None
    user_id: Identifier | None = None
    limit: Annotated[int, Field(ge=1, le=20)] = 5


class Vote(BaseModel):
    """Was this article helpful?"""

    model_config = {"extra": "forbid"}

    helpful: bool
    user_id: Identifier | None = Field(default=None, description="a user's later vote replaces the earlier")


class VoteRecorded(BaseModel):
    """The vote, as counted."""

    article_id: str
    helpful: bool
    user_id: str | None


class Versions(BaseModel):
    """Every version of an article, oldest first."""

    items: list[ArticleVersion]


class ArticleStats(BaseModel):
    """How one article was used: views and votes; ``helpful_ratio`` null without votes."""

    article_id: str
    slug: str
    title: str
    views: int
    helpful: int
    not_helpful: int
    helpful_ratio: float | None


class NoResultQuery(BaseModel):
    """A query that found nothing, and how often it was asked."""

    query: str
    count: int


class DeflectionStats(BaseModel):
    """Users who opened an article: deflected ones filed no report within ``window``; ``pending``
    ones opened it less than ``window`` ago and count in neither share."""

    window: timedelta
    users: int
    deflected: int
    filed_report: int
    pending: int
    rate: float | None


class Stats(BaseModel):
    """What users did in the Help Center in a period."""

    since: datetime
    until: datetime
    searches: int
    suggestions: int
    searches_without_result: int
    top_no_result_queries: list[NoResultQuery]
    articles: list[ArticleStats]
    deflection: DeflectionStats


# -- mapping ------------------------------------------------------------------------------------


def _summary(article: Article) -> ArticleSummary:
    return ArticleSummary.model_validate(article.model_dump())


async def _public(store: HelpStore, article: Article, caller: Caller) -> ArticlePublic:
    staff = caller.role in _STAFF
    others = [
        ArticleLink(id=other.id, slug=other.slug, title=other.title, locale=other.locale)
        for other in await store.translations(article)
        if staff or other.status is ArticleStatus.PUBLISHED
    ]
    return ArticlePublic.model_validate(article.model_dump() | {"translations": others})


def _stats(found: HelpStats) -> Stats:
    d = found.deflection
    decided = d.users - d.pending
    return Stats(
        since=found.since,
        until=found.until,
        searches=found.searches,
        suggestions=found.suggestions,
        searches_without_result=found.searches_without_result,
        top_no_result_queries=[NoResultQuery(query=q, count=n) for q, n in found.no_result_queries],
        articles=[
            ArticleStats(
                **use.model_dump(),
                helpful_ratio=(
                    round(use.helpful / (use.helpful + use.not_helpful), 4)
                    if use.helpful + use.not_helpful
                    else None
                ),
            )
            for use in found.articles
        ],
        deflection=DeflectionStats(
            window=d.window,
            users=d.users,
            deflected=d.deflected,
            filed_report=decided - d.deflected,
            pending=d.pending,
            rate=round(d.deflected / decided, 4) if decided else None,
        ),
    )


def _staff_only(caller: Caller, what: str) -> None:
    if caller.role not in _STAFF:
        raise Problem(403, "Forbidden", f"a {caller.role.value} key ({caller.name}) may not {what}")


def _store(engine: AsyncEngine) -> HelpStore:
    return HelpStore(engine)


async def _readable(store: HelpStore, ref: str, caller: Caller) -> Article:
    found = await store.get(ref, published_only=caller.role not in _STAFF)
    if found is None:
        raise ArticleNotFound(f"no article {ref}")
    return found


# -- browsing ------------------------------------------------------------------------------------


@router.get("/topics")
async def topics(engine: EngineDep, locale: Locale | None = None, audience: Audience | None = None) -> Topics:
    """The nine topics (and OTHER), each with its number of published articles."""
    counts = await _store(engine).topic_counts(locale, audience)
    return Topics(items=[TopicCount(topic=topic, articles=n) for topic, n in counts.items()])


@router.get("/articles")
async def list_articles(
    engine: EngineDep,
    caller: CallerDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
    topic: HelpTopic | None = None,
    locale: Locale | None = None,
    audience: Audience | None = None,
    status: Annotated[
        ArticleStatus | None, Query(description="care and admin keys: drafts or archived (default published)")
    ] = None,
) -> Page[ArticleSummary]:
    """Articles in the order they were written, a page at a time; platform keys see published ones."""
    if status not in (None, ArticleStatus.PUBLISHED):
        _staff_only(caller, "list unpublished articles")
    (after,) = decode_cursor(cursor, (int,)) or (None,)
    rows = await _store(engine).page(
        statuses=[status or ArticleStatus.PUBLISHED],
        topic=topic,
        locale=locale,
        audience=audience,
        after=after,
        limit=limit + 1,
    )
    shown, next_cursor = page_of(rows, limit, lambda article: (article.seq,))
    return Page[ArticleSummary](items=[_summary(article) for article in shown], next_cursor=next_cursor)


@router.get("/articles/{article_id}")
async def get_article(
    article_id: ArticleRef, engine: EngineDep, caller: CallerDep, now: NowDep, user_id: UserParam = None
) -> ArticlePublic:
    """One article by id or slug. A platform key's read counts as a view (of ``user_id``, when
    given: the deflection stats follow that user)."""
    store = _store(engine)
    article = await _readable(store, article_id, caller)
    if caller.role is KeyRole.PLATFORM:
        await store.record_view(article.id, user_id, now)
        VIEWS.labels(article.topic.value, article.locale.value).inc()
    return await _public(store, article, caller)


@router.get("/articles/{article_id}/versions")
async def versions(article_id: ArticleRef, engine: EngineDep, caller: CallerDep) -> Versions:
    """Every version of an article (care and admin keys): who changed which fields, when."""
    _staff_only(caller, "read article versions")
    store = _store(engine)
    article = await _readable(store, article_id, caller)
    return Versions(items=await store.versions(article.id))


@router.get("/articles/{article_id}/versions/{version}")
async def version(
    article_id: ArticleRef, version: Annotated[int, Path(ge=1)], engine: EngineDep, caller: CallerDep
) -> ArticleVersion:
    """One earlier (or the current) version of an article, as it was."""
    _staff_only(caller, "read article versions")
    store = _store(engine)
    article = await _readable(store, article_id, caller)
    for found in await store.versions(article.id):
        if found.version == version:
            return found
    raise ArticleNotFound(f"article {article.id} has no version {version} (it is at {article.version})")


# -- writing -------------------------------------------------------------------------------------


@router.post("/articles", status_code=status.HTTP_201_CREATED, response_model=ArticlePublic)
async def create_article(body: NewArticle, engine: EngineDep, cases: CasesDep, now: NowDep) -> JSONResponse:
    """Write a new article (care and admin keys); a draft unless ``status`` says otherwise."""
    _staff_only(cases.caller, "write articles")
    store = _store(engine)

    async def create() -> tuple[BaseModel, int]:
        slug = body.slug or await store.free_slug(body.title)
        fields = ArticleFields(**body.model_dump(exclude={"slug"}), slug=slug)
        article = await store.create(fields, cases.caller.name, now)
        return await _public(store, article, cases.caller), 201

    return await cases.keyed(create)


@router.put("/articles/{article_id}", response_model=ArticlePublic)
async def update_article(
    article_id: ArticleRef, body: ArticleChanges, engine: EngineDep, cases: CasesDep, now: NowDep
) -> JSONResponse:
    """A new version of an article with the given fields changed (care and admin keys)."""
    _staff_only(cases.caller, "write articles")
    changes = body.model_dump(exclude_none=True, exclude={"expected_version"})
    return await _change(article_id, changes, body.expected_version, engine, cases, now)


@router.post("/articles/{article_id}/archive", response_model=ArticlePublic)
async def archive_article(
    article_id: ArticleRef, engine: EngineDep, cases: CasesDep, now: NowDep
) -> JSONResponse:
    """Take an article out of the Help Center (a new version, status archived); PUT a status to
    bring it back."""
    _staff_only(cases.caller, "archive articles")
    return await _change(article_id, {"status": ArticleStatus.ARCHIVED}, None, engine, cases, now)


async def _change(
    article_id: str,
    changes: dict[str, object],
    expected: int | None,
    engine: AsyncEngine,
    cases: CasesDep,
    now: datetime,
) -> JSONResponse:
    store = _store(engine)

    async def change() -> tuple[BaseModel, int]:
        article = await _readable(store, article_id, cases.caller)
        updated = await store.update(article.id, changes, cases.caller.name, now, expected)
        return await _public(store, updated, cases.caller), 200

    return await cases.keyed(change)


# -- search, suggestions, votes -----------------------------------------------------------------


#: The most words of a query or a report that a search looks for.
MAX_WORDS = 32


def _typed(text: str, locale: Locale, field: str) -> list[tuple[str, str]]:
    typed = list(dict(words(text, locale)).items())[:MAX_WORDS]
    if not typed:
        raise invalid(field, "holds no word to search for (empty, or only stop words such as 'yang', 'the')")
    return typed


def _items(hits: Sequence[SearchHit]) -> list[SearchItem]:
    return [
        SearchItem(
            id=hit.id,
            slug=hit.slug,
            title=hit.title,
            topic=hit.topic,
            locale=hit.locale,
            snippet=hit.snippet,
            score=round(hit.score, 6),
        )
        for hit in hits
    ]


def _searching(engine: AsyncEngine, settings: Settings) -> HelpStore:
    policy = CachePolicy(
        size=settings.help_search_cache_size,
        recheck=settings.help_search_cache_recheck,
        max_age=settings.help_search_cache_max_age,
    )
    return HelpStore(engine, policy)


@router.get("/search")
async def search(
    engine: EngineDep,
    caller: CallerDep,
    now: NowDep,
    settings: SettingsDep,
    q: Annotated[str, Query(max_length=500, description="what the user typed")],
    locale: Locale = Locale.ID,
    topic: HelpTopic | None = None,
    audience: Audience | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    user_id: UserParam = None,
) -> SearchResults:
    """Published articles that hold the query's words, by their roots (``pengembalian dana`` finds
    ``dana dikembalikan``), titles weighing more than bodies; best first."""
    store = _searching(engine, settings)
    found = await store.find(
        _typed(q, locale, "q"), locale=locale, topic=topic, audience=audience, limit=limit
    )
    hits = found.hits
    if caller.role is KeyRole.PLATFORM:
        await store.record_search(
            "search", " ".join(q.lower().split())[:200], locale, len(hits), user_id, now
        )
        SEARCHES.labels("search", str(bool(hits)).lower()).inc()
    return SearchResults(items=_items(hits), searched=list(found.searched))


@router.post("/suggest")
async def suggest(
    body: Suggestion, engine: EngineDep, caller: CallerDep, now: NowDep, settings: SettingsDep
) -> SearchResults:
    """The articles that may answer a report being written (before ``POST /v1/tickets``); the
    report's topic, when given, lifts articles of that topic."""
    store = _searching(engine, settings)
    typed = _typed(body.text, body.locale, "text")
    found = await store.find(typed, locale=body.locale, audience=body.audience, limit=max(20, body.limit))
    hits = list(found.hits)
    if body.topic is not None:
        lifted = [replace(hit, score=hit.score * 1.5) if hit.topic is body.topic else hit for hit in hits]
        hits = sorted(lifted, key=lambda hit: -hit.score)
    hits = hits[: body.limit]
    if caller.role is KeyRole.PLATFORM:
        await store.record_search("suggest", body.text[:200], body.locale, len(hits), body.user_id, now)
        SEARCHES.labels("suggest", str(bool(hits)).lower()).inc()
    return SearchResults(items=_items(hits), searched=list(found.searched))


@router.post("/articles/{article_id}/feedback", response_model=VoteRecorded)
async def feedback(
    article_id: ArticleRef, body: Vote, engine: EngineDep, cases: CasesDep, now: NowDep
) -> JSONResponse:
    """Was this article helpful? A user's later vote replaces the earlier one."""
    store = _store(engine)

    async def vote() -> tuple[BaseModel, int]:
        article = await _readable(store, article_id, cases.caller)
        await store.vote(article.id, body.user_id, body.helpful, now)
        VOTES.labels(article.topic.value, str(body.helpful).lower()).inc()
        return VoteRecorded(article_id=article.id, helpful=body.helpful, user_id=body.user_id), 200

    return await cases.keyed(vote)


# -- what care learns ----------------------------------------------------------------------------


def _iso_only(value: object) -> object:
    """A time in the query is ISO 8601 text, as the document says: a bare number (which pydantic
    would read as Unix seconds) is refused."""
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?", value.strip()):
        raise ValueError("an ISO 8601 date-time with a zone, not a number")
    return value


#: A time given in a query: ISO 8601 text with a zone.
IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_only)]


@router.get("/stats")
async def stats(
    engine: EngineDep,
    caller: CallerDep,
    settings: SettingsDep,
    now: NowDep,
    since: Annotated[IsoTime | None, Query(description="ISO 8601 with a zone; default 30 days ago")] = None,
) -> Stats:
    """Searches, the most frequent queries that found nothing, views and helpful ratio per article,
    and deflection: the share of users who opened an article and filed no report within
    ``DISPUTES_HELP_DEFLECTION_WINDOW`` (a day) after."""
    _staff_only(caller, "read the Help Center's stats")
    try:
        start = (since or now - timedelta(days=30)).astimezone(UTC)
    except OverflowError:
        raise invalid("since", "is not a time the service can count from") from None
    if start > now:
        raise invalid("since", "is in the future")
    found = _stats(await _store(engine).stats(start, now, settings.help_deflection_window))
    _set_gauges(found.deflection)
    return found


def _set_gauges(deflection: DeflectionStats) -> None:
    DEFLECTION.labels("deflected").set(deflection.deflected)
    DEFLECTION.labels("filed_report").set(deflection.filed_report)
    DEFLECTION.labels("pending").set(deflection.pending)
    if deflection.rate is not None:
        DEFLECTION_RATIO.set(deflection.rate)


# -- for the other parts of the API --------------------------------------------------------------


async def check_viewed(engine: AsyncEngine, viewed: Sequence[str]) -> None:
    """422 naming ``viewed_articles`` unless every id is an article."""
    missing = sorted(set(viewed) - await _store(engine).existing(viewed))
    if missing:
        raise invalid("viewed_articles", f"no such article: {', '.join(missing)}")


async def record_report(
    engine: AsyncEngine, ticket_id: str, user_id: str, viewed: Sequence[str], at: datetime
) -> None:
    """A report was filed (POST /v1/tickets): deflection counts it against the user's reads."""
    await _store(engine).record_report(ticket_id, user_id, viewed, at)
    REPORTS.labels(str(bool(viewed)).lower()).inc()


@contextlib.asynccontextmanager
async def gauges(settings: Settings, engine: AsyncEngine) -> AsyncIterator[None]:
    """Keep the deflection gauges fresh while the API runs (every ``help_metrics_interval``, over
    the last 30 days)."""

    async def refresh() -> None:
        store = _store(engine)
        while True:
            now = datetime.now(UTC)
            try:
                found = await store.stats(now - timedelta(days=30), now, settings.help_deflection_window)
                _set_gauges(_stats(found).deflection)
            except Exception:  # the next round tries again; the API serves on
                log.exception("refreshing the Help Center gauges failed")
            await asyncio.sleep(settings.help_metrics_interval.total_seconds())

    task = asyncio.create_task(refresh(), name="help-gauges")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


_PROBLEMS: dict[type[HelpError], tuple[int, str]] = {
    ArticleNotFound: (404, "Not found"),
    SlugTaken: (409, "Slug taken"),
    VersionConflict: (409, "Version conflict"),
}


async def _help_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HelpError)
    status_code, title = _PROBLEMS.get(type(error), (422, "Invalid input"))
    problem = Problem(status_code, title, str(error))
    if isinstance(error, VersionConflict):
        problem.extra["current_version"] = error.current_version
    return response_for(problem)


def install(app: FastAPI) -> None:
    """Map the Help Center's refusals to problem+json."""
    app.add_exception_handler(HelpError, _help_error)
