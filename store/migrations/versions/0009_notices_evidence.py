"""Notices in the party's language and typed evidence: a notification's template id, parameters
and locale on its outbox row, and each evidence upload's type

Revision ID: 0009_notices_evidence
Revises: 0008_care_workspace
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_notices_evidence"
down_revision: str | Sequence[str] | None = "0008_care_workspace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """The notice columns (null on rows recorded before, and on every other effect) and the
    evidence type (``OTHER`` for files uploaded before)."""
    op.add_column("effects", sa.Column("template", sa.Text(), nullable=True))
    op.add_column("effects", sa.Column("params", JSON, nullable=True))
    op.add_column("effects", sa.Column("locale", sa.Text(), nullable=True))
    op.add_column("evidence", sa.Column("type", sa.Text(), nullable=False, server_default="OTHER"))


def downgrade() -> None:
    """Drop them (the notices' texts and the files stay)."""
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("type")
    with op.batch_alter_table("effects") as batch:
        batch.drop_column("locale")
        batch.drop_column("params")
        batch.drop_column("template")
