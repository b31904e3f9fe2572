"""The pipeline definitions as this API process validated them, with their version hashes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kickoff.api.deps import ApiKey, Context
from kickoff.api.errors import StrictRoute
from kickoff.api.responses import AUTHENTICATED, not_found
from kickoff.api.schemas import PipelineSummary
from kickoff.service import NotFoundError

router = APIRouter(
    prefix="/pipelines",
    tags=["pipelines"],
    dependencies=[ApiKey],
    responses=AUTHENTICATED,
    route_class=StrictRoute,
)


@router.get("", response_model=list[PipelineSummary])
async def list_pipelines(context: Context) -> list[PipelineSummary]:
    """Every pipeline in pipelines.yaml: stages, events, checklists and modules at a glance."""
    catalog = context.catalog
    return [
        PipelineSummary(
            id=pipeline.id,
            name=pipeline.name,
            version=catalog.version(pipeline.id),
            id_prefix=pipeline.id_prefix,
            timezone=pipeline.timezone,
            languages=list(pipeline.languages),
            stages=[{"id": stage.id, "label": stage.label} for stage in pipeline.stages],
            events=list(pipeline.events),
            checklists=list(pipeline.checklists),
            modules=list(pipeline.modules),
        )
        for pipeline in catalog.pipelines.values()
    ]


@router.get("/{pipeline_id}", responses=not_found("No such pipeline (the known ones are listed)"))
async def get_pipeline(pipeline_id: str, context: Context) -> dict[str, Any]:
    """One pipeline's full definition (its calendar with the closed days it computed) and version."""
    pipeline = context.catalog.get(pipeline_id)
    if pipeline is None:
        known = ", ".join(context.catalog.pipelines)
        raise NotFoundError(f"no pipeline {pipeline_id!r} (pipelines: {known})")
    return {
        "version": context.catalog.version(pipeline_id),
        **pipeline.model_dump(mode="json", by_alias=True),
    }
