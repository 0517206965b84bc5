"""Dependencies the routes declare: settings, the Temporal client, the service database, the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from core.settings import Settings, get_settings
from store.outbox import Outbox


def _client(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def now() -> datetime:
    """The current time of a request (tests override it to move a clock without waiting)."""
    return datetime.now(UTC)


def _outbox(engine: Annotated[AsyncEngine, Depends(_engine)]) -> Outbox:
    return Outbox(engine)


SettingsDep = Annotated[Settings, Depends(get_settings)]
TemporalClientDep = Annotated[Client, Depends(_client)]
EngineDep = Annotated[AsyncEngine, Depends(_engine)]
OutboxDep = Annotated[Outbox, Depends(_outbox)]
NowDep = Annotated[datetime, Depends(now)]
