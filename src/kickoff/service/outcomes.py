"""Kick-off outcomes: how a booked kick-off went, as staff record it (seed 003).

A run that reached its goal from the ``complete-at-goal`` release on has completed: its
outcome goes to Kickoff's database (``kickoff.db.outcomes``), and a no-show or a
rescheduled meeting starts the next cycle as a new run of the same id. A run that was
already waiting in its goal stage when that release came takes its outcome through its
``record_kickoff_outcome`` update, as before; the database keeps a copy of that too.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from temporalio.client import WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowHandle

from kickoff.crypto.fields import sealer_of
from kickoff.db.outcomes import AlreadyRecordedError, OutcomeStore, RecordedOutcome
from kickoff.db.read_model import ReadModelStore
from kickoff.domain import KickoffOutcome, OnboardingState, OutcomeInput, RestartInput
from kickoff.engine import rules
from kickoff.engine.rules import Invalid, NotNow, Refusal, Unknown
from kickoff.pipelines import Pipeline
from kickoff.service.errors import ConflictError, NotFoundError, ServiceError, UnprocessableError
from kickoff.service.runs import describe_latest, run_update, state_of, status_name
from kickoff.workflows.onboarding import OnboardingWorkflow

if TYPE_CHECKING:
    from kickoff.service.onboardings import OnboardingService

API_STAFF = "api"
"""Who recorded an outcome sent with an API key: a key names no person."""
_REFUSALS: dict[type[Refusal], type[ServiceError]] = {
    Unknown: NotFoundError,
    NotNow: ConflictError,
    Invalid: UnprocessableError,
}
log = structlog.get_logger(__name__)


def store_of(service: OnboardingService) -> OutcomeStore:
    if service.database is None:
        raise ConflictError("kick-off outcomes are kept in Kickoff's database, and none is configured")
    return OutcomeStore(service.database, sealer_of(service.client.data_converter))


async def recorded(service: OnboardingService, oid: str) -> list[RecordedOutcome]:
    """Every cycle's recorded outcome, oldest first (none without a database)."""
    return [] if service.database is None else await store_of(service).of_onboarding(oid)


def with_outcome(
    state: OnboardingState, pipeline: Pipeline | None, outcomes: list[RecordedOutcome]
) -> OnboardingState:
    """The state as staff see it: a run that completed at its goal shows its cycle's recorded
    outcome, or that one is awaited (booked, none recorded yet)."""
    if not state.completes_at_goal:
        return state
    mine = next((o for o in outcomes if o.cycle == state.cycle), None)
    spec = pipeline.kickoff_outcome if pipeline else None
    booked = spec is not None and state.stage == spec.awaited_in and state.goal_event is None
    outcome = (
        KickoffOutcome.model_validate(mine.model_dump(include=set(KickoffOutcome.model_fields)))
        if mine
        else None
    )
    return state.model_copy(update={"kickoff_outcome": outcome, "awaiting_outcome": booked and mine is None})


def awaits_in_database(pipeline: Pipeline, state: OnboardingState) -> bool:
    """Completed at its goal, booked: its outcome goes to the database (if none is there yet)."""
    spec = pipeline.kickoff_outcome
    return state.completes_at_goal and spec is not None and state.stage == spec.awaited_in


async def record(service: OnboardingService, oid: str, outcome: OutcomeInput) -> tuple[int, str]:
    """Record how the kick-off went; returns (cycle, stage) afterwards."""
    handle, description = await describe_latest(service.client, oid)
    current = await state_of(service.client, oid, description)
    pipeline = service.catalog.get(current.pipeline)
    if pipeline is None or pipeline.kickoff_outcome is None:
        raise NotFoundError(f"pipeline {current.pipeline} does not record kick-off outcomes")
    status = description.status
    if current.completes_at_goal or (
        status == WorkflowExecutionStatus.COMPLETED and current.kickoff_outcome is None
    ):
        # Completed at its goal (or booked before outcomes were awaited): the database keeps it.
        return await record_in_database(service, handle, description, current, pipeline, outcome)
    if status != WorkflowExecutionStatus.RUNNING:
        if current.kickoff_outcome is not None:
            raise ConflictError(
                f"onboarding {oid} is completed: the kick-off outcome is recorded already "
                f"({current.kickoff_outcome.outcome})"
            )
        raise ConflictError(
            f"onboarding {oid} is {status_name(status)}: its kick-off outcome can no longer be recorded"
        )
    answer = await send_to_run(service, handle, current, pipeline, outcome)
    with contextlib.suppress(AlreadyRecordedError):  # the run refuses a second one first
        await store_of(service).add(_row(current, outcome))
    return answer


async def record_in_database(
    service: OnboardingService,
    handle: WorkflowHandle[Any, Any],
    description: WorkflowExecutionDescription,
    current: OnboardingState,
    pipeline: Pipeline,
    outcome: OutcomeInput,
) -> tuple[int, str]:
    """The outcome of a run that completed at its goal. A no-show or a rescheduling then
    restarts onboarding; if that restart fails, the outcome is withdrawn (a retry may try
    again), so a recorded no-show always has its next cycle."""
    store = store_of(service)
    for earlier in await store.of_onboarding(current.id):
        if earlier.cycle == current.cycle:
            if earlier.outcome == outcome.outcome and outcome.outcome != "completed":
                # Recorded, but whoever recorded it died before starting the next cycle (this
                # is still the latest run): the retry starts it, rather than a 409 for good.
                log.info("kickoff_outcome.restart_resumed", onboarding_id=current.id, cycle=current.cycle)
                return await service.restart_cycle(
                    handle, description, current, pipeline, outcome.outcome, ends_visit=True
                )
            raise _recorded_already(current.id, earlier.outcome)
    try:
        rules.check_booked_outcome(current, pipeline, outcome, pipeline.restart.reasons)
    except Refusal as refusal:
        raise _REFUSALS[type(refusal)](str(refusal)) from None
    row = _row(current, outcome)
    try:
        await store.add(row)
    except AlreadyRecordedError:
        raise _recorded_already(current.id, "just now") from None
    log.info("kickoff_outcome.recorded", onboarding_id=current.id, cycle=current.cycle, outcome=row.outcome)
    await ReadModelStore(store.database).outcome_recorded(current.id, current.cycle, row.outcome, row.segment)
    if outcome.outcome == "completed":
        return current.cycle, current.stage
    try:
        return await service.restart_cycle(
            handle, description, current, pipeline, outcome.outcome, ends_visit=True
        )
    except BaseException:
        await store.withdraw(current.id, current.cycle)
        raise


async def send_to_run(
    service: OnboardingService,
    handle: WorkflowHandle[Any, Any],
    current: OnboardingState,
    pipeline: Pipeline,
    outcome: OutcomeInput,
) -> tuple[int, str]:
    """A run waiting for its outcome: the ``record_kickoff_outcome`` update; a no-show or a
    rescheduling carries the restart it causes, with the pipeline's latest snapshot."""
    if outcome.outcome != "completed":
        restart = RestartInput(
            reason=outcome.outcome, pipeline=pipeline, pipeline_version=service.catalog.version(pipeline.id)
        )
        outcome = outcome.model_copy(update={"restart": restart})
    await run_update(
        service.client,
        handle,
        OnboardingWorkflow.record_kickoff_outcome,
        outcome,
        settle=service.outcome_settle,
    )
    if outcome.restart is not None:
        return current.cycle + 1, pipeline.restart.stage
    return current.cycle, current.stage


def _row(current: OnboardingState, outcome: OutcomeInput) -> RecordedOutcome:
    return RecordedOutcome(
        onboarding_id=current.id,
        cycle=current.cycle,
        pipeline=current.pipeline,
        outcome=outcome.outcome,
        segment=outcome.segment,
        owner=(outcome.owner or "").strip() or None,
        recorded_at=datetime.now(UTC),
        recorded_by=outcome.by or API_STAFF,
    )


def _recorded_already(oid: str, outcome: str) -> ConflictError:
    return ConflictError(
        f"onboarding {oid} is completed: the kick-off outcome is recorded already ({outcome})"
    )
