"""The service database's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

The migrations in ``store/migrations`` create exactly these (a test compares them on both engines)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A point in time, stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store every time in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give the time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware, in UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
#: A growing sequence number: BIGINT on PostgreSQL; SQLite autoincrements only INTEGER keys.
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _at(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


# -- outside effects (the outbox) and the inbox's read marks -------------------------------------

effects = sa.Table(
    "effects",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.Text(), nullable=False, unique=True),
    sa.Column("case_id", sa.Text(), nullable=False),
    sa.Column("kind", sa.Text(), nullable=False),
    sa.Column("party", sa.Text()),
    sa.Column("party_id", sa.Text()),
    sa.Column("amount", sa.BigInteger()),
    sa.Column("text", sa.Text()),
    sa.Column("category", sa.Text()),
    sa.Column("articles", Json),  # Help Center article ids a care reply cites (0006_cited_articles)
    # A notification's template id, parameters and language (0009_notices_evidence).
    sa.Column("template", sa.Text()),
    sa.Column("params", Json),
    sa.Column("locale", sa.Text()),
    _at("created_at"),
    sa.Index(None, "case_id", "seq"),
    sa.Index(None, "party_id", "category", "seq"),
    sqlite_autoincrement=True,  # inbox message ids (msg-<seq>) are never reused
)

inbox_reads = sa.Table(
    "inbox_reads",
    metadata,
    sa.Column("seq", Seq, sa.ForeignKey("effects.seq", ondelete="CASCADE"), primary_key=True),
    _at("read_at"),
)

# -- webhooks: subscriptions added through the API, delivery attempts, dead letters --------------

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.Text(), primary_key=True),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("secret", sa.Text(), nullable=False),
    sa.Column("event_types", Json, nullable=False),
    sa.Column("created_by", sa.Text(), nullable=False),
    _at("created_at"),
    # While a rotation overlaps, deliveries are signed with this secret too, until the time given.
    sa.Column("previous_secret", sa.Text()),
    _at("previous_secret_until", nullable=True),
    sa.Index(None, "created_by"),
)

#: Whether a subscription's deliveries fail (configured ones too, so it is not a column above):
#: failing since the first failure after the last success; disabled once that lasts too long.
webhook_subscription_health = sa.Table(
    "webhook_subscription_health",
    metadata,
    sa.Column("subscription_id", sa.Text(), primary_key=True),
    _at("failing_since", nullable=True),
    _at("disabled_at", nullable=True),
    sa.Column("disabled_reason", sa.Text()),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.Text(), nullable=False),
    sa.Column("event_id", sa.Text(), nullable=False),
    sa.Column("event_type", sa.Text(), nullable=False),
    sa.Column("subscription_id", sa.Text(), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("status_code", sa.Integer()),
    sa.Column("error", sa.Text()),
    sa.Column("delivered", sa.Boolean(), nullable=False),
    _at("at"),
    sa.Index(None, "event_id"),
    sa.Index(None, "subscription_id", "seq"),
    sqlite_autoincrement=True,
)

#: Every case event a case handed to the webhook side, once (store/webhooks.py): the fan-out
#: delivers it from here, and ``seq`` orders the events for a reader paging through them.
case_events = sa.Table(
    "case_events",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text(), nullable=False, unique=True),
    sa.Column("type", sa.Text(), nullable=False),
    sa.Column("case_id", sa.Text(), nullable=False),
    sa.Column("body", Json, nullable=False),
    _at("created_at"),
    sa.Index(None, "case_id", "seq"),
    sqlite_autoincrement=True,
)

webhook_dead_letters = sa.Table(
    "webhook_dead_letters",
    metadata,
    sa.Column("delivery_id", sa.Text(), primary_key=True),
    sa.Column("subscription_id", sa.Text(), nullable=False),
    sa.Column("event", Json, nullable=False),
    sa.Column("last_error", sa.Text()),
    sa.Column("attempts", sa.Integer(), nullable=False),
    _at("dead_at"),
    _at("redelivered_at", nullable=True),
    sa.Index(None, "subscription_id", "dead_at"),
)

# -- evidence metadata (the bytes stay in the blob store) ----------------------------------------

evidence = sa.Table(
    "evidence",
    metadata,
    sa.Column("reference", sa.Text(), primary_key=True),
    sa.Column("sha256", sa.Text(), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("content_type", sa.Text(), nullable=False),
    sa.Column("uploaded_by_role", sa.Text(), nullable=False),
    sa.Column("uploaded_by_id", sa.Text(), nullable=False),
    sa.Column("caller", sa.Text(), nullable=False),
    _at("created_at"),
    # What the file shows, as its uploader said: an EvidenceType (0009_notices_evidence).
    sa.Column("type", sa.Text(), nullable=False, server_default="OTHER"),
    sa.Index(None, "sha256"),
)

# -- cases: timelines, snapshots of open cases, the archive of closed ones, the order registry ----

timeline_entries = sa.Table(
    "timeline_entries",
    metadata,
    sa.Column("case_id", sa.Text(), primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    _at("at"),
    sa.Column("event", sa.Text(), nullable=False),
    sa.Column("actor_role", sa.Text()),
    sa.Column("actor_id", sa.Text()),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("detail", Json, nullable=False),
)

case_snapshots = sa.Table(
    "case_snapshots",
    metadata,
    sa.Column("case_id", sa.Text(), primary_key=True),
    sa.Column("kind", sa.Text(), nullable=False),
    sa.Column("state", Json, nullable=False),
    sa.Column("version", sa.BigInteger(), nullable=False),
    _at("as_of"),
)

case_archive = sa.Table(
    "case_archive",
    metadata,
    sa.Column("case_id", sa.Text(), primary_key=True),
    sa.Column("kind", sa.Text(), nullable=False),
    sa.Column("order_id", sa.Text()),
    sa.Column("status", sa.Text(), nullable=False),
    _at("closed_at"),
    sa.Column("state", Json, nullable=False),
    sa.Column("idempotency", Json, nullable=False),
    sa.Index(None, "order_id"),
)

#: Where each open case stands now, kept as its timeline entries are stored (store/heads.py) and
#: dropped when it is archived: the case gauges (store/metrics.py) read it, one row per open case.
case_heads = sa.Table(
    "case_heads",
    metadata,
    sa.Column("case_id", sa.Text(), primary_key=True),
    sa.Column("kind", sa.Text(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    _at("changed_at"),
    sa.Column("parked", Json, nullable=False),
    _at("attention_since", nullable=True),
    sa.Index(None, "attention_since"),
)

#: The read model (issue 16): one row per case, open or closed, written by the case's own publish
#: step in the transaction of its timeline entries and outbox rows; a write never replaces a newer
#: ``version``. Every request path reads cases from here, never from a workflow.
case_views = sa.Table(
    "case_views",
    metadata,
    sa.Column("case_id", sa.Text(), primary_key=True),
    sa.Column("kind", sa.Text(), nullable=False),
    sa.Column("version", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("closed", sa.Boolean(), nullable=False),
    sa.Column("buyer_id", sa.Text()),
    sa.Column("seller_id", sa.Text()),
    sa.Column("order_id", sa.Text()),
    _at("opened_at"),
    _at("updated_at"),
    _at("next_deadline_at", nullable=True),
    sa.Column("sla_breached", sa.Boolean(), nullable=False),
    sa.Column("needs_attention", sa.Boolean(), nullable=False),
    sa.Column("assignee", sa.Text()),
    sa.Column("care_group", sa.Text()),
    sa.Column("state", Json, nullable=False),
    sa.Index(None, "kind", "opened_at", "case_id"),
    sa.Index(None, "kind", "updated_at", "case_id"),
    sa.Index(None, "buyer_id"),
    sa.Index(None, "seller_id"),
    sa.Index(None, "order_id"),
    sa.Index(None, "assignee"),
    sa.Index(None, "care_group"),
)

dispute_orders = sa.Table(
    "dispute_orders",
    metadata,
    sa.Column("order_id", sa.Text(), primary_key=True),
    sa.Column("dispute_id", sa.Text(), nullable=False),
    sa.Column("buyer_id", sa.Text(), nullable=False),
    sa.Column("seller_id", sa.Text(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    _at("opened_at"),
    _at("closed_at", nullable=True),
)

# -- Idempotency-Key records of requests that are not case actions --------------------------------

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("digest", sa.Text(), primary_key=True),
    sa.Column("caller", sa.Text(), nullable=False),
    sa.Column("request_line", sa.Text(), nullable=False),
    sa.Column("fingerprint", sa.Text(), nullable=False),
    sa.Column("status_code", sa.Integer()),
    sa.Column("response", Json),
    _at("created_at"),
)

# -- the Help Center (Pusat Bantuan): articles, their versions, what users read, search and vote ---

#: Articles as they are now. ``title_terms`` and ``body_terms`` hold the analysed text
#: (domain/help.py: roots, stop words dropped) that both databases index: SQLite in the FTS5 table
#: ``help_fts`` (external content, kept in step by triggers; ``search_tags`` are its filters),
#: PostgreSQL in ``search_vector`` (kept by a trigger, GIN-indexed; NULL on SQLite). The FTS
#: table, the triggers and the GIN index are made by the migration, outside this metadata.
help_articles = sa.Table(
    "help_articles",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text(), nullable=False, unique=True),
    sa.Column("slug", sa.Text(), nullable=False, unique=True),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("body_html", sa.Text(), nullable=False),
    sa.Column("body_text", sa.Text(), nullable=False),
    sa.Column("topic", sa.Text(), nullable=False),
    sa.Column("locale", sa.Text(), nullable=False),
    sa.Column("audience", sa.Text(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("translation_group", sa.Text()),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("title_terms", sa.Text(), nullable=False),
    sa.Column("body_terms", sa.Text(), nullable=False),
    sa.Column("search_tags", sa.Text(), nullable=False),
    sa.Column("search_vector", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql")),
    _at("created_at"),
    _at("updated_at"),
    sa.Column("updated_by", sa.Text(), nullable=False),
    sa.Index(None, "status", "locale", "topic", "seq"),
    sa.Index(None, "translation_group"),
    sqlite_autoincrement=True,  # the FTS index's rowids are never reused
)

#: Every version of every article, the first included: who changed what, when.
help_article_versions = sa.Table(
    "help_article_versions",
    metadata,
    sa.Column("article_id", sa.Text(), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("slug", sa.Text(), nullable=False),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("topic", sa.Text(), nullable=False),
    sa.Column("locale", sa.Text(), nullable=False),
    sa.Column("audience", sa.Text(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("changed", Json, nullable=False),
    sa.Column("changed_by", sa.Text(), nullable=False),
    _at("changed_at"),
)

#: Every word the articles use, with its root: a query's misspelt word (no article has its root)
#: is taken for the closest of these words.
help_terms = sa.Table(
    "help_terms",
    metadata,
    sa.Column("word", sa.Text(), primary_key=True),
    sa.Column("root", sa.Text(), nullable=False),
    sa.Column("length", sa.Integer(), nullable=False),
    sa.Index(None, "length"),
    sa.Index(None, "root"),
)

#: Searches and suggestions made for users (platform keys), with how many articles they found.
help_searches = sa.Table(
    "help_searches",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.Text(), nullable=False),
    sa.Column("query", sa.Text(), nullable=False),
    sa.Column("locale", sa.Text(), nullable=False),
    sa.Column("results", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Text()),
    _at("at"),
    sa.Index(None, "at"),
)

#: A user (platform key) opened an article.
help_views = sa.Table(
    "help_views",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.Text(), nullable=False),
    sa.Column("user_id", sa.Text()),
    _at("at"),
    sa.Index(None, "at"),
    sa.Index(None, "user_id", "at"),
)

#: Was this article helpful? One vote per known user and article (a new vote replaces it).
help_votes = sa.Table(
    "help_votes",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.Text(), nullable=False),
    sa.Column("user_id", sa.Text()),
    sa.Column("helpful", sa.Boolean(), nullable=False),
    _at("at"),
    sa.Index(None, "article_id", "user_id", unique=True),
    sa.Index(None, "at"),
)

#: Reports filed to care, with the articles read before: deflection is measured against these.
help_reports = sa.Table(
    "help_reports",
    metadata,
    sa.Column("ticket_id", sa.Text(), primary_key=True),
    sa.Column("user_id", sa.Text(), nullable=False),
    sa.Column("viewed_articles", Json, nullable=False),
    _at("at"),
    sa.Index(None, "user_id", "at"),
)

# -- the care workspace (issue 18): private notes and saved replies --------------------------------

#: Care's private notes on a case: written by the API, never through the case's workflow, so no
#: party read, notice, webhook, event feed row, Temporal history or search attribute holds one.
care_notes = sa.Table(
    "care_notes",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text(), nullable=False, unique=True),
    sa.Column("case_id", sa.Text(), nullable=False),
    sa.Column("kind", sa.Text(), nullable=False),
    sa.Column("author_role", sa.Text(), nullable=False),
    sa.Column("author_id", sa.Text(), nullable=False),
    sa.Column("api_key", sa.Text(), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    _at("created_at"),
    sa.Index(None, "case_id", "seq"),
    sqlite_autoincrement=True,
)

#: Saved replies (macros): one per name and locale, with an optional action run after the reply.
care_macros = sa.Table(
    "care_macros",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text(), nullable=False, unique=True),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("locale", sa.Text(), nullable=False),
    sa.Column("kind", sa.Text()),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("action", Json),
    sa.Column("version", sa.Integer(), nullable=False),
    _at("created_at"),
    sa.Column("created_by", sa.Text(), nullable=False),
    _at("updated_at"),
    sa.Column("updated_by", sa.Text(), nullable=False),
    sa.Index(None, "name", "locale", unique=True),
    sqlite_autoincrement=True,
)
