"""Builds the FastAPI app; the Temporal client lives for the app's lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from temporalio.client import Client

from api import auth, problems
from api.routes import care, disputes, events, evidence, health, inbox, tickets, webhooks
from core.settings import Settings, get_settings
from core.temporal import connect


def create_app(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    """The API; tests pass their own settings and an already connected client."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.temporal = client or await connect()
        yield
        app.state.temporal = None
        gc.collect()  # sdk-python#300: release native client resources before interpreter exit

    app = FastAPI(
        title="Marketplace disputes",
        version="1",
        summary="Disputes (Pusat Resolusi) between buyers and sellers, mediated by care, on Temporal.",
        lifespan=lifespan,
    )
    if settings is not None:
        app.dependency_overrides[get_settings] = lambda: settings
    problems.install(app)
    app.include_router(health.router)
    for router in (
        disputes.router,
        tickets.router,
        inbox.router,
        care.router,
        webhooks.router,
        evidence.router,
        events.router,
    ):
        app.include_router(router, dependencies=[Depends(auth.caller)])
    return app


app = create_app()
