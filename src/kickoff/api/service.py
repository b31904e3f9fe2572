"""Everything the API asks of Temporal, in one place, with errors a caller can act on."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from kickoff import search_attributes as sa
from kickoff.domain import (
    AmendInput,
    ChecklistItemState,
    Contract,
    CycleSummary,
    EventInput,
    OnboardingInput,
    OnboardingState,
    OutcomeInput,
    RestartInput,
    TickInput,
    onboarding_id,
    onboarding_of_task,
)
from kickoff.pipelines import Pipeline, PipelineCatalog
from kickoff.workflows.onboarding import OnboardingWorkflow

WORKFLOW_TYPE = "Onboarding"
_QUERY_CONCURRENCY = 8
QUERY_TIMEOUT = timedelta(seconds=5)
CLOSING_WAIT = timedelta(seconds=15)
HANDOVER_WAIT = timedelta(seconds=5)
"""How long a run that continued as new may take to show its successor."""
UPDATE_TIMEOUT = timedelta(seconds=15)
"""How long a staff action waits for a worker to accept or refuse it."""
OUTCOME_SETTLE = timedelta(seconds=5)
"""How long an accepted kick-off outcome is waited on before answering (the run may first
finish a closing mail that SMTP is slow to take; the outcome is applied after it regardless)."""
log = structlog.get_logger(__name__)


class NotFoundError(Exception):
    """-> 404"""


class ConflictError(Exception):
    """-> 409"""


class UnprocessableError(Exception):
    """-> 422"""


class UnavailableError(Exception):
    """-> 503"""


@dataclass(frozen=True)
class StartResult:
    stage: str
    onboarding_id: str
    pipeline: str
    created: bool


class OnboardingService:
    def __init__(
        self, client: Client, catalog: PipelineCatalog, task_queue: str, report_cache_seconds: float = 0.0
    ) -> None:
        self.client = client
        self.catalog = catalog
        self.task_queue = task_queue
        self.report_cache_seconds = report_cache_seconds
        # Reports by (kind, pipeline): when computed, and the computation (shared while running).
        self.report_cache: dict[tuple[str, str], tuple[float, asyncio.Task[Any]]] = {}
        # Visibility queries see only this deployment's runs (its workflow type and task queue).
        self._ours = f"WorkflowType = '{WORKFLOW_TYPE}' AND TaskQueue = '{task_queue}'"

    # ---------------------------------------------------------------- start

    async def start(self, contract: Contract) -> StartResult:
        pipeline = self.catalog.get(contract.pipeline)
        if pipeline is None:
            known = ", ".join(sorted(self.catalog.pipelines))
            raise UnprocessableError(f"unknown pipeline {contract.pipeline!r} (known: {known})")
        _check_contract_options(pipeline, contract)
        oid = onboarding_id(pipeline.id_prefix, contract.contract_id)
        version = self.catalog.version(pipeline.id)
        try:
            await self._start_run(
                OnboardingInput(
                    onboarding_id=oid, contract=contract, pipeline=pipeline, pipeline_version=version
                ),
                # One run per contract, ever: a retried POST must not start a second one.
                WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
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
        return StartResult(pipeline.start_stage, oid, pipeline.id, created=True)

    async def _start_run(self, input: OnboardingInput, reuse: WorkflowIDReusePolicy) -> None:
        pipeline = input.pipeline
        first_stage = pipeline.restart.stage if input.cycle > 1 else pipeline.start_stage
        cycle = f" · cycle {input.cycle}" if input.cycle > 1 else ""
        await self.client.start_workflow(
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
                ]
            ),
            static_summary=(
                f"Onboarding {input.onboarding_id} · pipeline {pipeline.id} ({pipeline.name}){cycle}"
            ),
        )

    # ---------------------------------------------------------------- read

    async def _describe(self, oid: str) -> tuple[WorkflowHandle[Any, Any], WorkflowExecutionDescription]:
        """The latest run of ``oid``. A run that has just continued as new is followed to its
        successor: the onboarding goes on, so it must not be reported as finished."""
        handle = self.client.get_workflow_handle_for(OnboardingWorkflow.run, oid)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANDOVER_WAIT.total_seconds()
        while True:
            try:
                description = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    raise NotFoundError(f"no onboarding {oid}") from None
                raise
            if description.status != WorkflowExecutionStatus.CONTINUED_AS_NEW or loop.time() > deadline:
                return handle, description
            await asyncio.sleep(0.05)

    async def _received(self, oid: str) -> tuple[Contract, str | None]:
        """The contract the latest run started with, and its current stage (from visibility)."""
        handle, description = await self._describe(oid)
        async for event in handle.fetch_history_events():
            started = event.workflow_execution_started_event_attributes
            [first] = await self.client.data_converter.decode(started.input.payloads, [OnboardingInput])
            assert isinstance(first, OnboardingInput)
            return first.contract, description.typed_search_attributes.get(sa.STAGE)
        raise NotFoundError(f"no onboarding {oid}")

    async def state(self, oid: str) -> OnboardingState:
        _, description = await self._describe(oid)
        return await self._state_of(oid, description)

    async def _state_of(self, oid: str, description: WorkflowExecutionDescription) -> OnboardingState:
        # Pinned to the described run: a restart in between must not switch runs.
        run = self.client.get_workflow_handle_for(OnboardingWorkflow.run, oid, run_id=description.run_id)
        if description.status == WorkflowExecutionStatus.COMPLETED:
            # A finished run's result is its final state: no worker needed to read it.
            result: OnboardingState = await run.result()
            return result
        return await self._query_state(run)

    async def _query_state(self, handle: WorkflowHandle[Any, Any]) -> OnboardingState:
        """A running run's state, or UnavailableError when no worker answers in time."""
        try:
            state: OnboardingState = await handle.query(OnboardingWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
        except (RPCError, WorkflowQueryFailedError) as err:
            log.warning("onboarding.query_failed", onboarding_id=handle.id, error=type(err).__name__)
            raise UnavailableError(
                f"onboarding {handle.id} is running but no worker answered within "
                f"{QUERY_TIMEOUT.seconds} s; try again shortly"
            ) from None
        return state

    async def list_onboardings(
        self, pipeline: str | None, stage: str | None, limit: int
    ) -> list[dict[str, Any]]:
        clauses = [self._ours, "ExecutionStatus != 'ContinuedAsNew'"]
        if pipeline is not None:
            if self.catalog.get(pipeline) is None:
                raise UnprocessableError(f"unknown pipeline {pipeline!r}")
            clauses.append(f"{sa.PIPELINE.name} = '{pipeline}'")
        if stage is not None:
            stages = {s.id for p in self.catalog.pipelines.values() for s in p.stages}
            if stage not in stages:
                raise UnprocessableError(f"unknown stage {stage!r} (stages: {', '.join(sorted(stages))})")
            clauses.append(f"{sa.STAGE.name} = '{stage}'")
        # Values are checked against the catalog above, so quoting them is safe.
        latest: dict[str, Any] = {}
        async for execution in self.client.list_workflows(" AND ".join(clauses), limit=limit):
            current = latest.get(execution.id)
            if current is None or execution.start_time > current.start_time:
                latest[execution.id] = execution
        # A restarted onboarding has an older, closed run: keep it only when no
        # newer run of the same id exists (one more visibility query, not one per run).
        closed = [oid for oid, ex in latest.items() if ex.status != WorkflowExecutionStatus.RUNNING]
        if closed:
            ids = ", ".join(f"'{oid}'" for oid in closed)
            async for newer in self.client.list_workflows(
                f"WorkflowId IN ({ids}) AND ExecutionStatus = 'Running'"
            ):
                if newer.start_time > latest[newer.id].start_time:
                    latest.pop(newer.id, None)
        rows = []
        for execution in sorted(latest.values(), key=lambda ex: ex.start_time, reverse=True):
            attrs = execution.typed_search_attributes
            rows.append(
                {
                    "id": execution.id,
                    "pipeline": attrs.get(sa.PIPELINE),
                    "pipeline_version": attrs.get(sa.PIPELINE_VERSION),
                    "stage": attrs.get(sa.STAGE),
                    "status": _status_name(execution.status),
                    "started_at": execution.start_time,
                    "run_id": execution.run_id,
                }
            )
        return rows

    async def open_tasks(self, owner_role: str | None) -> list[dict[str, Any]]:
        query = f"{self._ours} AND ExecutionStatus = 'Running' AND {sa.OPEN_TASKS.name} > 0"
        ids = [execution.id async for execution in self.client.list_workflows(query)]
        limit = asyncio.Semaphore(_QUERY_CONCURRENCY)

        async def tasks_of(oid: str) -> list[dict[str, Any]]:
            async with limit:
                try:
                    state = await self._query_state(
                        self.client.get_workflow_handle_for(OnboardingWorkflow.run, oid)
                    )
                except UnavailableError:
                    # Finished between the list and the query, or no worker answers:
                    # one stuck run must not take the whole inbox down with it.
                    return []
            return [
                {
                    **task.model_dump(),
                    "onboarding_id": oid,
                    "pipeline": state.pipeline,
                    "stage": state.stage,
                    # For the board's inbox; the API's OpenTask leaves it out.
                    "customer": state.contract.customer.name,
                }
                for task in state.open_tasks()
                if owner_role is None or task.owner_role == owner_role
            ]

        found = [task for batch in await asyncio.gather(*map(tasks_of, ids)) for task in batch]
        return sorted(found, key=lambda task: (task["due_at"], task["id"]))

    # ---------------------------------------------------------------- act

    async def _running(self, oid: str) -> WorkflowHandle[Any, Any]:
        handle, description = await self._describe(oid)
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise ConflictError(
                f"onboarding {oid} is {_status_name(description.status)}: nothing more happens"
            )
        return handle

    async def apply_event(self, oid: str, event: EventInput, idempotency_key: str | None = None) -> str:
        handle = await self._target(oid, idempotency_key)
        stage: str = await self._update(
            handle, OnboardingWorkflow.apply_event, event, update_id=_update_id("event", idempotency_key)
        )
        return stage

    async def _target(self, oid: str, idempotency_key: str | None) -> WorkflowHandle[Any, Any]:
        """The run an action goes to. A retry with an Idempotency-Key goes to the latest run even
        when it has finished: Temporal answers an update it already applied with its result."""
        if idempotency_key is None:
            return await self._running(oid)
        handle, _ = await self._describe(oid)
        return handle

    async def tick_item(
        self, oid: str, tick: TickInput, idempotency_key: str | None = None
    ) -> list[ChecklistItemState]:
        handle = await self._target(oid, idempotency_key)
        # Keyed per item: a key reused for another item is another request, not a retry.
        key = _update_id(f"tick:{tick.item}", idempotency_key)
        items: list[ChecklistItemState] = await self._update(
            handle, OnboardingWorkflow.tick_item, tick, update_id=key
        )
        return items

    async def amend(self, oid: str, amend: AmendInput) -> str:
        handle = await self._running(oid)
        stage: str = await self._update(handle, OnboardingWorkflow.amend_contract, amend)
        return stage

    async def complete_task(self, task: str) -> str:
        oid = onboarding_of_task(task)
        if oid is None:
            raise NotFoundError(f"no task {task}")
        handle = await self._running(oid)
        await self._update(handle, OnboardingWorkflow.complete_task, task)
        return oid

    async def record_outcome(self, oid: str, outcome: OutcomeInput) -> tuple[int, str]:
        """How the kick-off went: ``completed`` (segment, advisor) completes the booked run;
        ``no_show`` and ``rescheduled`` restart onboarding. Returns (cycle, stage) afterwards.

        Every outcome goes through the run's own checks (booked, not recorded yet), so a
        double-submitted no-show restarts once, and nothing restarts a run never booked."""
        handle, description = await self._describe(oid)
        current = await self._state_of(oid, description)
        pipeline = self.catalog.get(current.pipeline)
        if pipeline is None or pipeline.kickoff_outcome is None:
            raise NotFoundError(f"pipeline {current.pipeline} does not record kick-off outcomes")
        if description.status != WorkflowExecutionStatus.RUNNING:
            if current.kickoff_outcome is not None:
                raise ConflictError(
                    f"onboarding {oid} is completed: the kick-off outcome is recorded already "
                    f"({current.kickoff_outcome.outcome})"
                )
            if outcome.outcome != "completed" and _is_goal(pipeline, current.stage):
                # Booked before outcomes were awaited, its run completed at the booking:
                # a no-show still restarts it, as POST /restart does.
                return await self.restart(oid, outcome.outcome, by=outcome.by)
            raise ConflictError(
                f"onboarding {oid} is {_status_name(description.status)}: its kick-off outcome "
                "can no longer be recorded"
            )
        return await self._send_outcome(handle, current, pipeline, outcome)

    async def _send_outcome(
        self,
        handle: WorkflowHandle[Any, Any],
        current: OnboardingState,
        pipeline: Pipeline,
        outcome: OutcomeInput,
    ) -> tuple[int, str]:
        """The ``record_kickoff_outcome`` update; a no-show or a rescheduling carries the restart
        it causes, with the pipeline's latest snapshot. Returns (cycle, stage) afterwards."""
        if outcome.outcome != "completed":
            restart = RestartInput(
                reason=outcome.outcome, pipeline=pipeline, pipeline_version=self.catalog.version(pipeline.id)
            )
            outcome = outcome.model_copy(update={"restart": restart})
        await self._update(handle, OnboardingWorkflow.record_kickoff_outcome, outcome, settle=OUTCOME_SETTLE)
        if outcome.restart is not None:
            return current.cycle + 1, pipeline.restart.stage
        return current.cycle, current.stage

    async def restart(self, oid: str, reason: str, by: str | None = None) -> tuple[int, str]:
        handle, description = await self._describe(oid)
        current = await self._state_of(oid, description)
        pipeline = self.catalog.get(current.pipeline)
        if pipeline is None:
            raise ConflictError(f"pipeline {current.pipeline!r} is no longer defined in pipelines.yaml")
        version = self.catalog.version(pipeline.id)
        running = description.status == WorkflowExecutionStatus.RUNNING
        if running and _awaits_outcome(pipeline, current) and reason in ("no_show", "rescheduled"):
            # Booked and waiting for its outcome: the no-show is that outcome, recorded on
            # this cycle (and in its search attributes) before the run continues as the next.
            try:
                no_show = OutcomeInput(outcome=reason, by=by)  # reason checked above
                return await self._send_outcome(handle, current, pipeline, no_show)
            except NotFoundError:
                pass  # a run started before outcomes were awaited: it completes, then restarts
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
            handle, description = await self._describe(oid)
        if description.status == WorkflowExecutionStatus.RUNNING:
            # The run itself continues as new, so the restart is one atomic step.
            cycle = await self._update(
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
            visits=current.visits,
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

    async def _update(
        self,
        handle: WorkflowHandle[Any, Any],
        update: Any,
        arg: Any,
        *,
        update_id: str | None = None,
        handed_over: bool = False,
        settle: timedelta | None = None,
    ) -> Any:
        """Run an update; with ``update_id`` (a client's Idempotency-Key) Temporal applies a
        retried request once and answers the retry with the first result.

        With ``settle``, answer once the run has accepted the update (its validator passed)
        and waited that long for its result (None if it is still being applied)."""
        try:
            if settle is None:
                return await handle.execute_update(update, arg, id=update_id, rpc_timeout=UPDATE_TIMEOUT)
            accepted = await handle.start_update(
                update,
                arg,
                id=update_id,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                rpc_timeout=UPDATE_TIMEOUT,
            )
            try:
                return await asyncio.wait_for(accepted.result(), settle.total_seconds())
            except TimeoutError:
                log.info("onboarding.update_still_applying", onboarding_id=handle.id)
                return None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            log.warning("onboarding.update_timed_out", onboarding_id=handle.id)
            raise UnavailableError(
                f"no worker answered within {UPDATE_TIMEOUT.seconds} s; the action was not confirmed "
                "and may still be applied when a worker is back: check the onboarding before retrying"
            ) from None
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause)
            kind = cause.type if isinstance(cause, ApplicationError) else None
            if kind == "LookupError":
                raise NotFoundError(message) from None
            if kind == "InvalidPayload":
                raise UnprocessableError(message) from None
            raise ConflictError(message) from None
        except RPCError as err:
            if err.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise
            # The run ended between our check and the update: finished, or rolled
            # over into its successor (continue-as-new), which takes the update instead.
            successor, description = await self._describe(handle.id)
            if not handed_over and description.status == WorkflowExecutionStatus.RUNNING:
                return await self._update(
                    successor, update, arg, update_id=update_id, handed_over=True, settle=settle
                )
            raise ConflictError(f"onboarding {handle.id} has finished: {err.message}") from None

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
    problems = []
    if contract.modules is not None and not contract.modules:
        problems.append("modules is empty: list the modules the contract includes, or leave the field out")
    for module in contract.modules or ():
        if module not in pipeline.modules:
            known = ", ".join(pipeline.modules) or "none"
            problems.append(f"unknown module {module!r} (modules of {pipeline.id}: {known})")
    for name in contract.dates:
        if name not in pipeline.contract_dates:
            known = ", ".join(pipeline.contract_dates) or "none"
            problems.append(f"unknown date {name!r} (dates {pipeline.id} uses: {known})")
    if problems:
        raise UnprocessableError("; ".join(problems))


def _awaits_outcome(pipeline: Pipeline, state: OnboardingState) -> bool:
    """Booked and in the stage where the pipeline awaits the kick-off outcome (the run may
    still be sending its closing mail; the workflow lets that finish first)."""
    spec = pipeline.kickoff_outcome
    return state.awaiting_outcome or (
        spec is not None and state.stage == spec.awaited_in and state.kickoff_outcome is None
    )


def _is_goal(pipeline: Pipeline, stage: str) -> bool:
    return stage in pipeline.stage_ids() and pipeline.stage(stage).goal


def _status_name(status: WorkflowExecutionStatus | None) -> str:
    return status.name.lower() if status is not None else "unknown"


def _differing_fields(old: Contract, new: Contract) -> Sequence[str]:
    a, b = old.model_dump(), new.model_dump()
    return [key for key in a if a[key] != b.get(key)]
