"""Help Center: articles with versions, search indexes, searches, views, votes, reports; the starter set

Revision ID: 0005_help_center
Revises: 0002_webhooks
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_help_center"
down_revision: str | Sequence[str] | None = "0004_webhook_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Help Center tables, the search index of each engine, then the starter articles (once: a
    database that has this revision never gets them again, so edits are never overwritten)."""
    from store import help, help_starter  # the analysis and the starter set of this revision

    op.create_table(
        "help_articles",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("translation_group", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title_terms", sa.Text(), nullable=False),
        sa.Column("body_terms", sa.Text(), nullable=False),
        sa.Column("search_tags", sa.Text(), nullable=False),
        sa.Column(
            "search_vector", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), nullable=True
        ),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_help_articles")),
        sa.UniqueConstraint("id", name=op.f("uq_help_articles_id")),
        sa.UniqueConstraint("slug", name=op.f("uq_help_articles_slug")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_help_articles_status_locale_topic_seq"),
        "help_articles",
        ["status", "locale", "topic", "seq"],
    )
    op.create_index(op.f("ix_help_articles_translation_group"), "help_articles", ["translation_group"])
    op.create_table(
        "help_article_versions",
        sa.Column("article_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("changed", JSON, nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("changed_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("article_id", "version", name=op.f("pk_help_article_versions")),
    )
    op.create_table(
        "help_terms",
        sa.Column("word", sa.Text(), nullable=False),
        sa.Column("root", sa.Text(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_help_terms")),
    )
    op.create_index(op.f("ix_help_terms_length"), "help_terms", ["length"])
    op.create_index(op.f("ix_help_terms_root"), "help_terms", ["root"])
    op.create_table(
        "help_searches",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_help_searches")),
    )
    op.create_index(op.f("ix_help_searches_at"), "help_searches", ["at"])
    op.create_table(
        "help_views",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("article_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_help_views")),
    )
    op.create_index(op.f("ix_help_views_at"), "help_views", ["at"])
    op.create_index(op.f("ix_help_views_user_id_at"), "help_views", ["user_id", "at"])
    op.create_table(
        "help_votes",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("article_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_help_votes")),
    )
    op.create_index(
        op.f("ix_help_votes_article_id_user_id"), "help_votes", ["article_id", "user_id"], unique=True
    )
    op.create_index(op.f("ix_help_votes_at"), "help_votes", ["at"])
    op.create_table(
        "help_reports",
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("viewed_articles", JSON, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_help_reports")),
    )
    op.create_index(op.f("ix_help_reports_user_id_at"), "help_reports", ["user_id", "at"])

    if op.get_bind().dialect.name == "postgresql":
        for statement in help.PG_SEARCH:
            op.execute(statement)
    else:
        for statement in help.SQLITE_FTS:
            op.execute(statement)
    help.load_articles(op.get_bind(), help_starter.articles(), datetime.now(UTC))


def downgrade() -> None:
    """Undo: the Help Center"""
    if op.get_bind().dialect.name == "postgresql":
        for statement in (
            "DROP INDEX IF EXISTS ix_help_articles_search",
            "DROP TRIGGER IF EXISTS help_articles_vector ON help_articles",
            "DROP FUNCTION IF EXISTS help_articles_vector()",
        ):
            op.execute(statement)
    else:
        for statement in (
            "DROP TRIGGER IF EXISTS help_articles_au",
            "DROP TRIGGER IF EXISTS help_articles_ad",
            "DROP TRIGGER IF EXISTS help_articles_ai",
            "DROP TABLE IF EXISTS help_fts",
        ):
            op.execute(statement)
    for table in (
        "help_reports",
        "help_votes",
        "help_views",
        "help_searches",
        "help_terms",
        "help_article_versions",
        "help_articles",
    ):
        op.drop_table(table)
