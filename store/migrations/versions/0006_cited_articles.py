"""Cited articles: the Help Center article ids a care reply cites, on its notification rows

Revision ID: 0006_cited_articles
Revises: 0005_help_center
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_cited_articles"
down_revision: str | Sequence[str] | None = "0005_help_center"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """The article ids a care reply cites; null on every other row (and on replies citing none)."""
    op.add_column("effects", sa.Column("articles", JSON, nullable=True))


def downgrade() -> None:
    """Drop the cited article ids (the replies' texts stay)."""
    with op.batch_alter_table("effects") as batch:
        batch.drop_column("articles")
