"""Liveness for load balancers and the dev stack."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from kickoff.api.deps import Context
from kickoff.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz(context: Context, response: Response) -> Health:
    """ok when Temporal answers; 503 otherwise."""
    reachable = context.service is not None and await context.service.temporal_ok()
    if not reachable:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="ok" if reachable else "degraded",
        temporal="ok" if reachable else "unreachable",
        pipelines=dict(context.catalog.versions),
    )
