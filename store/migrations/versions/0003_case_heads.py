"""Case heads: where each open case stands (status, parked effects), for the case gauges

Revision ID: 0003_case_heads
Revises: 0002_webhooks
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_case_heads"
down_revision: str | Sequence[str] | None = "0002_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Case heads: where each open case stands (status, parked effects), for the case gauges"""
    op.create_table(
        "case_heads",
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("changed_at", TIME, nullable=False),
        sa.Column("parked", JSON, nullable=False),
        sa.Column("attention_since", TIME, nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_heads")),
    )
    op.create_index(op.f("ix_case_heads_attention_since"), "case_heads", ["attention_since"], unique=False)
    _backfill()


def _backfill() -> None:
    """The heads of the cases open now, from their stored timelines (the archive has the closed ones)."""
    from domain.case import TimelineEntry
    from store.heads import head_row

    bind = op.get_bind()
    entries = sa.table(
        "timeline_entries",
        sa.column("case_id", sa.Text()),
        sa.column("seq", sa.Integer()),
        sa.column("at", TIME),
        sa.column("event", sa.Text()),
        sa.column("status", sa.Text()),
        sa.column("detail", JSON),
    )
    archive = sa.table("case_archive", sa.column("case_id", sa.Text()))
    heads = sa.table(
        "case_heads",
        sa.column("case_id", sa.Text()),
        sa.column("kind", sa.Text()),
        sa.column("status", sa.Text()),
        sa.column("seq", sa.Integer()),
        sa.column("changed_at", TIME),
        sa.column("parked", JSON),
        sa.column("attention_since", TIME),
    )
    e = entries.c
    open_case = ~sa.exists().where(archive.c.case_id == e.case_id)
    columns = (e.case_id, e.seq, e.at, e.event, e.status, e.detail)
    last = sa.select(e.case_id, sa.func.max(e.seq).label("seq")).group_by(e.case_id).subquery()
    latest = sa.select(*columns).join(last, sa.and_(e.case_id == last.c.case_id, e.seq == last.c.seq))
    repairs = sa.select(*columns).where(
        e.event.in_(("needs_attention", "retry_effect", "resolve_effect", "redecide"))
    )
    by_case: dict[str, dict[int, TimelineEntry]] = {}
    for query in (repairs.where(open_case), latest.where(open_case)):
        for row in bind.execute(query):
            at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(row.at)
            by_case.setdefault(row.case_id, {})[row.seq] = TimelineEntry(
                seq=row.seq,
                at=at if at.tzinfo else at.replace(tzinfo=UTC),
                event=row.event,
                status=row.status,
                detail=row.detail or {},
            )
    rows: list[dict[str, Any]] = [
        head_row(case_id, [found[seq] for seq in sorted(found)]) for case_id, found in by_case.items()
    ]
    for start in range(0, len(rows), 1000):
        bind.execute(heads.insert(), rows[start : start + 1000])


def downgrade() -> None:
    """Undo: case heads"""
    op.drop_index(op.f("ix_case_heads_attention_since"), table_name="case_heads")
    op.drop_table("case_heads")
