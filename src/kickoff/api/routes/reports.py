"""Reports over all onboardings of a pipeline: the funnel and time in stage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kickoff.api.deps import ApiKey, Service
from kickoff.api.errors import StrictRoute
from kickoff.api.responses import AUTHENTICATED, UNAVAILABLE, invalid
from kickoff.reports import FunnelReport, StageTimesReport, funnel, stage_times

router = APIRouter(
    prefix="/reports",
    tags=["reports"],
    dependencies=[ApiKey],
    responses={**AUTHENTICATED, **UNAVAILABLE},
    route_class=StrictRoute,
)

PipelineParam = Annotated[str, Query(description="A pipeline id from pipelines.yaml", examples=["assist-se"])]
_ERRORS = invalid("No pipeline given, or an unknown one (the known ones are listed)")


@router.get("/funnel", response_model=FunnelReport, responses=_ERRORS)
async def funnel_report(service: Service, pipeline: PipelineParam) -> FunnelReport:
    """Onboardings per stage of a pipeline, in stage order, from Temporal visibility."""
    return await funnel(service, pipeline)


@router.get("/stage-times", response_model=StageTimesReport, responses=_ERRORS)
async def stage_times_report(service: Service, pipeline: PipelineParam) -> StageTimesReport:
    """Median and 90th-percentile hours in each stage, and the share closed within 30 days."""
    return await stage_times(service, pipeline)
