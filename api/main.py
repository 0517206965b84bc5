"""Builds the FastAPI app; the Temporal client lives for the app's lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api import observability, openapi, problems
from api.limits import BodyGuard, install_rate_limit, plain_parameters, rate_limited
from api.routes import (
    care,
    care_macros,
    care_notes,
    care_stats,
    case_events,
    codec,
    disputes,
    events,
    evidence,
    health,
    help,
    inbox,
    tickets,
    webhooks,
)
from core.observability import configure_logging, setup_tracing, tracing_on
from core.settings import Settings, get_settings
from store.db import open_engine
from wiring.temporal import connect


def create_app(
    settings: Settings | None = None, client: Client | None = None, engine: AsyncEngine | None = None
) -> FastAPI:
    """The API; tests pass their own settings, an already connected client, and may share the
    service database's engine with their worker."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if client is None:  # a deployed API owns its process's telemetry; tests set up their own
            configure_logging(settings or get_settings()).addFilter(observability.RequestContext())
        app.state.temporal = client or await connect(settings=settings or get_settings())
        app.state.engine = engine or await open_engine(settings or get_settings())
        try:
            async with help.gauges(settings or get_settings(), app.state.engine):
                yield
        finally:
            if engine is None:
                await app.state.engine.dispose()
            app.state.engine = app.state.temporal = None
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
    help.install(app)
    openapi.install(app)
    limits = settings or get_settings()
    app.add_middleware(BodyGuard, max_bytes=limits.max_body_bytes, max_depth=limits.max_json_depth)
    install_rate_limit(app, settings or get_settings())
    observability.install(app)
    if client is None:
        setup_tracing(settings or get_settings())
    if tracing_on():
        FastAPIInstrumentor.instrument_app(app, excluded_urls="health,metrics")
    app.include_router(health.router)  # /health and /metrics: no key, no rate limit
    app.include_router(codec.router, responses=problems.PROBLEM_RESPONSES)  # admin key or the local UI
    for router in (
        disputes.router(),
        tickets.router(),
        inbox.router,
        care.router,
        care_notes.router(),
        care_macros.router,
        care_macros.case_router(),
        care_stats.router,
        webhooks.router,
        evidence.router,
        events.router,
        case_events.router,
        help.router,
    ):
        app.include_router(
            router,
            # rate_limited authenticates first (401), limiting requests without a valid key by address
            dependencies=[Depends(rate_limited), Depends(plain_parameters)],
            responses=problems.PROBLEM_RESPONSES,
        )
    return app


app = create_app()
