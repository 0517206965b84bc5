"""The Help Center's articles, their versions, and what users do with them (searches, views,
votes, reports filed after reading), in the service database. No workflow: plain rows.

Search runs on the analysed text of ``domain.help`` stored beside each article; SQLite matches it
in the FTS5 table ``help_fts`` and ranks with bm25, PostgreSQL in a GIN-indexed tsvector ranked
with ts_rank. Titles weigh more than bodies on both."""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import time
import uuid
import weakref
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.help import (
    TERM,
    ArticleStatus,
    Audience,
    HelpTopic,
    Locale,
    indexed,
    render,
    slugify,
    snippet,
    words,
)
from store.db import insert
from store.schema import (
    help_article_versions,
    help_articles,
    help_reports,
    help_searches,
    help_terms,
    help_views,
    help_votes,
)

#: Title matches weigh this much more than body matches (bm25 column weights; ts_rank's A vs B).
TITLE_WEIGHT = 4.0
#: ts_rank's weights for D, C, B (bodies), A (titles).
PG_WEIGHTS = "{0.1, 0.2, 0.25, 1.0}"
_COLUMNS = "title_terms, body_terms, search_tags"
_NEW = "new.seq, new.title_terms, new.body_terms, new.search_tags"
_OLD = "'delete', old.seq, old.title_terms, old.body_terms, old.search_tags"
#: SQLite: an FTS5 external-content index over help_articles, kept in step by triggers. The
#: ``search_tags`` column holds the filters (locale, status, topic, audience) as tokens, so the
#: index itself filters and ranks and only the first results are read from help_articles.
SQLITE_FTS = [
    f"CREATE VIRTUAL TABLE help_fts USING fts5({_COLUMNS}, content='help_articles',"
    " content_rowid='seq', tokenize='unicode61')",
    "CREATE TRIGGER help_articles_ai AFTER INSERT ON help_articles BEGIN"
    f" INSERT INTO help_fts(rowid, {_COLUMNS}) VALUES ({_NEW}); END",
    "CREATE TRIGGER help_articles_ad AFTER DELETE ON help_articles BEGIN"
    f" INSERT INTO help_fts(help_fts, rowid, {_COLUMNS}) VALUES ({_OLD}); END",
    "CREATE TRIGGER help_articles_au AFTER UPDATE ON help_articles BEGIN"
    f" INSERT INTO help_fts(help_fts, rowid, {_COLUMNS}) VALUES ({_OLD});"
    f" INSERT INTO help_fts(rowid, {_COLUMNS}) VALUES ({_NEW}); END",
]
SQLITE_FTS_DROP = [
    "DROP TRIGGER IF EXISTS help_articles_au",
    "DROP TRIGGER IF EXISTS help_articles_ad",
    "DROP TRIGGER IF EXISTS help_articles_ai",
    "DROP TABLE IF EXISTS help_fts",
]
#: PostgreSQL: a trigger keeps ``search_vector`` (titles weight A, bodies B, no language rules:
#: the 'simple' configuration over the stemmed text), and a GIN index serves the matches.
PG_SEARCH = [
    """CREATE FUNCTION help_articles_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_vector := setweight(to_tsvector('simple'::regconfig, NEW.title_terms), 'A')
    || setweight(to_tsvector('simple'::regconfig, NEW.body_terms), 'B');
  RETURN NEW;
END $$""",
    "CREATE TRIGGER help_articles_vector BEFORE INSERT OR UPDATE OF title_terms, body_terms"
    " ON help_articles FOR EACH ROW EXECUTE FUNCTION help_articles_vector()",
    "CREATE INDEX ix_help_articles_search ON help_articles USING gin (search_vector)",
    # Kept in the row (compressed), not moved out to the TOAST table with the bodies: ranking reads
    # the vector of every matching row, and an out-of-line one costs three more page reads each
    # (a common root's search: 36,276 pages and 30 ms, inline 2,462 pages and 15 ms).
    "ALTER TABLE help_articles ALTER COLUMN search_vector SET STORAGE MAIN",
]
PG_SEARCH_DROP = [
    "DROP INDEX IF EXISTS ix_help_articles_search",
    "DROP TRIGGER IF EXISTS help_articles_vector ON help_articles",
    "DROP FUNCTION IF EXISTS help_articles_vector()",
]


def search_tags(locale: Locale, status: ArticleStatus, topic: HelpTopic, audience: Audience) -> str:
    """The filter tokens of an article in SQLite's index (one word each, no underscores)."""
    return f"l{locale.value} s{status.value} t{topic.value.lower().replace('_', '')} a{audience.value}"


class HelpError(Exception):
    """A Help Center request the data refuses."""


class ArticleNotFound(HelpError):
    """No such article (or not one this caller may read)."""


class SlugTaken(HelpError):
    """Another article has this slug."""


class VersionConflict(HelpError):
    """The article changed since the version the writer read."""

    def __init__(self, message: str, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class ArticleFields(BaseModel):
    """What an author writes: the fields that make up a version."""

    title: str
    body: str
    topic: HelpTopic
    locale: Locale = Locale.ID
    audience: Audience = Audience.ALL
    status: ArticleStatus = ArticleStatus.DRAFT
    slug: str
    translation_group: str | None = None


class Article(ArticleFields):
    """An article as it is now."""

    seq: int
    id: str
    body_html: str
    body_text: str
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: str


class ArticleVersion(BaseModel):
    """One version of an article: its fields then, and who changed which of them when."""

    article_id: str
    version: int
    slug: str
    title: str
    body: str
    topic: HelpTopic
    locale: Locale
    audience: Audience
    status: ArticleStatus
    changed: list[str]
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A found article as a result shows it: the snippet is HTML with the matched words in
    ``<mark>``; the score is higher-is-better (scales differ per database)."""

    id: str
    slug: str
    title: str
    topic: HelpTopic
    locale: Locale
    snippet: str
    score: float


@dataclass(frozen=True, slots=True)
class Found:
    """What one search found, best first, and the roots it searched for (after typo fixes)."""

    searched: tuple[str, ...]
    hits: tuple[SearchHit, ...]


@dataclass(frozen=True)
class CachePolicy:
    """How a process keeps the results of recent searches (see ``SearchCache``)."""

    size: int = 2000
    recheck: timedelta = timedelta(seconds=1)
    max_age: timedelta = timedelta(minutes=5)


@dataclass
class SearchCache:
    """The results of recent searches on one database, kept in this process (bounded, least
    recently used first out) so that a frequent query costs no database work and no snippets.

    Entries never outlive a change of an article: a write through this process drops them all
    at once (``invalidate``); a write through another process moves the count of article
    versions (every create and update adds one), which is read again at most every
    ``policy.recheck``; and no entry is older than ``policy.max_age`` (``python -m store.help
    reindex`` adds no version). Concurrent misses of one query share one computation."""

    policy: CachePolicy
    generation: int = 0
    hits: int = 0
    misses: int = 0
    _entries: OrderedDict[Hashable, tuple[float, Found]] = field(default_factory=OrderedDict)
    _pending: dict[Hashable, asyncio.Future[Found]] = field(default_factory=dict)
    _token: int | None = None
    _checked: float = float("-inf")

    def invalidate(self) -> None:
        """Forget every result (an article changed)."""
        self.generation += 1
        self._entries.clear()
        self._pending.clear()

    async def recheck(self, read_token: Callable[[], Awaitable[int]]) -> None:
        """Invalidate when the database's write counter moved since it was last read (at most
        once per ``policy.recheck``; concurrent searches do not wait for the read)."""
        now = time.monotonic()
        if now - self._checked < self.policy.recheck.total_seconds():
            return
        self._checked = now
        token = await read_token()
        if self._token is not None and token != self._token:
            self.invalidate()
        self._token = token

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[Found]]) -> Found:
        """The cached result for ``key``, else ``compute()``'s (kept unless an article changed
        meanwhile)."""
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[0] <= self.policy.max_age.total_seconds():
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]
        pending = self._pending.get(key)
        if pending is None:
            self.misses += 1
            generation = self.generation
            pending = asyncio.ensure_future(compute())
            self._pending[key] = pending

            def settle(task: asyncio.Future[Found]) -> None:
                if self._pending.get(key) is task:
                    del self._pending[key]
                if task.cancelled() or task.exception() is not None or generation != self.generation:
                    return
                self._entries[key] = (time.monotonic(), task.result())
                self._entries.move_to_end(key)
                while len(self._entries) > self.policy.size:
                    self._entries.popitem(last=False)

            pending.add_done_callback(settle)
        # shielded: a caller that goes away does not cancel the others' shared computation
        return await asyncio.shield(pending)


_CACHES: weakref.WeakKeyDictionary[AsyncEngine, SearchCache] = weakref.WeakKeyDictionary()


def search_cache(engine: AsyncEngine, policy: CachePolicy | None = None) -> SearchCache:
    """The search cache of ``engine``'s database in this process (one per engine)."""
    cache = _CACHES.get(engine)
    if cache is None:
        cache = _CACHES[engine] = SearchCache(policy or CachePolicy())
    elif policy is not None:
        cache.policy = policy
    return cache


class ArticleUse(BaseModel):
    """How one article was used in a period."""

    article_id: str
    slug: str
    title: str
    views: int
    helpful: int
    not_helpful: int


class Deflection(BaseModel):
    """Users who opened an article, and how many of them filed no report within the window after."""

    window: timedelta
    users: int
    deflected: int
    pending: int


class HelpStats(BaseModel):
    """What users did in the Help Center since a moment."""

    since: datetime
    until: datetime
    searches: int
    suggestions: int
    searches_without_result: int
    no_result_queries: list[tuple[str, int]]
    articles: list[ArticleUse]
    deflection: Deflection


_EDITABLE = ("slug", "title", "body", "topic", "locale", "audience", "status")


def _row(fields: ArticleFields) -> dict[str, Any]:
    rendered = render(fields.body)
    return {
        **fields.model_dump(mode="json"),
        "body_html": rendered.html,
        "body_text": rendered.text,
        "search_tags": search_tags(fields.locale, fields.status, fields.topic, fields.audience),
        "title_terms": indexed(fields.title, fields.locale),
        "body_terms": indexed(rendered.text, fields.locale),
    }


def _version_row(article: dict[str, Any], changed: list[str], by: str, at: datetime) -> dict[str, Any]:
    return {
        "article_id": article["id"],
        "version": article["version"],
        **{name: article[name] for name in _EDITABLE},
        "changed": changed,
        "changed_by": by,
        "changed_at": at,
    }


def _terms_of(fields: ArticleFields, text: str) -> list[dict[str, Any]]:
    found = dict(words(fields.title, fields.locale) + words(text, fields.locale))
    return [{"word": word, "root": root, "length": len(word)} for word, root in sorted(found.items())]


def starter_id(key: str) -> str:
    """The id a starter article gets, the same in every database."""
    return "art-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def new_article_row(fields: ArticleFields, article_id: str, by: str, at: datetime) -> dict[str, Any]:
    """The help_articles row of a new article (version 1)."""
    return _row(fields) | {
        "id": article_id,
        "version": 1,
        "created_at": at,
        "updated_at": at,
        "updated_by": by,
    }


def load_articles(
    connection: Connection, articles: Sequence[tuple[str, ArticleFields]], at: datetime
) -> None:
    """Insert ``(id, fields)`` articles as version 1 on a synchronous connection (the migration's
    starter set); the indexes follow by themselves."""
    rows = [new_article_row(fields, article_id, "starter-set", at) for article_id, fields in articles]
    if not rows:
        return
    connection.execute(help_articles.insert(), rows)
    connection.execute(
        help_article_versions.insert(),
        [_version_row(row, list(_EDITABLE), "starter-set", at) for row in rows],
    )
    terms = {
        term["word"]: term
        for row, (_, fields) in zip(rows, articles, strict=True)
        for term in _terms_of(fields, row["body_text"])
    }
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(dialect.insert(help_terms).on_conflict_do_nothing(), list(terms.values()))


def _article(row: Any) -> Article:
    return Article.model_validate(row, from_attributes=True)


class HelpStore:
    """The Help Center's tables."""

    def __init__(self, engine: AsyncEngine, cache: CachePolicy | None = None) -> None:
        self.engine = engine
        self.cache = search_cache(engine, cache)

    # -- writing -----------------------------------------------------------------------------

    async def create(self, fields: ArticleFields, by: str, at: datetime) -> Article:
        """A new article at version 1; SlugTaken when its slug is another's."""
        row = new_article_row(fields, "art-" + uuid.uuid4().hex[:12], by, at)
        try:
            # The insert comes first: a slug taken meanwhile fails it (unique), with no stale read.
            async with self.engine.begin() as connection:
                await connection.execute(help_articles.insert().values(row))
                await connection.execute(
                    help_article_versions.insert().values(_version_row(row, list(_EDITABLE), by, at))
                )
                await self._add_terms(connection, fields, row)
        except sa.exc.IntegrityError as error:
            raise SlugTaken(f"the slug {fields.slug} belongs to another article") from error
        self.cache.invalidate()
        found = await self.get(row["id"])
        assert found is not None
        return found

    async def update(
        self, article_id: str, changes: dict[str, Any], by: str, at: datetime, expected_version: int | None
    ) -> Article:
        """A new version with ``changes`` applied (only fields that differ count as changed).
        Writers of one article take turns: each sees the version the one before it wrote."""
        try:
            return await self._update(article_id, changes, by, at, expected_version)
        except sa.exc.IntegrityError as error:  # a slug taken between the check and the write
            raise SlugTaken(f"the slug {changes.get('slug')} belongs to another article") from error

    async def _update(
        self, article_id: str, changes: dict[str, Any], by: str, at: datetime, expected_version: int | None
    ) -> Article:
        async with self.engine.begin() as connection:
            current = await self._locked(connection, article_id)
            if expected_version is not None and expected_version != current.version:
                raise VersionConflict(
                    f"article {article_id} is at version {current.version}, not {expected_version}",
                    current.version,
                )
            merged = current.model_dump() | changes
            fields = ArticleFields.model_validate({name: merged[name] for name in ArticleFields.model_fields})
            changed = [name for name in _EDITABLE if getattr(fields, name) != getattr(current, name)]
            if not changed:
                return current
            if "slug" in changed:
                await self._slug_free(connection, fields.slug, article_id)
            row = _row(fields) | {"version": current.version + 1, "updated_at": at, "updated_by": by}
            await connection.execute(
                help_articles.update().where(help_articles.c.id == article_id).values(row)
            )
            await connection.execute(
                help_article_versions.insert().values(_version_row(row | {"id": article_id}, changed, by, at))
            )
            await self._add_terms(connection, fields, row)
        self.cache.invalidate()
        found = await self.get(article_id)
        assert found is not None
        return found

    async def _locked(self, connection: AsyncConnection, article_id: str) -> Article:
        query = sa.select(help_articles).where(help_articles.c.id == article_id)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        else:
            # SQLite has no row locks: a first write takes the database's write lock (waiting for
            # another writer's commit) before the read, so the read is never of a stale snapshot.
            touch = help_articles.update().where(help_articles.c.id == article_id)
            await connection.execute(touch.values(version=help_articles.c.version))
        row = (await connection.execute(query)).first()
        if row is None:
            raise ArticleNotFound(f"no article {article_id}")
        return _article(row)

    async def _slug_free(self, connection: AsyncConnection, slug: str, owner: str | None) -> None:
        query = sa.select(help_articles.c.id).where(help_articles.c.slug == slug)
        holder = (await connection.execute(query)).scalar()
        if holder is not None and holder != owner:
            raise SlugTaken(f"the slug {slug} belongs to article {holder}")

    async def _add_terms(
        self, connection: AsyncConnection, fields: ArticleFields, row: dict[str, Any]
    ) -> None:
        terms = _terms_of(fields, row["body_text"])
        if terms:
            await connection.execute(insert(self.engine, help_terms).values(terms).on_conflict_do_nothing())

    async def free_slug(self, title: str) -> str:
        """A slug made from ``title`` that no article has yet."""
        base = slugify(title)
        async with self.engine.connect() as connection:
            query = sa.select(help_articles.c.slug).where(help_articles.c.slug.like(f"{base}%"))
            taken = set((await connection.execute(query)).scalars())
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    async def reindex(self) -> int:
        """Analyse every article again (after the analysis in domain/help.py changed): its indexed
        roots and the word list are rebuilt; the article and its versions stay as they are."""
        count = 0
        async with self.engine.begin() as connection:
            rows = (await connection.execute(sa.select(help_articles))).all()
            await connection.execute(help_terms.delete())
            for row in rows:
                fields = ArticleFields.model_validate(row, from_attributes=True)
                fresh = _row(fields)
                terms = {name: fresh[name] for name in ("title_terms", "body_terms", "search_tags")}
                await connection.execute(
                    help_articles.update().where(help_articles.c.seq == row.seq).values(terms)
                )
                await self._add_terms(connection, fields, fresh)
                count += 1
        self.cache.invalidate()
        return count

    # -- reading -----------------------------------------------------------------------------

    async def get(self, id_or_slug: str, *, published_only: bool = False) -> Article | None:
        """One article by its id or its slug."""
        query = sa.select(help_articles).where(
            sa.or_(help_articles.c.id == id_or_slug, help_articles.c.slug == id_or_slug)
        )
        if published_only:
            query = query.where(help_articles.c.status == ArticleStatus.PUBLISHED.value)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return _article(row) if row is not None else None

    async def existing(self, ids: Sequence[str], *, published_only: bool = False) -> set[str]:
        """Which of ``ids`` are articles (published ones, with ``published_only``)."""
        if not ids:
            return set()
        query = sa.select(help_articles.c.id).where(help_articles.c.id.in_(list(ids)))
        if published_only:
            query = query.where(help_articles.c.status == ArticleStatus.PUBLISHED.value)
        async with self.engine.connect() as connection:
            return set((await connection.execute(query)).scalars())

    async def translations(self, article: Article) -> list[Article]:
        """The article's other versions in other locales (same translation group)."""
        if article.translation_group is None:
            return []
        query = (
            sa.select(help_articles)
            .where(help_articles.c.translation_group == article.translation_group)
            .where(help_articles.c.id != article.id)
            .order_by(help_articles.c.locale)
        )
        async with self.engine.connect() as connection:
            return [_article(row) for row in await connection.execute(query)]

    async def versions(self, article_id: str) -> list[ArticleVersion]:
        """Every version of an article, oldest first."""
        query = (
            sa.select(help_article_versions)
            .where(help_article_versions.c.article_id == article_id)
            .order_by(help_article_versions.c.version)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [ArticleVersion.model_validate(row, from_attributes=True) for row in rows]

    async def page(
        self,
        *,
        statuses: Sequence[ArticleStatus],
        topic: HelpTopic | None,
        locale: Locale | None,
        audience: Audience | None,
        after: int | None,
        limit: int,
    ) -> list[Article]:
        """Up to ``limit`` articles after the one with sequence number ``after``, oldest first."""
        query = sa.select(help_articles).where(help_articles.c.status.in_([s.value for s in statuses]))
        query = _filtered(query, topic=topic, locale=locale, audience=audience)
        if after is not None:
            query = query.where(help_articles.c.seq > after)
        async with self.engine.connect() as connection:
            rows = await connection.execute(query.order_by(help_articles.c.seq).limit(limit))
            return [_article(row) for row in rows]

    async def topic_counts(self, locale: Locale | None, audience: Audience | None) -> dict[HelpTopic, int]:
        """Published articles per topic."""
        query = sa.select(help_articles.c.topic, sa.func.count()).where(
            help_articles.c.status == ArticleStatus.PUBLISHED.value
        )
        query = _filtered(query, topic=None, locale=locale, audience=audience).group_by(help_articles.c.topic)
        async with self.engine.connect() as connection:
            counts = {HelpTopic(topic): count for topic, count in await connection.execute(query)}
        return {topic: counts.get(topic, 0) for topic in HelpTopic}

    # -- search ------------------------------------------------------------------------------

    async def find(
        self,
        typed: Sequence[tuple[str, str]],
        *,
        locale: Locale,
        topic: HelpTopic | None = None,
        audience: Audience | None = None,
        limit: int = 10,
    ) -> Found:
        """Published articles holding any root of the query's ``(word, root)`` pairs, best first,
        each with its snippet. A frequent query is answered from this process's cache."""
        await self.cache.recheck(self._write_count)
        key = (tuple(typed), locale, topic, audience, limit)
        return await self.cache.get(key, lambda: self._find(typed, locale, topic, audience, limit))

    async def _write_count(self) -> int:
        # Every create and update adds a version: the count moves with every change of an article.
        async with self.engine.connect() as connection:
            count = await connection.scalar(sa.select(sa.func.count()).select_from(help_article_versions))
        return int(count or 0)

    async def _find(
        self,
        typed: Sequence[tuple[str, str]],
        locale: Locale,
        topic: HelpTopic | None,
        audience: Audience | None,
        limit: int,
    ) -> Found:
        # One connection, two statements: the query's known roots, then one statement that
        # matches, ranks and returns only what a result shows, for the first ``limit`` articles.
        async with self.engine.connect() as connection:
            roots = [root for root in await self._known_terms(connection, typed) if TERM.match(root)]
            if not roots:
                return Found(searched=(), hits=())
            if self.engine.dialect.name == "postgresql":
                rows = await self._ranked_pg(connection, roots, locale, topic, audience, limit)
            else:
                rows = await self._ranked_sqlite(connection, roots, locale, topic, audience, limit)
        hits = tuple(
            SearchHit(
                id=row.id,
                slug=row.slug,
                title=row.title,
                topic=HelpTopic(row.topic),
                locale=Locale(row.locale),
                snippet=snippet(row.body_text, roots, Locale(row.locale)),
                score=float(row.score),
            )
            for row in rows
        )
        return Found(searched=tuple(roots), hits=hits)

    async def _known_terms(self, connection: AsyncConnection, typed: Sequence[tuple[str, str]]) -> list[str]:
        """The roots to search for the ``(word, root)`` pairs of a query: a root no article uses is
        a typo, taken for the root of the closest word that articles use (``pengembalain`` is
        read as ``pengembalian``, root ``kembali``), or dropped when no word is close."""
        if not typed:
            return []
        roots = [root for _, root in typed]
        query = sa.select(help_terms.c.root).where(help_terms.c.root.in_(roots)).distinct()
        known = set((await connection.execute(query)).scalars())
        unknown = [word for word, root in typed if root not in known and len(word) >= 4]
        candidates: dict[str, str] = {}
        if unknown:  # one round trip for every misspelt word: the words of like length and initial
            lengths = [len(word) for word in unknown]
            nearby = sa.select(help_terms.c.word, help_terms.c.root).where(
                help_terms.c.length.between(min(lengths) - 2, max(lengths) + 2),
                sa.or_(
                    *(help_terms.c.word.like(f"{initial}%") for initial in sorted({w[0] for w in unknown}))
                ),
            )
            candidates = dict((await connection.execute(nearby)).all())
        fixed = []
        for word, root in typed:
            if root in known:
                fixed.append(root)
                continue
            if len(word) < 4:
                continue
            alike = [c for c in candidates if c[0] == word[0] and abs(len(c) - len(word)) <= 2]
            closest = difflib.get_close_matches(word, alike, n=1, cutoff=0.8)
            fixed.extend(candidates[match] for match in closest)
        return list(dict.fromkeys(fixed))

    async def _ranked_sqlite(
        self,
        connection: AsyncConnection,
        terms: Sequence[str],
        locale: Locale,
        topic: HelpTopic | None,
        audience: Audience | None,
        limit: int,
    ) -> Sequence[Any]:
        tags = [f"l{locale.value}", f"s{ArticleStatus.PUBLISHED.value}"]
        if topic is not None:
            tags.append(f"t{topic.value.lower().replace('_', '')}")
        if audience is not None and audience is not Audience.ALL:
            tags.append(f"(a{audience.value} OR a{Audience.ALL.value})")
        words_wanted = " OR ".join(f'"{term}"' for term in terms)
        match = f"{{search_tags}}: ({' AND '.join(tags)}) AND {{title_terms body_terms}}: ({words_wanted})"
        statement = sa.text(
            "SELECT a.id, a.slug, a.title, a.topic, a.locale, a.body_text, r.score FROM"
            " (SELECT rowid, -bm25(help_fts, :title, 1.0, 0.0) AS score FROM help_fts"
            "  WHERE help_fts MATCH :match ORDER BY score DESC, rowid LIMIT :limit) AS r"
            " JOIN help_articles AS a ON a.seq = r.rowid ORDER BY r.score DESC, r.rowid"
        )
        found = await connection.execute(statement, {"title": TITLE_WEIGHT, "match": match, "limit": limit})
        rows: Sequence[Any] = found.all()
        return rows

    async def _ranked_pg(
        self,
        connection: AsyncConnection,
        terms: Sequence[str],
        locale: Locale,
        topic: HelpTopic | None,
        audience: Audience | None,
        limit: int,
    ) -> Sequence[Any]:
        vector = help_articles.c.search_vector
        tsquery = sa.func.to_tsquery(sa.literal_column("'simple'::regconfig"), " | ".join(terms))
        score = sa.func.ts_rank(sa.literal_column(f"'{PG_WEIGHTS}'::float4[]"), vector, tsquery)
        a = help_articles.c
        query: sa.Select[Any] = (
            sa.select(a.id, a.slug, a.title, a.topic, a.locale, a.body_text, score.label("score"))
            .where(vector.op("@@")(tsquery))
            .where(a.status == ArticleStatus.PUBLISHED.value)
        )
        query = _filtered(query, topic=topic, locale=locale, audience=audience)
        query = query.order_by(sa.desc("score"), a.seq).limit(limit)
        rows: Sequence[Any] = (await connection.execute(query)).all()
        return rows

    # -- what users do -----------------------------------------------------------------------

    async def record_search(
        self, kind: str, query: str, locale: Locale, results: int, user_id: str | None, at: datetime
    ) -> None:
        """A user searched (``search``) or was offered articles for a report (``suggest``)."""
        row = {"kind": kind, "query": query, "locale": locale.value, "results": results, "user_id": user_id}
        async with self.engine.begin() as connection:
            await connection.execute(help_searches.insert().values(row | {"at": at}))

    async def record_view(self, article_id: str, user_id: str | None, at: datetime) -> None:
        """A user opened an article."""
        async with self.engine.begin() as connection:
            row = {"article_id": article_id, "user_id": user_id, "at": at}
            await connection.execute(help_views.insert().values(row))

    async def vote(self, article_id: str, user_id: str | None, helpful: bool, at: datetime) -> None:
        """A user found an article helpful or not; a known user's new vote replaces the old."""
        row = {"article_id": article_id, "user_id": user_id, "helpful": helpful, "at": at}
        statement = insert(self.engine, help_votes).values(row)
        if user_id is not None:
            statement = statement.on_conflict_do_update(
                index_elements=[help_votes.c.article_id, help_votes.c.user_id],
                set_={"helpful": helpful, "at": at},
            )
        async with self.engine.begin() as connection:
            await connection.execute(statement)

    async def record_report(self, ticket_id: str, user_id: str, viewed: Sequence[str], at: datetime) -> None:
        """A user filed a report to care, having read ``viewed`` (a retry records nothing new)."""
        row = {"ticket_id": ticket_id, "user_id": user_id, "viewed_articles": list(viewed), "at": at}
        async with self.engine.begin() as connection:
            await connection.execute(insert(self.engine, help_reports).values(row).on_conflict_do_nothing())

    async def stats(self, since: datetime, until: datetime, window: timedelta, top: int = 10) -> HelpStats:
        """Searches, queries that found nothing, use per article, and deflection since ``since``."""
        async with self.engine.connect() as connection:
            searches: Counter[str] = Counter()
            query = (
                sa.select(help_searches.c.kind, help_searches.c.results > 0, sa.func.count())
                .where(help_searches.c.at >= since, help_searches.c.at <= until)
                .group_by(help_searches.c.kind, help_searches.c.results > 0)
            )
            for kind, found, count in await connection.execute(query):
                searches[kind] += count
                if not found and kind == "search":
                    searches["none"] += count
            count = sa.func.count().label("n")
            query = (
                sa.select(help_searches.c.query, count)
                .where(help_searches.c.at >= since, help_searches.c.at <= until)
                .where(help_searches.c.results == 0, help_searches.c.kind == "search")
                .group_by(help_searches.c.query)
                .order_by(sa.desc("n"), help_searches.c.query)
                .limit(top)
            )
            no_result = [(text, n) for text, n in await connection.execute(query)]
            articles = await self._article_use(connection, since, until)
            deflection = await self._deflection(connection, since, until, window)
        return HelpStats(
            since=since,
            until=until,
            searches=searches["search"],
            suggestions=searches["suggest"],
            searches_without_result=searches["none"],
            no_result_queries=no_result,
            articles=articles,
            deflection=deflection,
        )

    async def _article_use(
        self, connection: AsyncConnection, since: datetime, until: datetime
    ) -> list[ArticleUse]:
        views = sa.select(help_views.c.article_id, sa.func.count()).where(
            help_views.c.at >= since, help_views.c.at <= until
        )
        viewed: dict[str, int] = {
            article_id: n
            for article_id, n in await connection.execute(views.group_by(help_views.c.article_id))
        }
        votes = sa.select(help_votes.c.article_id, help_votes.c.helpful, sa.func.count()).where(
            help_votes.c.at >= since, help_votes.c.at <= until
        )
        voted: dict[tuple[str, bool], int] = {}
        for article_id, helpful, n in await connection.execute(
            votes.group_by(help_votes.c.article_id, help_votes.c.helpful)
        ):
            voted[(article_id, bool(helpful))] = n
        ids = set(viewed) | {article_id for article_id, _ in voted}
        if not ids:
            return []
        names = sa.select(help_articles.c.id, help_articles.c.slug, help_articles.c.title).where(
            help_articles.c.id.in_(sorted(ids))
        )
        uses = [
            ArticleUse(
                article_id=article_id,
                slug=slug,
                title=title,
                views=viewed.get(article_id, 0),
                helpful=voted.get((article_id, True), 0),
                not_helpful=voted.get((article_id, False), 0),
            )
            for article_id, slug, title in await connection.execute(names)
        ]
        return sorted(uses, key=lambda use: (-use.views, -(use.helpful + use.not_helpful), use.article_id))

    async def _deflection(
        self, connection: AsyncConnection, since: datetime, until: datetime, window: timedelta
    ) -> Deflection:
        # Each user counts once, from the first article opened in the period: deflected when no
        # report follows within the window; still pending while the window is open.
        first = (
            sa.select(help_views.c.user_id, sa.func.min(help_views.c.at).label("first"))
            .where(help_views.c.user_id.is_not(None), help_views.c.at >= since, help_views.c.at <= until)
            .group_by(help_views.c.user_id)
        )
        first_view = {user: _aware(at) for user, at in await connection.execute(first)}
        if not first_view:
            return Deflection(window=window, users=0, deflected=0, pending=0)
        reports = sa.select(help_reports.c.user_id, help_reports.c.at).where(
            help_reports.c.at >= since, help_reports.c.user_id.in_(sorted(first_view))
        )
        filed: dict[str, list[datetime]] = {}
        for user, at in await connection.execute(reports):
            filed.setdefault(user, []).append(at)
        deflected = pending = 0
        for user, viewed_at in first_view.items():
            reported = any(viewed_at <= at <= viewed_at + window for at in filed.get(user, []))
            if reported:
                continue
            if viewed_at + window > until:
                pending += 1
            else:
                deflected += 1
        return Deflection(window=window, users=len(first_view), deflected=deflected, pending=pending)


def _aware(value: datetime) -> datetime:
    # min() over a UTCDateTime column comes back as the driver gives it (naive on SQLite).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _filtered(
    query: sa.Select[Any], *, topic: HelpTopic | None, locale: Locale | None, audience: Audience | None
) -> sa.Select[Any]:
    if topic is not None:
        query = query.where(help_articles.c.topic == topic.value)
    if locale is not None:
        query = query.where(help_articles.c.locale == locale.value)
    if audience is not None and audience is not Audience.ALL:
        query = query.where(help_articles.c.audience.in_([audience.value, Audience.ALL.value]))
    return query


def main() -> None:
    """``python -m store.help reindex``: analyse every article again (see docs/help-center.md)."""
    import argparse
    import asyncio

    from core.settings import Settings
    from store.db import database

    parser = argparse.ArgumentParser(prog="python -m store.help", description=main.__doc__)
    parser.add_argument("command", choices=["reindex"])
    parser.parse_args()

    async def reindex() -> int:
        async with database(Settings()) as engine:
            return await HelpStore(engine).reindex()

    print(f"reindexed {asyncio.run(reindex())} articles")


if __name__ == "__main__":
    main()
