"""The funnel (onboardings per stage) and time in stage (median, 90th percentile).

Both reports count each onboarding once, in its latest run (the read model keeps one row per
onboarding, the newest run's). Only onboardings whose latest run is running or completed are
counted; one that ops terminated (or that failed or timed out) is in no stage.

The computations are pure functions over stage counts and visits; ``funnel`` counts stages in
the read model, and ``stage_times`` has the database aggregate the same figures
(``kickoff.db.stage_times``, held to ``stage_times_of`` by a property test): a few rows per
stage come back, whatever the number of onboardings.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from kickoff.db.stage_times import goal_figures, stage_figures
from kickoff.domain import StageVisit
from kickoff.pipelines import Pipeline
from kickoff.service import OnboardingService, UnprocessableError
from kickoff.service.read_views import database_answers, store_of

R = TypeVar("R")

GOAL_WINDOW = timedelta(days=30)
"""How soon after its first stage visit an onboarding must reach a goal stage to count as quick."""


class StageCount(BaseModel):
    stage: str
    label: str
    count: int


class FunnelReport(BaseModel):
    pipeline: str
    stages: list[StageCount]
    """In the pipeline's stage order."""
    total: int


class StageTime(BaseModel):
    stage: str
    label: str
    visits: int
    """Finished visits the figures are computed over."""
    median_hours: float | None
    p90_hours: float | None


class StageTimesReport(BaseModel):
    pipeline: str
    stages: list[StageTime]
    onboardings: int
    goal_stages: list[str]
    closed_within_30_days: float | None
    """Share (0..1) of onboardings that reached a goal stage within 30 days of their start."""
    closed_within_30_days_of: int = 0
    """The onboardings that share is over: those that reached a goal stage within 30 days of their
    first visit, and those whose 30 days have passed without (younger ones are still undecided)."""
    unreadable: int = Field(default=0, ge=0)
    """Onboardings left out because their state could not be read. Kept for clients of the API:
    since the report reads the read model (no run is asked) it is always 0."""


# ---------------------------------------------------------------- pure computations


def funnel_of(pipeline: Pipeline, stages: Iterable[str | None] | Mapping[str, int]) -> FunnelReport:
    """Onboardings per stage, in the pipeline's order, from each onboarding's current stage (or
    from counts per stage).

    A stage the pipeline no longer declares (a run on an older snapshot) is counted nowhere.
    """
    counts: Mapping[Any, int] = stages if isinstance(stages, Mapping) else Counter(stages)
    rows = [StageCount(stage=s.id, label=s.label, count=counts.get(s.id, 0)) for s in pipeline.stages]
    return FunnelReport(pipeline=pipeline.id, stages=rows, total=sum(row.count for row in rows))


def percentile(values: Sequence[float], percent: int) -> float | None:
    """The nearest-rank percentile: the smallest value that at least ``percent`` % of the values
    do not exceed, i.e. ``sorted(values)[ceil(percent / 100 * n) - 1]`` (the smallest for 0).

    Every figure is a time some visit really took, never an interpolation between two; the median
    (``percent=50``) of an even number of values is therefore the lower middle one. None when
    there are no values.
    """
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be within 0..100, not {percent}")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-percent * len(ordered) // 100))  # ceil in integers: no float rounding
    return ordered[rank - 1]


def finished_hours(visit_lists: Iterable[Sequence[StageVisit]]) -> dict[str, list[float]]:
    """Hours spent in each finished visit (``left_at`` set), by stage; open visits are left out."""
    hours: dict[str, list[float]] = {}
    for visits in visit_lists:
        for visit in visits:
            if visit.left_at is not None:
                spent = (visit.left_at - visit.entered_at).total_seconds() / 3600
                hours.setdefault(visit.stage, []).append(spent)
    return hours


def reached_goal_within(
    visits: Sequence[StageVisit],
    goal_stages: Iterable[str],
    window: timedelta = GOAL_WINDOW,
    start: datetime | None = None,
) -> bool:
    """Whether a goal stage was entered within ``window`` of ``start`` (default: the first
    visit's ``entered_at``)."""
    if not visits:
        return False
    start = start or visits[0].entered_at
    goals = set(goal_stages)
    return any(v.stage in goals and v.entered_at - start <= window for v in visits)


def goal_share(
    visit_lists: Iterable[Sequence[StageVisit]],
    goal_stages: Iterable[str],
    now: datetime,
    window: timedelta = GOAL_WINDOW,
    starts: Sequence[datetime | None] | None = None,
) -> tuple[float | None, int]:
    """The share of onboardings that reached a goal stage within ``window`` of their first visit,
    and how many onboardings it is over.

    Only decided onboardings count: one that reached a goal in time, or one whose window has
    passed (``now`` later than first visit + ``window``). One still inside its window has not
    failed yet, and one without visits cannot be judged; both are left out. The share is None
    when no onboarding is decided.
    """
    goals = tuple(goal_stages)
    quick = decided = 0
    for index, visits in enumerate(visit_lists):
        if not visits:
            continue
        start = (starts[index] if starts is not None else None) or visits[0].entered_at
        if reached_goal_within(visits, goals, window, start):
            quick += 1
            decided += 1
        elif now - start > window:
            decided += 1
    return (quick / decided if decided else None), decided


def stage_times_of(
    pipeline: Pipeline,
    visit_lists: Sequence[Sequence[StageVisit]],
    now: datetime,
    unreadable: int = 0,
    starts: Sequence[datetime | None] | None = None,
) -> StageTimesReport:
    """Median and 90th percentile (nearest rank, see ``percentile``) of the hours spent in each
    finished visit of each stage, and the share of onboardings that reached a goal stage within
    30 days (see ``goal_share``). ``visit_lists`` holds one list of visits per onboarding."""
    hours = finished_hours(visit_lists)
    stages = []
    for stage in pipeline.stages:
        spent = hours.get(stage.id, [])
        stages.append(
            StageTime(
                stage=stage.id,
                label=stage.label,
                visits=len(spent),
                median_hours=percentile(spent, 50),
                p90_hours=percentile(spent, 90),
            )
        )
    goals = [stage.id for stage in pipeline.stages if stage.goal]
    share, decided = goal_share(visit_lists, goals, now, starts=starts)
    return StageTimesReport(
        pipeline=pipeline.id,
        stages=stages,
        onboardings=len(visit_lists),
        goal_stages=goals,
        closed_within_30_days=share,
        closed_within_30_days_of=decided,
        unreadable=unreadable,
    )


# ---------------------------------------------------------------- reading Temporal


def _pipeline(service: OnboardingService, pipeline_id: str) -> Pipeline:
    pipeline = service.catalog.get(pipeline_id)
    if pipeline is None:
        known = ", ".join(sorted(service.catalog.pipelines))
        raise UnprocessableError(f"unknown pipeline {pipeline_id!r} (known: {known})")
    return pipeline


async def _cached(
    service: OnboardingService, kind: str, pipeline: str, compute: Callable[[], Coroutine[Any, Any, R]]
) -> R:
    """``compute()``, reused for ``service.report_cache_seconds``: every board view and report
    call would otherwise list and read every onboarding again. Concurrent callers share one
    computation; a failed one is not kept."""
    loop = asyncio.get_running_loop()
    key = (kind, pipeline)
    cached = service.report_cache.get(key)
    if cached is None or loop.time() - cached[0] >= service.report_cache_seconds:
        cached = (loop.time(), loop.create_task(compute()))
        service.report_cache[key] = cached
    try:
        result: R = await asyncio.shield(cached[1])
    except BaseException:
        if service.report_cache.get(key) is cached:
            del service.report_cache[key]
        raise
    return result


async def funnel(service: OnboardingService, pipeline: str) -> FunnelReport:
    """Onboardings of ``pipeline`` per stage (its ``KickoffStage`` search attribute), in stage order.

    Raises UnprocessableError (422) for a pipeline the catalog does not know.
    """
    spec = _pipeline(service, pipeline)

    async def compute() -> FunnelReport:
        async with database_answers():
            return funnel_of(spec, await store_of(service).stage_counts(spec.id))

    return await _cached(service, "funnel", spec.id, compute)


async def stage_times(service: OnboardingService, pipeline: str) -> StageTimesReport:
    """Time in stage (see ``_stage_times``), reused for ``report_cache_seconds``."""
    spec = _pipeline(service, pipeline)
    return await _cached(service, "stage_times", spec.id, lambda: _stage_times(service, spec))


async def _stage_times(service: OnboardingService, spec: Pipeline) -> StageTimesReport:
    """Time in stage over the finished visits of every onboarding of ``pipeline``, aggregated by
    the database (``kickoff.db.stage_times``): the figures ``stage_times_of`` computes, from each
    onboarding's visits over all its cycles and when its onboarding could begin (the delivery
    start's local midnight, or its first visit if later), so waiting for a delivery start weeks
    ahead does not count against the 30 days."""
    database = store_of(service).database
    goals = [stage.id for stage in spec.stages if stage.goal]
    async with database_answers():
        figures, decided = await asyncio.gather(
            stage_figures(database, spec.id),
            goal_figures(database, spec.id, goals, datetime.now(UTC), GOAL_WINDOW),
        )
    stages = []
    for stage in spec.stages:
        found = figures.get(stage.id)
        stages.append(
            StageTime(
                stage=stage.id,
                label=stage.label,
                visits=found.visits if found else 0,
                median_hours=_hours(found.median) if found else None,
                p90_hours=_hours(found.p90) if found else None,
            )
        )
    return StageTimesReport(
        pipeline=spec.id,
        stages=stages,
        onboardings=decided.onboardings,
        goal_stages=goals,
        closed_within_30_days=decided.quick / decided.decided if decided.decided else None,
        closed_within_30_days_of=decided.decided,
    )


def _hours(spent: timedelta) -> float:
    """As ``finished_hours`` computes them, to the last bit."""
    return spent.total_seconds() / 3600
