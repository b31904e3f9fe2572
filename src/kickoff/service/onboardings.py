"""The onboarding service: what the API, the board and the reports ask of onboardings.

Starting a run for a contract, reading its state, and the staff actions on it, with
errors a caller can act on (``kickoff.service.errors``). Temporal is the source of truth.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from kickoff import search_attributes as sa
from kickoff.crypto import ErasedError
from kickoff.db import Database
from kickoff.db.outcomes import RecordedOutcome
from kickoff.domain import (
    AmendInput,
    ChecklistItemState,
    Contract,
    CycleSummary,
    EventInput,
    FinishTaskInput,
    OnboardingInput,
    OnboardingState,
    OutcomeInput,
    RestartInput,
    TaskSide,
    TickInput,
    contract_problems,
    onboarding_id,
    onboarding_of_task,
)
from kickoff.pipelines import Pipeline, PipelineCatalog
from kickoff.readmodel.snapshot import is_outcome_task
from kickoff.service import listing, outcomes, read_views
from kickoff.service.errors import ConflictError, ErasedOnboardingError, NotFoundError, UnprocessableError
from kickoff.service.rows import OnboardingRow, OpenTaskRow
from kickoff.service.runs import describe_latest, erased_at, run_update, state_of, status_name
from kickoff.temporal import deployment_scope
from kickoff.workflows.onboarding import OnboardingWorkflow

CLOSING_WAIT = timedelta(seconds=15)
OUTCOME_SETTLE = timedelta(seconds=5)
"""How long an accepted kick-off outcome is waited on before answering (a run started before
the state-first release applies it only after its closing mail, which SMTP may be slow to take)."""
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class StartResult:
    stage: str
    onboarding_id: str
    pipeline: str
    created: bool


class OnboardingService:
    def __init__(
        self,
        client: Client,
        catalog: PipelineCatalog,
        task_queue: str,
        *,
        database: Database | None = None,
        report_cache_seconds: float = 0.0,
    ) -> None:
        self.client = client
        # Kickoff's own store (kickoff.db); None only where a caller needs Temporal alone.
        self.database = database
        self.catalog = catalog
        self.task_queue = task_queue
        self.report_cache_seconds = report_cache_seconds
        self.outcome_settle = OUTCOME_SETTLE
        # Reports by (kind, pipeline): when computed, and the computation (shared while running).
        self.report_cache: dict[tuple[str, str], tuple[float, asyncio.Task[Any]]] = {}
        # When runs behind on their read-model writes were last counted, and how many.
        self.behind_cache: tuple[float, int] | None = None
        self.scope = deployment_scope(task_queue)
        """Visibility queries see only this deployment's runs (its workflow type and task queue)."""

    # ---------------------------------------------------------------- start

    async def start(self, contract: Contract) -> StartResult:
        pipeline = self.catalog.get(contract.pipeline)
        if pipeline is None:
            known = ", ".join(sorted(self.catalog.pipelines))
            raise UnprocessableError(f"unknown pipeline {contract.pipeline!r} (known: {known})")
        _check_contract_options(pipeline, contract)
        oid = onboarding_id(pipeline.id_prefix, contract.contract_id)
        if (erased := await erased_at(self.client, oid)) is not None:  # never a new run for it
            raise ErasedOnboardingError.for_contract(contract.contract_id, oid, erased)
        version = self.catalog.version(pipeline.id)
        input = OnboardingInput(
            onboarding_id=oid, contract=contract, pipeline=pipeline, pipeline_version=version
        )
        try:
            # One run per contract, ever: a retried POST must not start a second one.
            run_id = await self._start_run(input, WorkflowIDReusePolicy.REJECT_DUPLICATE)
        except ErasedError as err:  # erased since the check: its data key refused the input
            raise ErasedOnboardingError.for_contract(contract.contract_id, oid, err.erased_at) from None
        except WorkflowAlreadyStartedError:
            # Read what was received from the run's start event, not by querying
            # the run: a retried POST must not depend on a worker being up.
            received, stage = await self._received(oid)
            if received != contract:
                differing = _differing_fields(received, contract)
                raise ConflictError(
                    f"contract {contract.contract_id} was already received with different content "
                    f"(differs in: {', '.join(differing)})"
                ) from None
            return StartResult(stage or pipeline.start_stage, oid, pipeline.id, created=False)
        if self.database is not None:
            await read_views.provisional(self, input, run_id)
        return StartResult(pipeline.start_stage, oid, pipeline.id, created=True)

    async def _start_run(self, input: OnboardingInput, reuse: WorkflowIDReusePolicy) -> str:
        """Start the run ``input`` describes; returns its run id."""
        pipeline = input.pipeline
        first_stage = pipeline.restart.stage if input.cycle > 1 else pipeline.start_stage
        cycle = f" · cycle {input.cycle}" if input.cycle > 1 else ""
        handle = await self.client.start_workflow(
            OnboardingWorkflow.run,
            input,
            id=input.onboarding_id,
            task_queue=self.task_queue,
            id_reuse_policy=reuse,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.PIPELINE, pipeline.id),
                    SearchAttributePair(sa.STAGE, first_stage),
                    SearchAttributePair(sa.PIPELINE_VERSION, input.pipeline_version),
                    *(
                        [SearchAttributePair(sa.RESTART_REASON, input.restart_reason)]
                        if input.restart_reason
                        else []
                    ),
                ]
            ),
            static_summary=(
                f"Onboarding {input.onboarding_id} · pipeline {pipeline.id} ({pipeline.name}){cycle}"
            ),
        )
        return handle.result_run_id or ""

    # ---------------------------------------------------------------- read

    async def _received(self, oid: str) -> tuple[Contract, str | None]:
        """The contract the latest run started with, and its current stage (from visibility)."""
        handle, description = await describe_latest(self.client, oid)
        async for event in handle.fetch_history_events():
            started = event.workflow_execution_started_event_attributes
            [first] = await self.client.data_converter.decode(started.input.payloads, [OnboardingInput])
            assert isinstance(first, OnboardingInput)
            return first.contract, description.typed_search_attributes.get(sa.STAGE)
        raise NotFoundError(f"no onboarding {oid}")

    async def state(self, oid: str) -> OnboardingState:
        """The latest run's state, with the kick-off outcome Kickoff's database holds for it."""
        _, description = await describe_latest(self.client, oid)
        state = await state_of(self.client, oid, description)
        if not state.completes_at_goal:
            return state
        recorded = await outcomes.recorded(self, oid)
        return outcomes.with_outcome(state, self.catalog.get(state.pipeline), recorded)

    async def kickoff_outcomes(self, oid: str) -> list[RecordedOutcome]:
        """Every cycle's recorded kick-off outcome, oldest first."""
        return await outcomes.recorded(self, oid)

    async def list_onboardings(
        self, pipeline: str | None, stage: str | None, limit: int
    ) -> list[OnboardingRow]:
        return await listing.list_onboardings(self.client, self.catalog, self.scope, pipeline, stage, limit)

    async def open_tasks(self, owner_role: str | None, assignee: str | None = None) -> list[OpenTaskRow]:
        """Every open task (the board's inbox; with ``assignee``, an account id, only that
        person's), soonest due first, from the read model."""
        return (await read_views.open_tasks(self, owner_role, assignee=assignee)).rows

    async def open_tasks_page(
        self,
        owner_role: str | None,
        owner: TaskSide | None,
        limit: int,
        after: tuple[datetime, str] | None,
        assignee: str | None = None,
    ) -> read_views.OpenTasksPage:
        return await read_views.open_tasks(self, owner_role, owner, limit, after, assignee)

    # ---------------------------------------------------------------- act

    async def _running(self, oid: str) -> WorkflowHandle[Any, Any]:
        handle, description = await describe_latest(self.client, oid)
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise ConflictError(
                f"onboarding {oid} is {status_name(description.status)}: nothing more happens"
            )
        return handle

    async def apply_event(self, oid: str, event: EventInput, idempotency_key: str | None = None) -> str:
        handle = await self._target(oid, idempotency_key)
        stage: str = await run_update(
            self.client,
            handle,
            OnboardingWorkflow.apply_event,
            event,
            update_id=_update_id("event", idempotency_key),
        )
        return stage

    async def _target(self, oid: str, idempotency_key: str | None) -> WorkflowHandle[Any, Any]:
        """The run an action goes to. A retry with an Idempotency-Key goes to the latest run even
        when it has finished: Temporal answers an update it already applied with its result."""
        if idempotency_key is None:
            return await self._running(oid)
        handle, _ = await describe_latest(self.client, oid)
        return handle

    async def tick_item(
        self, oid: str, tick: TickInput, idempotency_key: str | None = None
    ) -> list[ChecklistItemState]:
        handle = await self._target(oid, idempotency_key)
        # Keyed per item: a key reused for another item is another request, not a retry.
        key = _update_id(f"tick:{tick.item}", idempotency_key)
        items: list[ChecklistItemState] = await run_update(
            self.client, handle, OnboardingWorkflow.tick_item, tick, update_id=key
        )
        return items

    async def amend(self, oid: str, amend: AmendInput) -> str:
        handle = await self._running(oid)
        stage: str = await run_update(self.client, handle, OnboardingWorkflow.amend_contract, amend)
        return stage

    async def complete_task(self, task: str, by: str | None = None) -> str:
        """Mark a task done; ``by`` (staff, or ``customer``) goes on the timeline."""
        oid = onboarding_of_task(task)
        if oid is None:
            raise NotFoundError(f"no task {task}")
        if is_outcome_task(task):
            raise ConflictError(
                f"task {task} closes when the kick-off outcome is recorded: "
                f"POST /onboardings/{oid}/kickoff-outcome"
            )
        handle = await self._running(oid)
        if by is None:
            await run_update(self.client, handle, OnboardingWorkflow.complete_task, task)
        else:
            finish = FinishTaskInput(task=task, by=by)
            await run_update(self.client, handle, OnboardingWorkflow.finish_task, finish)
        return oid

    async def record_outcome(self, oid: str, outcome: OutcomeInput) -> tuple[int, str]:
        """How the kick-off went: ``completed`` (segment, advisor) is recorded; ``no_show`` and
        ``rescheduled`` restart onboarding. Returns (cycle, stage) afterwards.

        Every outcome goes through the run's checks (booked, not recorded yet), so a
        double-submitted no-show restarts once, and nothing restarts a run never booked."""
        return await outcomes.record(self, oid, outcome)

    async def restart(self, oid: str, reason: str, by: str | None = None) -> tuple[int, str]:
        handle, description = await describe_latest(self.client, oid)
        current = await state_of(self.client, oid, description)
        pipeline = self.catalog.get(current.pipeline)
        if pipeline is None:
            raise ConflictError(f"pipeline {current.pipeline!r} is no longer defined in pipelines.yaml")
        running = description.status == WorkflowExecutionStatus.RUNNING
        if reason in ("no_show", "rescheduled"):
            # Booked and no outcome yet: the no-show is that outcome, recorded on this cycle
            # before the next one starts.
            no_show = OutcomeInput(outcome=reason, by=by)  # reason checked above
            if outcomes.awaits_in_database(pipeline, current) and not any(
                o.cycle == current.cycle for o in await outcomes.recorded(self, oid)
            ):
                return await outcomes.record_in_database(
                    self, handle, description, current, pipeline, no_show
                )
            if running and _awaits_outcome(pipeline, current):
                # Waiting for it in the run (and in its search attributes) before it continues.
                try:
                    return await outcomes.send_to_run(self, handle, current, pipeline, no_show)
                except NotFoundError:
                    pass  # a run started before outcomes were awaited: it completes, then restarts
        return await self.restart_cycle(handle, description, current, pipeline, reason)

    async def restart_cycle(
        self,
        handle: WorkflowHandle[Any, Any],
        description: WorkflowExecutionDescription,
        current: OnboardingState,
        pipeline: Pipeline,
        reason: str,
        *,
        ends_visit: bool = False,
    ) -> tuple[int, str]:
        """The next cycle: the running run continues as it, or a new run of the same id starts.
        ``ends_visit``: the restart ends the completed run's stay in its goal stage (a no-show
        recorded as its outcome), as a run that waited for it ended it by continuing as new."""
        oid = current.id
        version = self.catalog.version(pipeline.id)
        running = description.status == WorkflowExecutionStatus.RUNNING
        finishing = _is_goal(pipeline, current.stage) or current.goal_event is not None
        if running and finishing:
            # Just booked: the run is sending its closing mail. A no-show reported
            # right away must not be refused for that: wait for the run to finish.
            closing = self.client.get_workflow_handle_for(
                OnboardingWorkflow.run, oid, run_id=description.run_id
            )
            try:
                current = await asyncio.wait_for(closing.result(), CLOSING_WAIT.total_seconds())
            except TimeoutError:
                raise ConflictError(
                    f"onboarding {oid} is closing but waits for {len(current.open_tasks())} open "
                    "task(s) (e.g. a mail that may not have arrived): resolve them, then restart"
                ) from None
            handle, description = await describe_latest(self.client, oid)
        if description.status == WorkflowExecutionStatus.RUNNING:
            # The run itself continues as new, so the restart is one atomic step.
            cycle = await run_update(
                self.client,
                handle,
                OnboardingWorkflow.restart,
                RestartInput(reason=reason, pipeline=pipeline, pipeline_version=version),
            )
            return cycle, pipeline.restart.stage
        summary = CycleSummary(
            cycle=current.cycle,
            run_id=description.run_id,
            final_stage=current.stage,
            ended_at=description.close_time or current.stage_entered_at,
            restart_reason=reason,
            visits=[
                v.model_copy(update={"left_at": datetime.now(UTC)}) if ends_visit and v.left_at is None else v
                for v in current.visits
            ],
        )
        try:
            await self._start_run(
                OnboardingInput(
                    onboarding_id=oid,
                    contract=current.contract,
                    pipeline=pipeline,
                    pipeline_version=version,
                    cycle=current.cycle + 1,
                    restart_reason=reason,
                    previous_cycles=[*current.previous_cycles, summary],
                ),
                # A restart is a new run of the same id; the earlier run's history stays.
                WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            raise ConflictError(f"onboarding {oid} was restarted already") from None
        return current.cycle + 1, pipeline.restart.stage

    async def temporal_ok(self) -> bool:
        try:
            return await self.client.service_client.check_health()
        except RPCError:
            return False


def _update_id(kind: str, idempotency_key: str | None) -> str | None:
    """Temporal update ids per kind of action, so one client key never answers another kind."""
    return f"{kind}:{idempotency_key}" if idempotency_key else None


def _check_contract_options(pipeline: Pipeline, contract: Contract) -> None:
    """Modules and dates must be ones the pipeline declares: a typo would silently drop a module."""
    problems = contract_problems(pipeline, contract)
    if problems:
        raise UnprocessableError("; ".join(sentence for _, sentence in problems))


def _awaits_outcome(pipeline: Pipeline, state: OnboardingState) -> bool:
    """Booked and in the stage where the pipeline awaits the kick-off outcome (the run may
    still be sending its closing mail; the workflow lets that finish first)."""
    spec = pipeline.kickoff_outcome
    return state.awaiting_outcome or (
        spec is not None
        and not state.completes_at_goal
        and state.stage == spec.awaited_in
        and state.kickoff_outcome is None
    )


def _is_goal(pipeline: Pipeline, stage: str) -> bool:
    return stage in pipeline.stage_ids() and pipeline.stage(stage).goal


def _differing_fields(old: Contract, new: Contract) -> Sequence[str]:
    a, b = old.model_dump(), new.model_dump()
    return [key for key in a if a[key] != b.get(key)]
