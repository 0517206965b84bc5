"""Care workspace: care's private notes on cases and saved replies (macros)

Revision ID: 0008_care_workspace
Revises: 0007_read_model
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_care_workspace"
down_revision: str | Sequence[str] | None = "0007_read_model"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """The care_notes and care_macros tables."""
    op.create_table(
        "care_notes",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("author_role", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Text(), nullable=False),
        sa.Column("api_key", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_care_notes")),
        sa.UniqueConstraint("id", name=op.f("uq_care_notes_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_care_notes_case_id_seq"), "care_notes", ["case_id", "seq"], unique=False)
    op.create_table(
        "care_macros",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("action", JSON, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_care_macros")),
        sa.UniqueConstraint("id", name=op.f("uq_care_macros_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_care_macros_name_locale"), "care_macros", ["name", "locale"], unique=True)


def downgrade() -> None:
    """Drop the notes and the macros."""
    op.drop_table("care_macros")
    op.drop_table("care_notes")
