"""The one AsyncEngine of a process: built from the settings, prepared, disposed on shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.settings import Settings
from store import migrate
from store.files import private_file, private_folder, sqlite_file


def create_engine(url: str, *, timeout: timedelta = timedelta(seconds=30), pool_size: int = 5) -> AsyncEngine:
    """An AsyncEngine for ``url``. SQLite gets WAL (readers never wait for the writer), a busy
    timeout (writers of several processes queue instead of failing) and enforced foreign keys."""
    seconds = timeout.total_seconds()
    pooled = {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        "pool_timeout": seconds,
        "pool_pre_ping": True,
    }
    options: dict[str, Any]
    path = sqlite_file(url)
    if make_url(url).get_backend_name() == "sqlite":
        options = {"connect_args": {"timeout": seconds}}
        if path is not None:  # in-memory databases get one static connection instead of a pool
            private_file(path)
            options |= pooled
    else:
        options = pooled | {"pool_recycle": 1800, "connect_args": {"connect_timeout": max(1, int(seconds))}}
    engine = create_async_engine(url, **options)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in (
                "journal_mode=WAL",
                f"busy_timeout={int(seconds * 1000)}",
                "foreign_keys=ON",
                "synchronous=NORMAL",  # durable across process crashes; WAL makes it safe
            ):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

    return engine


async def open_engine(settings: Settings) -> AsyncEngine:
    """The process's engine for the service database. The embedded SQLite default migrates itself
    here; any other database must have been migrated already (``python -m store.migrate``)."""
    url = settings.store_url
    if sqlite_file(url) is not None and settings.database_url is None:
        private_folder(settings.data_dir)
    if make_url(url).get_backend_name() == "sqlite":
        await asyncio.to_thread(migrate.migrate, url)
    engine = create_engine(url, timeout=settings.database_timeout, pool_size=settings.database_pool_size)
    try:
        await migrate.require_current(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """``open_engine`` for the length of a ``with`` block, disposed (connections closed) at its end."""
    engine = await open_engine(settings)
    try:
        yield engine
    finally:
        await engine.dispose()


def insert(engine: AsyncEngine, table: sa.Table) -> Any:
    """An INSERT that understands ON CONFLICT on this engine (SQLite and PostgreSQL spell it alike)."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
