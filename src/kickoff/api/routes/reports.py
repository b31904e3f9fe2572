"""Reports over all onboardings of a pipeline: the funnel, time in stage, and the measures the
pipeline declares (record sums and counts, compliance shares)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kickoff.api.deps import ApiKey, Service
from kickoff.api.errors import StrictRoute
from kickoff.api.responses import AUTHENTICATED, UNAVAILABLE, invalid
from kickoff.reports import (
    ComplianceReport,
    FunnelReport,
    RecordsReport,
    StageTimesReport,
    compliance_report,
    funnel,
    records_report,
    stage_times,
)

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


@router.get("/records", response_model=RecordsReport, responses=_ERRORS)
async def records_measures(service: Service, pipeline: PipelineParam) -> RecordsReport:
    """Sums and counts over a pipeline's records, per group, as its reports section declares them."""
    return await records_report(service, pipeline)


@router.get("/compliance", response_model=ComplianceReport, responses=_ERRORS)
async def compliance_measures(service: Service, pipeline: PipelineParam) -> ComplianceReport:
    """The compliance shares a pipeline declares (a recent contact, a stage reached in time), now."""
    return await compliance_report(service, pipeline)
