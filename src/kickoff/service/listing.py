"""Onboardings across runs, from Temporal visibility (the API's list of onboardings)."""

from __future__ import annotations

import structlog
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from kickoff import search_attributes as sa
from kickoff.pipelines import PipelineCatalog
from kickoff.service.errors import UnprocessableError
from kickoff.service.rows import OnboardingRow
from kickoff.service.runs import status_name

_QUERY_CONCURRENCY = 8
log = structlog.get_logger(__name__)


async def list_onboardings(
    client: Client, catalog: PipelineCatalog, scope: str, pipeline: str | None, stage: str | None, limit: int
) -> list[OnboardingRow]:
    """Each onboarding once, in its latest run, newest first; ``scope`` limits to this deployment."""
    clauses = [scope, "ExecutionStatus != 'ContinuedAsNew'"]
    if pipeline is not None:
        if catalog.get(pipeline) is None:
            raise UnprocessableError(f"unknown pipeline {pipeline!r}")
        clauses.append(f"{sa.PIPELINE.name} = '{pipeline}'")
    if stage is not None:
        stages = {s.id for p in catalog.pipelines.values() for s in p.stages}
        if stage not in stages:
            raise UnprocessableError(f"unknown stage {stage!r} (stages: {', '.join(sorted(stages))})")
        clauses.append(f"{sa.STAGE.name} = '{stage}'")
    # Values are checked against the catalog above, so quoting them is safe.
    latest: dict[str, WorkflowExecution] = {}
    async for execution in client.list_workflows(" AND ".join(clauses), limit=limit):
        current = latest.get(execution.id)
        if current is None or execution.start_time > current.start_time:
            latest[execution.id] = execution
    # A restarted onboarding has an older, closed run: keep it only when no newer run of
    # the same id exists (one more visibility query, not one per run).
    closed = [oid for oid, ex in latest.items() if ex.status != WorkflowExecutionStatus.RUNNING]
    if closed:
        ids = ", ".join(f"'{oid}'" for oid in closed)
        async for newer in client.list_workflows(f"WorkflowId IN ({ids}) AND ExecutionStatus = 'Running'"):
            if newer.start_time > latest[newer.id].start_time:
                latest.pop(newer.id, None)
    return [
        _row(execution) for execution in sorted(latest.values(), key=lambda ex: ex.start_time, reverse=True)
    ]


def _row(execution: WorkflowExecution) -> OnboardingRow:
    attrs = execution.typed_search_attributes
    return OnboardingRow(
        id=execution.id,
        pipeline=attrs.get(sa.PIPELINE),
        pipeline_version=attrs.get(sa.PIPELINE_VERSION),
        stage=attrs.get(sa.STAGE),
        status=status_name(execution.status),
        started_at=execution.start_time,
        run_id=execution.run_id,
    )
