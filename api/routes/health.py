"""/health: is the API up, and can it reach Temporal and the service database."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import EngineDep, TemporalClientDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(client: TemporalClientDep, engine: EngineDep) -> JSONResponse:
    """200 when Temporal answers its health check and the database a query, 503 otherwise."""
    try:
        temporal = await client.service_client.check_health()
    except Exception:
        temporal = False
    try:
        async with engine.connect() as connection:
            database = (await connection.execute(sa.select(1))).scalar() == 1
    except Exception:
        database = False
    body = {
        "status": "ok" if temporal and database else "degraded",
        "temporal": "ok" if temporal else "unreachable",
        "database": "ok" if database else "unreachable",
    }
    return JSONResponse(body, status_code=200 if temporal and database else 503)
