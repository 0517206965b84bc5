"""Case events handed to the webhook side once per event (the fan-out reads them; a feed can page them)

Revision ID: 0004_webhook_events
Revises: 0002_webhooks
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_webhook_events"
down_revision: str | Sequence[str] | None = "0003_case_heads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Case events handed to the webhook side once per event"""
    op.create_table(
        "case_events",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_case_events")),
        sa.UniqueConstraint("id", name=op.f("uq_case_events_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_case_events_case_id_seq"), "case_events", ["case_id", "seq"], unique=False)


def downgrade() -> None:
    """Undo: case events handed to the webhook side"""
    op.drop_index(op.f("ix_case_events_case_id_seq"), table_name="case_events")
    op.drop_table("case_events")
