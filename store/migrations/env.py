"""Alembic's entry point for the service database, run by ``store.migrate`` on an async engine."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from store.migrate import MIGRATION_LOCK
from store.schema import UTCDateTime, metadata


def render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    """Write the project's column types as plain SQLAlchemy ones in new revisions."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Leave the Help Center's search indexes out of the comparison with store/schema.py:
    migration 0003 makes them (SQLite's FTS5 table with its shadow tables, PostgreSQL's GIN
    expression index), and no metadata describes them."""
    if type_ == "table" and name is not None and name.startswith("help_fts"):
        return False
    return not (type_ == "index" and name == "ix_help_articles_search")


def run_migrations(connection: Connection) -> None:
    """Apply the pending revisions on ``connection``, one migrator at a time."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        render_item=render_item,
        include_name=include_name,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several hosts may run the migration step at once: the second waits here, then
            # finds the version table at head and does nothing.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def run_online() -> None:
    """Connect with the URL that ``store.migrate`` put in the config, and migrate."""
    url = context.config.attributes["url"]
    connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
    engine = create_async_engine(url, poolclass=pool.NullPool, connect_args=connect_args)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: run python -m store.migrate")
asyncio.run(run_online())
