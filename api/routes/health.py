"""/health: is the API up and can it reach Temporal."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import TemporalClientDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(client: TemporalClientDep) -> JSONResponse:
    """200 when Temporal answers its health check, 503 otherwise."""
    try:
        healthy = await client.service_client.check_health()
    except Exception:
        healthy = False
    body = {"status": "ok" if healthy else "degraded", "temporal": "ok" if healthy else "unreachable"}
    return JSONResponse(body, status_code=200 if healthy else 503)
