"""Read model: one row per case (its state, status, parties, deadlines, version), read by every request path

Revision ID: 0007_read_model
Revises: 0006_cited_articles
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_read_model"
down_revision: str | Sequence[str] | None = "0006_cited_articles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """The case_views table and its paging indexes."""
    op.create_table(
        "case_views",
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("buyer_id", sa.Text(), nullable=True),
        sa.Column("seller_id", sa.Text(), nullable=True),
        sa.Column("order_id", sa.Text(), nullable=True),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("next_deadline_at", TIME, nullable=True),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.Column("care_group", sa.Text(), nullable=True),
        sa.Column("state", JSON, nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_views")),
    )
    for columns in (["kind", "opened_at", "case_id"], ["kind", "updated_at", "case_id"]):
        op.create_index(op.f(f"ix_case_views_{'_'.join(columns)}"), "case_views", columns, unique=False)
    for column in ("buyer_id", "seller_id", "order_id", "assignee", "care_group"):
        op.create_index(op.f(f"ix_case_views_{column}"), "case_views", [column], unique=False)


def downgrade() -> None:
    """Drop the read model (the timelines, snapshots and archive it was built from stay)."""
    op.drop_table("case_views")
