"""Webhooks: secret rotation with an overlap, subscription health (failing, disabled), owner index

Revision ID: 0002_webhooks
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_webhooks"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Webhooks: secret rotation with an overlap, subscription health (failing, disabled), owner index"""
    op.create_table(
        "webhook_subscription_health",
        sa.Column("subscription_id", sa.Text(), nullable=False),
        sa.Column("failing_since", TIME, nullable=True),
        sa.Column("disabled_at", TIME, nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_webhook_subscription_health")),
    )
    # Adding nullable columns and an index needs no table copy, on SQLite either.
    op.add_column("webhook_subscriptions", sa.Column("previous_secret", sa.Text(), nullable=True))
    op.add_column("webhook_subscriptions", sa.Column("previous_secret_until", TIME, nullable=True))
    op.create_index(
        op.f("ix_webhook_subscriptions_created_by"), "webhook_subscriptions", ["created_by"], unique=False
    )


def downgrade() -> None:
    """Undo: Webhooks: secret rotation with an overlap, subscription health, owner index"""
    op.drop_index(op.f("ix_webhook_subscriptions_created_by"), table_name="webhook_subscriptions")
    with op.batch_alter_table("webhook_subscriptions") as batch:  # SQLite drops columns by copying
        batch.drop_column("previous_secret_until")
        batch.drop_column("previous_secret")
    op.drop_table("webhook_subscription_health")
