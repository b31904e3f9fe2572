"""What the staff views read of one onboarding: a snapshot of its run's state, as plain rows.

Pure functions of a state and its pipeline, so the workflow (which writes snapshots through a
local activity), ``kickoff-admin rebuild-read-model`` (which builds them from Temporal) and the
tests all make the same rows from the same state.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from kickoff.domain import OnboardingState, Task, task_id
from kickoff.engine import plan
from kickoff.pipelines.model import Pipeline
from kickoff.schedule import start_of_day

OUTCOME_TASK_NUMBER = 0
"""The number in a task id (``<onboarding>.<cycle>.0``) of the reminder to record a completed
run's kick-off outcome: the run's own tasks count from 1, so the two never share an id."""


class OnboardingEntry(BaseModel):
    """One onboarding's latest run, as the board's card, the funnel and the lists need it."""

    id: str
    run_id: str
    revision: int = Field(ge=0)
    """Order of the writes of one onboarding: a row is replaced only by a higher (or equal)
    revision, so a late or repeated write never overwrites a newer one."""
    cycle: int
    pipeline: str
    pipeline_version: str
    stage: str
    stage_label: str
    stage_entered_at: datetime
    status: str
    customer: str
    next_step: str | None = None
    next_step_at: datetime | None = None
    open_tasks: int = 0
    open_task_roles: list[str | None] = Field(default_factory=list)
    """The owner role of each open task (a card filtered by role counts only its own)."""
    awaiting_outcome: bool = False
    outcome: str | None = None
    segment: str | None = None
    window_start: datetime | None = None
    """When onboarding could begin (the 30-day goal window's start): the delivery start's local
    midnight, or the first stage visit if later. None before any visit."""


class VisitEntry(BaseModel):
    cycle: int
    position: int
    stage: str
    entered_at: datetime
    left_at: datetime | None = None


class Snapshot(BaseModel):
    """Everything the read model holds of one onboarding: its row, open tasks and stage visits."""

    entry: OnboardingEntry
    tasks: list[Task] = Field(default_factory=list)
    """Open tasks only: done ones are in the run's state (its page reads that)."""
    visits: list[VisitEntry] = Field(default_factory=list)
    """Every cycle's visits, oldest first (the stage-times report's input)."""


def snapshot_of(state: OnboardingState, pipeline: Pipeline, run_id: str, revision: int) -> Snapshot:
    """The read model's rows for ``state`` (the run's own snapshot of ``pipeline``)."""
    tasks = state.open_tasks()
    if awaits_outcome_in_database(state, pipeline):
        tasks = [*tasks, outcome_task(state, pipeline)]
    visits = [
        VisitEntry(cycle=cycle.cycle, position=n, **visit.model_dump())
        for cycle in state.previous_cycles
        for n, visit in enumerate(cycle.visits)
    ] + [VisitEntry(cycle=state.cycle, position=n, **v.model_dump()) for n, v in enumerate(state.visits)]
    outcome = state.kickoff_outcome
    running = state.status == "running"
    entry = OnboardingEntry(
        id=state.id,
        run_id=run_id,
        revision=revision,
        cycle=state.cycle,
        pipeline=state.pipeline,
        pipeline_version=state.pipeline_version,
        stage=state.stage,
        stage_label=state.stage_label,
        stage_entered_at=state.stage_entered_at,
        status=state.status,
        customer=state.contract.customer.name,
        next_step=state.next_step if running else None,
        next_step_at=state.next_step_at if running else None,
        open_tasks=len(tasks),
        open_task_roles=[task.owner_role for task in tasks],
        awaiting_outcome=state.awaiting_outcome or awaits_outcome_in_database(state, pipeline),
        outcome=outcome.outcome if outcome else None,
        segment=outcome.segment if outcome else None,
        window_start=_window_start(state, pipeline, visits),
    )
    return Snapshot(entry=entry, tasks=tasks, visits=visits)


def awaits_outcome_in_database(state: OnboardingState, pipeline: Pipeline) -> bool:
    """Completed at its goal, booked, no outcome in the state: staff record it in the database."""
    spec = pipeline.kickoff_outcome
    return (
        state.completes_at_goal
        and state.status == "completed"
        and spec is not None
        and state.stage == spec.awaited_in
        and state.goal_event is None
        and state.kickoff_outcome is None
    )


def outcome_task(state: OnboardingState, pipeline: Pipeline) -> Task:
    """The reminder to record how the booked kick-off went, due as the pipeline says (e.g. 17:00
    the day after the meeting), counted from when the run reached its goal."""
    spec = pipeline.kickoff_outcome
    assert spec is not None
    reached = state.stage_entered_at
    wait = spec.task
    return Task(
        id=task_id(state.id, state.cycle, OUTCOME_TASK_NUMBER),
        kind=wait.kind,
        title=wait.title,
        owner=wait.owner,
        owner_role=wait.owner_role,
        due_at=plan.task_due(state, pipeline, wait.due, reached),
        stage=state.stage,
        created_at=reached,
        blocks_completion=True,
    )


def is_outcome_task(task: str) -> bool:
    return task.rsplit(".", 1)[-1] == str(OUTCOME_TASK_NUMBER)


def _window_start(state: OnboardingState, pipeline: Pipeline, visits: list[VisitEntry]) -> datetime | None:
    if not visits:
        return None
    return max(visits[0].entered_at, start_of_day(state.contract.delivery_start, pipeline.timezone))
