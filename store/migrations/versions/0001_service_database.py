"""The service database: outbox, webhooks, evidence, cases, idempotency keys

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The types as this revision created them (frozen here: store/schema.py may move on).
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """The service database: outbox, webhooks, evidence, cases, idempotency keys"""
    op.create_table(
        "case_archive",
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("closed_at", TIME, nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("idempotency", JSON, nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_archive")),
    )
    op.create_index(op.f("ix_case_archive_order_id"), "case_archive", ["order_id"], unique=False)
    op.create_table(
        "case_snapshots",
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("as_of", TIME, nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_snapshots")),
    )
    op.create_table(
        "dispute_orders",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("dispute_id", sa.Text(), nullable=False),
        sa.Column("buyer_id", sa.Text(), nullable=False),
        sa.Column("seller_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("closed_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_dispute_orders")),
    )
    op.create_table(
        "effects",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("party", sa.Text(), nullable=True),
        sa.Column("party_id", sa.Text(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_effects")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_effects_idempotency_key")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_effects_case_id_seq"), "effects", ["case_id", "seq"], unique=False)
    op.create_index(
        op.f("ix_effects_party_id_category_seq"), "effects", ["party_id", "category", "seq"], unique=False
    )
    op.create_table(
        "evidence",
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("uploaded_by_role", sa.Text(), nullable=False),
        sa.Column("uploaded_by_id", sa.Text(), nullable=False),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_evidence")),
    )
    op.create_index(op.f("ix_evidence_sha256"), "evidence", ["sha256"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("request_line", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", JSON, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "timeline_entries",
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("actor_role", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_timeline_entries")),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("subscription_id", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_webhook_attempts")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_webhook_attempts_event_id"), "webhook_attempts", ["event_id"], unique=False)
    op.create_index(
        op.f("ix_webhook_attempts_subscription_id_seq"),
        "webhook_attempts",
        ["subscription_id", "seq"],
        unique=False,
    )
    op.create_table(
        "webhook_dead_letters",
        sa.Column("delivery_id", sa.Text(), nullable=False),
        sa.Column("subscription_id", sa.Text(), nullable=False),
        sa.Column("event", JSON, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("dead_at", TIME, nullable=False),
        sa.Column("redelivered_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_webhook_dead_letters")),
    )
    op.create_index(
        op.f("ix_webhook_dead_letters_subscription_id_dead_at"),
        "webhook_dead_letters",
        ["subscription_id", "dead_at"],
        unique=False,
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("event_types", JSON, nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_table(
        "inbox_reads",
        sa.Column("seq", SEQ, nullable=False),
        sa.Column("read_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["seq"], ["effects.seq"], name=op.f("fk_inbox_reads_seq_effects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_inbox_reads")),
    )


def downgrade() -> None:
    """Undo: The service database: outbox, webhooks, evidence, cases, idempotency keys"""
    op.drop_table("inbox_reads")
    op.drop_table("webhook_subscriptions")
    op.drop_index(op.f("ix_webhook_dead_letters_subscription_id_dead_at"), table_name="webhook_dead_letters")
    op.drop_table("webhook_dead_letters")
    op.drop_index(op.f("ix_webhook_attempts_subscription_id_seq"), table_name="webhook_attempts")
    op.drop_index(op.f("ix_webhook_attempts_event_id"), table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_table("timeline_entries")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_evidence_sha256"), table_name="evidence")
    op.drop_table("evidence")
    op.drop_index(op.f("ix_effects_party_id_category_seq"), table_name="effects")
    op.drop_index(op.f("ix_effects_case_id_seq"), table_name="effects")
    op.drop_table("effects")
    op.drop_table("dispute_orders")
    op.drop_table("case_snapshots")
    op.drop_index(op.f("ix_case_archive_order_id"), table_name="case_archive")
    op.drop_table("case_archive")
