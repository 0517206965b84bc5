"""Dependencies the routes declare: settings, the Temporal client, the outbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from activities.outbox import Outbox
from core.settings import Settings, get_settings


def _client(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def _outbox(settings: Annotated[Settings, Depends(get_settings)]) -> Outbox:
    return Outbox(settings.outbox_path)


SettingsDep = Annotated[Settings, Depends(get_settings)]
TemporalClientDep = Annotated[Client, Depends(_client)]
OutboxDep = Annotated[Outbox, Depends(_outbox)]
