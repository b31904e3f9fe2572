"""Moving running onboardings to a newer pipeline version, across runs: which runs are on which
version (visibility), what adopting would change for each (its state and snapshot, asked of the
run; ``kickoff.engine.migration`` judges), and the ``migrate_pipeline`` update for the chosen ones.

Shared by ``POST /pipelines/{id}/migrate``, the board's Pipelines page and ``kickoff-admin
pipeline-impact``. Every value put into a visibility query is checked against a strict pattern
first, so quoting it is safe.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Literal, TypeVar

import structlog
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from kickoff import search_attributes as sa
from kickoff.domain import MigrateInput, OnboardingState
from kickoff.engine.migration import Documented, Impact, impact
from kickoff.pipelines import Pipeline, PipelineCatalog
from kickoff.service.errors import (
    ConflictError,
    NotFoundError,
    UnavailableError,
    UnprocessableError,
)
from kickoff.service.runs import QUERY_TIMEOUT, query_state, run_update
from kickoff.workflows.onboarding import OnboardingWorkflow

log = structlog.get_logger(__name__)
T = TypeVar("T")

CONCURRENCY = 8
"""Runs asked (queried, updated) at the same time."""
MAX_VERSIONS = 50
"""At most this many distinct versions in use are counted per pipeline."""
VERSION = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
STAGE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
ONBOARDING = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,80}$")

Outcome = Literal["can_adopt", "cannot_adopt", "migrated", "refused", "failed"]
"""A dry run answers ``can_adopt`` or ``cannot_adopt``; a migration ``migrated``, ``refused`` (the
run's validator said why) or ``failed`` (no answer, nothing known to have changed)."""


class MigrationResult(Documented):
    """One running onboarding: what adopting the new version changes, and what became of it."""

    onboarding_id: str
    stage: str | None = None
    from_version: str | None = None
    outcome: Outcome
    reason: str | None = None
    """Why it cannot adopt, was refused or failed."""
    impact: Impact | None = None
    """None when the run could not be asked (``failed``)."""


class VersionCount(Documented):
    """How many running onboardings of a pipeline follow one version."""

    version: str
    count: int
    current: bool = False


@dataclass(frozen=True)
class Running:
    """A running onboarding as visibility lists it."""

    id: str
    version: str | None
    stage: str | None


def _checked(pattern: re.Pattern[str], values: Iterable[str], what: str) -> list[str]:
    checked = list(values)
    for value in checked:
        if not pattern.match(value):
            raise UnprocessableError(f"{what} {value!r} is not one (letters, digits, '-' and '_')")
    return checked


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def running_query(
    scope: str,
    pipeline: str,
    *,
    version: str | None = None,
    not_version: str | None = None,
    stages: Sequence[str] | None = None,
    onboardings: Sequence[str] | None = None,
) -> str:
    """The visibility query for this deployment's running onboardings of ``pipeline`` (on
    ``version``, or on any but ``not_version``, in ``stages``, among ``onboardings``, as far as
    given)."""
    [pipeline] = _checked(STAGE, [pipeline], "pipeline id")
    clauses = [scope, f"{sa.PIPELINE.name} = '{pipeline}'", "ExecutionStatus = 'Running'"]
    if version is not None:
        [version] = _checked(VERSION, [version], "version")
        clauses.append(f"{sa.PIPELINE_VERSION.name} = '{version}'")
    if not_version is not None:
        [not_version] = _checked(VERSION, [not_version], "version")
        clauses.append(f"{sa.PIPELINE_VERSION.name} != '{not_version}'")
    if stages:
        clauses.append(f"{sa.STAGE.name} IN ({_quoted(_checked(STAGE, stages, 'stage id'))})")
    if onboardings:
        clauses.append(f"WorkflowId IN ({_quoted(_checked(ONBOARDING, onboardings, 'onboarding id'))})")
    return " AND ".join(clauses)


async def running(client: Client, query: str) -> list[Running]:
    """The running onboardings ``query`` (see ``running_query``) lists, in id order."""
    found: dict[str, Running] = {}
    async for execution in client.list_workflows(query):
        attributes = execution.typed_search_attributes
        found[execution.id] = Running(
            execution.id, attributes.get(sa.PIPELINE_VERSION), attributes.get(sa.STAGE)
        )
    return [found[oid] for oid in sorted(found)]


async def versions_in_use(client: Client, scope: str, pipeline: str, current: str) -> list[VersionCount]:
    """The versions this deployment's running onboardings of ``pipeline`` follow, with one
    visibility count each, the ``current`` one first (0 when none follows it yet).

    Visibility groups counts by built-in fields only, so the versions are found one at a time:
    any running onboarding on a version not yet counted, then the count of that version."""
    base = running_query(scope, pipeline)
    counts = [VersionCount(version=current, count=await _count(client, base, current), current=True)]
    while len(counts) < MAX_VERSIONS:
        known = _quoted(_checked(VERSION, (c.version for c in counts), "version"))
        query = f"{base} AND {sa.PIPELINE_VERSION.name} NOT IN ({known})"
        other = [execution async for execution in client.list_workflows(query, limit=1)]
        version = other[0].typed_search_attributes.get(sa.PIPELINE_VERSION) if other else None
        if version is None or not VERSION.match(version):
            break
        counts.append(VersionCount(version=version, count=await _count(client, base, version)))
    return [counts[0], *sorted(counts[1:], key=lambda c: (-c.count, c.version))]


async def _count(client: Client, base: str, version: str) -> int:
    counted = await client.count_workflows(f"{base} AND {sa.PIPELINE_VERSION.name} = '{version}'")
    return counted.count


def stage_counts(runs: Iterable[Running]) -> Counter[tuple[str, str]]:
    """How many of ``runs`` are in each (version, stage)."""
    return Counter((run.version or "?", run.stage or "?") for run in runs)


# ---------------------------------------------------------------- asking the runs


async def state_and_snapshot(client: Client, oid: str) -> tuple[OnboardingState, Pipeline]:
    """A running onboarding's state and the pipeline snapshot it follows (UnavailableError when
    no worker answers)."""
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, oid)
    state = await query_state(handle)
    try:
        snapshot: Pipeline = await handle.query(OnboardingWorkflow.pipeline, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError) as err:
        log.warning("migration.query_failed", onboarding_id=oid, error=type(err).__name__)
        raise UnavailableError(f"onboarding {oid}: no worker answered; try again shortly") from None
    return state, snapshot


async def assess(
    client: Client, run: Running, new: Pipeline, new_version: str, now: datetime
) -> MigrationResult:
    """A dry run for one onboarding: what adopting ``new`` would change, and whether it can."""
    try:
        state, snapshot = await state_and_snapshot(client, run.id)
    except UnavailableError as err:
        return MigrationResult(
            onboarding_id=run.id, stage=run.stage, from_version=run.version, outcome="failed", reason=str(err)
        )
    found = impact(state, snapshot, new, new_version, now)
    return MigrationResult(
        onboarding_id=run.id,
        stage=state.stage,
        from_version=state.pipeline_version,
        outcome="can_adopt" if found.can_adopt else "cannot_adopt",
        reason="; ".join(found.refusals) or None,
        impact=found,
    )


async def migrate(
    client: Client, run: Running, new: Pipeline, new_version: str, now: datetime, by: str
) -> MigrationResult:
    """Move one onboarding to ``new`` through its ``migrate_pipeline`` update (its validator has
    the last word); the impact measured just before comes with the answer."""
    assessed = await assess(client, run, new, new_version, now)
    if assessed.outcome == "failed":
        return assessed
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, run.id)
    change = MigrateInput(pipeline=new, pipeline_version=new_version, by=by)
    try:
        await run_update(client, handle, OnboardingWorkflow.migrate_pipeline, change)
    except (ConflictError, NotFoundError, UnprocessableError) as err:
        return assessed.model_copy(update={"outcome": "refused", "reason": str(err)})
    except (UnavailableError, RPCError) as err:
        reason = str(err) if isinstance(err, UnavailableError) else f"Temporal answered {err.status.name}"
        return assessed.model_copy(update={"outcome": "failed", "reason": reason})
    return assessed.model_copy(update={"outcome": "migrated", "reason": None})


async def each(runs: Sequence[Running], ask: Callable[[Running], Awaitable[T]]) -> list[T]:
    """``ask`` for every run, CONCURRENCY at a time, answers in the runs' order."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(run: Running) -> T:
        async with gate:
            return await ask(run)

    return list(await asyncio.gather(*(one(run) for run in runs)))


# ---------------------------------------------------------------- one request


class MigrationReport(Documented):
    """A dry run or a migration of a pipeline's running onboardings on one version."""

    pipeline: str
    from_version: str
    to_version: str
    dry_run: bool
    results: list[MigrationResult]
    """One per running onboarding selected, in id order."""
    counts: dict[str, int]
    """How many results had each outcome."""


async def move(
    client: Client,
    scope: str,
    catalog: PipelineCatalog,
    pipeline_id: str,
    *,
    from_version: str,
    to_version: str | None,
    stages: Sequence[str] | None = None,
    onboardings: Sequence[str] | None = None,
    dry_run: bool,
    by: str,
    now: datetime,
) -> MigrationReport:
    """Assess (``dry_run``) or migrate the running onboardings of ``pipeline_id`` on
    ``from_version`` (only those in ``stages``, or among ``onboardings``, when given) to
    ``to_version``, which must be the version this deployment's catalog has now (None: that one)."""
    new = catalog.get(pipeline_id)
    if new is None:
        raise NotFoundError(f"no pipeline {pipeline_id!r} (pipelines: {', '.join(catalog.pipelines)})")
    current = catalog.version(pipeline_id)
    if to_version is not None and to_version != current:
        raise ConflictError(
            f"to_version {to_version} is not the current version of {pipeline_id}: the current "
            f"version is {current}, and running onboardings can only move to it"
        )
    if from_version == current:
        raise UnprocessableError(f"from_version and to_version are both {current}: nothing would move")
    query = running_query(scope, pipeline_id, version=from_version, stages=stages, onboardings=onboardings)
    runs = await running(client, query)

    async def one(run: Running) -> MigrationResult:
        if dry_run:
            return await assess(client, run, new, current, now)
        return await migrate(client, run, new, current, now, by)

    results = await each(runs, one)
    return MigrationReport(
        pipeline=pipeline_id,
        from_version=from_version,
        to_version=current,
        dry_run=dry_run,
        results=results,
        counts=dict(Counter(result.outcome for result in results)),
    )


class PipelineImpact(Documented):
    """For one pipeline of a pipelines file: its running onboardings on another version than the
    file's, and what adopting the file's version would change for each (``kickoff-admin
    pipeline-impact``)."""

    pipeline: str
    to_version: str
    """The version the file gives the pipeline."""
    results: list[MigrationResult]
    """One per running onboarding on another version, by version, stage and id."""


async def impacts_of(
    client: Client, scope: str, catalog: PipelineCatalog, now: datetime
) -> list[PipelineImpact]:
    """A dry run of a whole pipelines file: nothing is changed."""
    found: list[PipelineImpact] = []
    for pipeline_id, pipeline in catalog.pipelines.items():
        version = catalog.version(pipeline_id)
        runs = await running(client, running_query(scope, pipeline_id, not_version=version))
        runs.sort(key=lambda run: (run.version or "", run.stage or "", run.id))
        results = await each(runs, partial(assess, client, new=pipeline, new_version=version, now=now))
        found.append(PipelineImpact(pipeline=pipeline_id, to_version=version, results=results))
    return found
