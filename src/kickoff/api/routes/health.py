"""Liveness and readiness for load balancers, orchestrators and the dev stack."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from kickoff.api.deps import Context
from kickoff.api.errors import StrictRoute
from kickoff.api.schemas import Health
from kickoff.health import Readiness, readiness

router = APIRouter(tags=["health"], route_class=StrictRoute)


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Temporal does not answer (degraded)"}},
)
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


# A probe for orchestrators, not part of the API callers program against: kept out of /docs.
@router.get("/readyz", response_model=Readiness, include_in_schema=False)
async def readyz(context: Context, response: Response) -> Readiness:
    """ready when Kickoff's database is reachable at the newest migration and Temporal
    answers; 503 naming the part that is not."""
    checked = await readiness(context.database, context.client)
    if checked.status != "ready":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return checked
