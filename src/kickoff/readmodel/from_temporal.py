"""The read model from Temporal, the source of truth: a full rebuild, and the sweep of closed runs.

``rebuild`` asks every onboarding's latest run for its snapshot (the ``read_model`` query) and
stores it, order-safe as the runs' own writes are: a run that writes while the rebuild goes on
keeps its newer row. Running runs started before the read model existed are signalled to join
it (``join_read_model``), so they keep it current from then on; the same signal has runs started
before the report facts (anchors, records) write those too. The query's snapshot always has them,
so a rebuild fills them for every run it reads, completed ones included.

``sweep_closed`` repairs what a run cannot write itself: ops terminated it (or it failed or
timed out), or it completed while the database was failing. The worker runs it every half
minute over runs closed in the last quarter of an hour: one visibility list, and a query only
for a closed run whose row still says running.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError

from kickoff.crypto import ErasedError, UnknownKeyError
from kickoff.db.read_model import ReadModelStore
from kickoff.readmodel.snapshot import Snapshot
from kickoff.service.runs import status_name
from kickoff.temporal import deployment_scope
from kickoff.workflows.onboarding import OnboardingWorkflow

CONCURRENCY = 8
SWEEP_EVERY = timedelta(seconds=30)
SWEEP_WINDOW = timedelta(minutes=15)
_ENDED_BY_OPS = (
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
)
log = structlog.get_logger(__name__)


@dataclass
class RebuildResult:
    stored: int = 0
    joined: int = 0
    removed: int = 0
    failed: list[str] = field(default_factory=list)
    """Onboardings whose run did not answer (no worker?): their rows were left as they were."""
    erased: int = 0
    """Onboardings whose personal data was erased: their rows stay as erasure left them."""


async def latest_runs(client: Client, query: str) -> list[WorkflowExecution]:
    """Each workflow id's newest run matching ``query`` (ContinuedAsNew ones left out)."""
    latest: dict[str, WorkflowExecution] = {}
    async for execution in client.list_workflows(f"{query} AND ExecutionStatus != 'ContinuedAsNew'"):
        current = latest.get(execution.id)
        if current is None or execution.start_time > current.start_time:
            latest[execution.id] = execution
    return list(latest.values())


async def snapshot_from_run(client: Client, execution: WorkflowExecution) -> Snapshot:
    """The run's snapshot as its own code makes it; a run ops ended is shown with that status."""
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, execution.id, run_id=execution.run_id)
    snapshot = await handle.query(OnboardingWorkflow.read_model)
    status = execution.status
    if status in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED, None):
        return snapshot
    ended = snapshot.entry.model_copy(
        update={"status": status_name(status), "next_step": None, "next_step_at": None, "open_tasks": 0}
    )
    return Snapshot(
        entry=ended.model_copy(update={"open_task_roles": []}), visits=snapshot.visits, facts=snapshot.facts
    )


async def rebuild(
    client: Client, store: ReadModelStore, task_queue: str, *, clear: bool = False
) -> RebuildResult:
    """Store every onboarding's snapshot; rows of onboardings Temporal no longer has are removed
    (``clear``: every row first, for a read model that cannot be trusted at all)."""
    if clear:
        await store.clear()
    runs = await latest_runs(client, deployment_scope(task_queue))
    result = RebuildResult()
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(execution: WorkflowExecution) -> None:
        async with limit:
            try:
                if execution.status == WorkflowExecutionStatus.RUNNING:
                    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, execution.id)
                    await handle.signal(OnboardingWorkflow.join_read_model)
                    result.joined += 1
                await store.write(await snapshot_from_run(client, execution))
                result.stored += 1
            except ErasedError:
                result.erased += 1
            except (RPCError, WorkflowQueryFailedError, UnknownKeyError) as err:
                log.warning("read_model.rebuild_failed", onboarding_id=execution.id, error=type(err).__name__)
                result.failed.append(execution.id)

    await asyncio.gather(*map(one, runs))
    result.removed = await store.remove_except({execution.id for execution in runs})
    return result


async def sweep_closed(client: Client, store: ReadModelStore, task_queue: str, now: datetime) -> int:
    """Bring runs closed lately into the read model if they could not write it; returns how many."""
    since = (now - SWEEP_WINDOW).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = f"{deployment_scope(task_queue)} AND ExecutionStatus != 'Running' AND CloseTime > '{since}'"
    repaired = 0
    for execution in await latest_runs(client, query):
        entry = await store.entry(execution.id)
        if entry is None or entry.run_id != execution.run_id or entry.status != "running":
            continue  # the run wrote its end itself, or a newer run took over
        ended = execution.status in _ENDED_BY_OPS
        try:
            snapshot = await snapshot_from_run(client, execution)
        except (RPCError, WorkflowQueryFailedError, ErasedError, UnknownKeyError):
            if not ended:
                continue  # no worker answers now: the next sweep tries again
            await store.mark_ended(execution.id, execution.run_id, status_name(execution.status))
        else:
            await store.write(snapshot)
        repaired += 1
    return repaired


async def sweep_forever(client: Client, store: ReadModelStore, task_queue: str) -> None:
    """The worker's sweep loop; a failed sweep is logged and tried again next time."""
    while True:
        try:
            repaired = await sweep_closed(client, store, task_queue, datetime.now(UTC))
            if repaired:
                log.info("read_model.swept", repaired=repaired)
        except Exception as err:  # the sweep is a repair: it must never stop the worker
            log.warning("read_model.sweep_failed", error=type(err).__name__)
        await asyncio.sleep(SWEEP_EVERY.total_seconds())
