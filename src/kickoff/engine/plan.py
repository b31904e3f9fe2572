"""Planning: which steps a run still owes, from which anchor, and when each is due.

Pure functions of a run's state, its pipeline snapshot and a clock passed in:
the workflow asks them what to sleep until, the unit tests ask them the same
questions without a Temporal server.

A step's ``if:`` does not change its plan: the step stays pending (and is what the run
sleeps until) whatever its condition says now, because what it looks at (a checklist, the
time in the stage, records) may change before its moment. ``Run.fire`` evaluates it then,
and skips the step if it does not hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import cache

from kickoff.domain import OnboardingState
from kickoff.pipelines.model import Deadline, Due, Moment, Pipeline, Step
from kickoff.schedule import is_business_day, local_moment, offset_moment, start_of_day, zone


@cache
def _closed_days(days: tuple[date, ...]) -> frozenset[date]:
    # Keyed by the snapshot's own tuple: every run of one pipeline version shares one set.
    return frozenset(days)


def closed_days(pipeline: Pipeline) -> frozenset[date]:
    """The days the pipeline's calendar is closed (public holidays and extra days)."""
    return _closed_days(pipeline.calendar.closed_days) if pipeline.calendar else frozenset()


def moment(pipeline: Pipeline, anchor: datetime, offset: Moment | Due) -> datetime:
    """The absolute moment ``offset`` names, counted from ``anchor`` in the pipeline's calendar."""
    if isinstance(offset, Moment) and offset.before:
        return _business_days_before(pipeline, anchor, offset)
    return offset_moment(
        anchor, offset.days, offset.time, pipeline.timezone, offset.unit, closed_days(pipeline)
    )


def _business_days_before(pipeline: Pipeline, anchor: datetime, offset: Moment) -> datetime:
    """``before: true``: the ``days``-th business day before the anchor's local day, at ``time``
    (default: the anchor's time). Five business days before a Monday campaign is the Monday
    before; before a Saturday one, the Monday of that week (the Friday is the first)."""
    tz = pipeline.timezone
    local = anchor.astimezone(zone(tz))
    closed = closed_days(pipeline)
    day = local.date()
    for _ in range(offset.days):
        day -= timedelta(days=1)
        while not is_business_day(day, closed):
            day -= timedelta(days=1)
    wall = offset.time if offset.time is not None else local.time().replace(tzinfo=None)
    return local_moment(day, wall, tz)


def for_modules(state: OnboardingState, modules: Iterable[str] | None) -> bool:
    """Whether something limited to ``modules`` applies to this contract."""
    return modules is None or any(module in state.modules for module in modules)


def pending_steps(state: OnboardingState, pipeline: Pipeline) -> list[Step]:
    """The current stage's steps not yet performed, and the pipeline deadlines watching it."""
    steps: list[Step] = [
        step
        for step in pipeline.stage(state.stage).schedule
        if (step.repeat or step.key not in state.fired_steps) and for_modules(state, step.modules)
    ]
    steps.extend(
        deadline
        for deadline in pipeline.deadlines
        if state.stage in deadline.in_stages
        and deadline.key not in state.fired_deadlines
        and for_modules(state, deadline.modules)
    )
    return steps


def anchor_of(state: OnboardingState, step: Step) -> datetime | None:
    """The latest of the step's anchors that is set (None: nothing is scheduled)."""
    values = [
        state.stage_entered_at if name == "entered" else state.anchors.get(name)
        for name in step.at.anchor_names()
    ]
    if step.repeat and step.key in state.repeat_base:
        values.append(state.repeat_base[step.key])
    present = [value for value in values if value is not None]
    return max(present) if present else None


def next_step(state: OnboardingState, pipeline: Pipeline) -> tuple[Step | None, datetime | None]:
    """The earliest pending step and its moment; (None, None) when nothing is scheduled."""
    best: tuple[Step | None, datetime | None] = (None, None)
    for step in pending_steps(state, pipeline):
        anchor = anchor_of(state, step)
        if anchor is None:
            continue  # e.g. parked without an until-date: nothing is scheduled
        due = moment(pipeline, anchor, step.at)
        if best[1] is None or due < best[1]:
            best = (step, due)
    return best


def task_due(state: OnboardingState, pipeline: Pipeline, due: Due, created: datetime) -> datetime:
    """When a task created at ``created`` is due: counted from its anchor when that is set,
    else from its creation; never before its creation."""
    base = state.anchors.get(due.anchor, created) if due.anchor else created
    return max(created, moment(pipeline, base, due))


def latest_occurrence(pipeline: Pipeline, step: Step, due: datetime, now: datetime) -> datetime:
    """The occurrence of a recurring step that fires now: the one due at ``due``, or, after
    an outage, the latest one already due. Missed occurrences collapse into it instead of
    firing in a burst; the next one counts from it."""
    occurrence = due
    while (following := moment(pipeline, occurrence, step.at)) <= now and following > occurrence:
        occurrence = following
    return occurrence


def step_key(step: Step, occurrence: datetime) -> str:
    """The key a firing is known by (in Message-IDs): recurring steps per occurrence date."""
    if isinstance(step, Deadline):
        return f"deadline+{step.key}"
    if step.repeat:
        return f"{step.key}+{occurrence.date().isoformat()}"
    return step.key


def parse_anchor(pipeline: Pipeline, value: str) -> datetime:
    """An ISO date (local midnight in the pipeline's zone) or an aware ISO datetime."""
    if len(value) == len("2026-01-31"):
        return start_of_day(date.fromisoformat(value), pipeline.timezone)
    return datetime.fromisoformat(value)
