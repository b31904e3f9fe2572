"""What the staff views read of one onboarding: a snapshot of its run's state, as plain rows.

Pure functions of a state and its pipeline, so the workflow (which writes snapshots through a
local activity), ``kickoff-admin rebuild-read-model`` (which builds them from Temporal) and the
tests all make the same rows from the same state.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import BaseModel, Field

from kickoff.domain import OnboardingState, Task, task_id
from kickoff.engine import plan
from kickoff.pipelines.model import Pipeline
from kickoff.pipelines.reports import record_fields
from kickoff.schedule import start_of_day, zone

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


class AnchorEntry(BaseModel):
    name: str
    at: datetime
    day: date
    """``at``'s local date in the pipeline's timezone (targets in business days count from it)."""


class RecordEntry(BaseModel):
    """One payload an event kept under ``record:``, with only what reports add up or group by."""

    record: str
    position: int
    logged_at: datetime | None = None
    numbers: dict[str, float] = Field(default_factory=dict)
    """Number fields."""
    values: dict[str, str] = Field(default_factory=dict)
    """Choice fields, and booleans as ``true`` / ``false``."""


class ReportFacts(BaseModel):
    """What the pipeline's reports count of one onboarding: its anchors (by name) and its
    records (by record and position). Free text and dates of records stay in the run."""

    anchors: list[AnchorEntry] = Field(default_factory=list)
    records: list[RecordEntry] = Field(default_factory=list)


class Snapshot(BaseModel):
    """Everything the read model holds of one onboarding: its row, open tasks and stage visits."""

    entry: OnboardingEntry
    tasks: list[Task] = Field(default_factory=list)
    """Open tasks only: done ones are in the run's state (its page reads that)."""
    visits: list[VisitEntry] = Field(default_factory=list)
    """Every cycle's visits, oldest first (the stage-times report's input)."""
    facts: ReportFacts | None = None
    """The report facts; None from a run that does not write them (one started before the
    ``read-model-records`` release that was not told to join): the stored ones are kept."""


def snapshot_of(
    state: OnboardingState, pipeline: Pipeline, run_id: str, revision: int, *, facts: bool = True
) -> Snapshot:
    """The read model's rows for ``state`` (the run's own snapshot of ``pipeline``), with its
    report facts unless ``facts`` is False."""
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
    kept = report_facts(state, pipeline) if facts else None
    return Snapshot(entry=entry, tasks=tasks, visits=visits, facts=kept)


def report_facts(state: OnboardingState, pipeline: Pipeline) -> ReportFacts:
    """The run's anchors, and of its records the number, choice and boolean fields its pipeline
    declares (``kickoff.pipelines.reports.RECORD_FIELD_TYPES``), in a stable order."""
    tz = zone(pipeline.timezone)
    anchors = [
        AnchorEntry(name=name, at=at.astimezone(UTC), day=at.astimezone(tz).date())
        for name, at in sorted(state.anchors.items())
    ]
    declared = record_fields(pipeline.events)
    records = []
    for record, entries in sorted(state.records.items()):
        fields = declared.get(record, {})
        for position, payload in enumerate(entries):
            numbers: dict[str, float] = {}
            values: dict[str, str] = {}
            for name, value in payload.items():
                spec = fields.get(name)
                if spec is None or value is None:
                    continue
                if spec.type == "number" and isinstance(value, int | float) and not isinstance(value, bool):
                    numbers[name] = float(value)
                elif spec.type == "choice" and isinstance(value, str):
                    values[name] = value
                elif spec.type == "boolean" and isinstance(value, bool):
                    values[name] = "true" if value else "false"
            records.append(
                RecordEntry(
                    record=record,
                    position=position,
                    logged_at=_moment(payload.get("at")),
                    numbers=numbers,
                    values=values,
                )
            )
    return ReportFacts(anchors=anchors, records=records)


def _moment(value: object) -> datetime | None:
    """When the engine kept a record (its ``at``, an ISO moment), if it says."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


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
