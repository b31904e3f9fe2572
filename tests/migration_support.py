"""Pipeline versions for the migration tests: pipelines.yaml with a few words changed, as a
process owner's edit would change them, each with the version hash the loader gives it."""

from __future__ import annotations

from functools import cache
from typing import Any

from temporalio.client import Client, WorkflowHandle

from kickoff.domain import Contract, OnboardingInput, onboarding_id
from kickoff.pipelines import Pipeline, parse_pipelines
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.support import PIPELINES_FILE, STARTED_RUNS, catalog

TYPO = "Vi har ännu inte hitat någon bokad tid"
FIXED = "Vi har ännu inte hittat någon bokad tid"
"""assist-se's booking reminder before and after the fix (the deployed file has the fix)."""

Snapshot = tuple[Pipeline, str]


@cache
def variant(pipeline: str, *edits: tuple[str, str]) -> Snapshot:
    """``pipeline`` from pipelines.yaml with each ``(old, new)`` text replaced once (it must be
    there), and its version."""
    text = PIPELINES_FILE.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    edited = parse_pipelines(text)
    return edited.pipelines[pipeline], edited.version(pipeline)


@cache
def current(pipeline: str = "assist-se") -> Snapshot:
    """The pipeline as deployed (pipelines.yaml unchanged)."""
    deployed = catalog()
    return deployed.pipelines[pipeline], deployed.version(pipeline)


def typo() -> Snapshot:
    """assist-se as it was before its booking reminder was fixed."""
    return variant("assist-se", (FIXED, TYPO))


async def start_on(
    client: Client, queue: str, contract: Contract, snapshot: Snapshot, started: list[str] = STARTED_RUNS
) -> WorkflowHandle[Any, Any]:
    """A run of ``contract`` started on ``snapshot`` (a version other than the deployed one); its
    id goes to ``started`` (by default the time-skipping tests' runs to end)."""
    pipeline, version = snapshot
    oid = onboarding_id(pipeline.id_prefix, contract.contract_id)
    started.append(oid)
    return await client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(onboarding_id=oid, contract=contract, pipeline=pipeline, pipeline_version=version),
        id=oid,
        task_queue=queue,
    )
