"""Helpers shared by the tests: contracts, pipelines, and waiting with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kickoff.activities import MailActivities, ReadModelActivities
from kickoff.db import Database
from kickoff.db.read_model import ReadModelStore
from kickoff.domain import (
    Contract,
    EventInput,
    OnboardingInput,
    OnboardingState,
    OutcomeInput,
    onboarding_id,
)
from kickoff.pipelines import PipelineCatalog, load_pipelines
from kickoff.worker import WORKFLOW_RUNNER
from kickoff.workflows.onboarding import OnboardingWorkflow

ROOT = Path(__file__).resolve().parent.parent
PIPELINES_FILE = ROOT / "pipelines.yaml"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
T = TypeVar("T")


def catalog() -> PipelineCatalog:
    return load_pipelines(PIPELINES_FILE)


def sthlm(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Stockholm wall-clock moment as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).astimezone(UTC)


def local_today(tz: ZoneInfo = STOCKHOLM) -> date:
    """Today's date on the wall clock of ``tz`` (real time: for tests against a real-time server)."""
    return datetime.now(tz).date()


def days_ahead(days: int, hour: int, minute: int = 0, tz: ZoneInfo = STOCKHOLM) -> datetime:
    """``days`` after today, at ``hour``:``minute`` wall-clock time in ``tz`` (aware, in ``tz``).

    Tests against a real-time server compute their dates with this, so that none of them
    depends on the day it runs: a hard-coded date lies in the past one day."""
    day = local_today(tz) + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def contract_payload(contract_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """An assist-se contract, by default signed two days ago at 10:00 with its delivery start that
    day (so a run moves to `onboarding` at once); ``overrides`` replace fields."""
    body: dict[str, Any] = {
        "contract_id": contract_id or f"C-{uuid.uuid4().hex[:10]}",
        "pipeline": "assist-se",
        "signed_at": days_ahead(-2, 10).isoformat(),
        "delivery_start": (local_today() - timedelta(days=2)).isoformat(),
        "customer": {"name": "Åre Hälsa & Söner AB", "org_number": "556677-8899"},
        "main_user": {"name": "Örjan Ängström", "email": "orjan@are-halsa.example"},
        "licenses": 12,
        "language": "sv",
    }
    body.update(overrides)
    return body


def make_contract(**overrides: Any) -> Contract:
    return Contract.model_validate(contract_payload(**overrides))


def onboarding_input(contract: Contract, pipelines: PipelineCatalog | None = None) -> OnboardingInput:
    pipelines = pipelines or catalog()
    pipeline = pipelines.pipelines[contract.pipeline]
    return OnboardingInput(
        onboarding_id=onboarding_id(pipeline.id_prefix, contract.contract_id),
        contract=contract,
        pipeline=pipeline,
        pipeline_version=pipelines.version(contract.pipeline),
    )


async def eventually(
    probe: Callable[[], Awaitable[T]],
    check: Callable[[T], bool],
    *,
    within: float = 20.0,
    interval: float = 0.1,
) -> T:
    """Poll ``probe`` until ``check`` holds or ``within`` seconds pass (then fail loudly)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: T | None = None
    while True:
        last = await probe()
        if check(last):
            return last
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {last!r}")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------
# Driving runs on the time-skipping server.


def local_date(moment: datetime) -> date:
    return moment.astimezone(STOCKHOLM).date()


def at_eight(d: date) -> datetime:
    """08:00 Stockholm wall time on ``d``, as aware UTC: when assist-se steps happen."""
    return sthlm(d.year, d.month, d.day, 8)


STARTED_RUNS: list[str] = []
"""Workflow ids started on the time-skipping server by the current test.

A run left behind without a worker would hold the shared test-server clock
still (its due workflow tasks are never completed), so the worker fixture
terminates every run listed here when its test ends."""


async def start_run(
    env: WorkflowEnvironment,
    task_queue: str,
    contract: Contract,
    pipelines: PipelineCatalog | None = None,
) -> WorkflowHandle[OnboardingWorkflow, OnboardingState]:
    inp = onboarding_input(contract, pipelines)
    STARTED_RUNS.append(inp.onboarding_id)
    return await env.client.start_workflow(
        OnboardingWorkflow.run, inp, id=inp.onboarding_id, task_queue=task_queue
    )


async def end_run(client: Client, workflow_id: str) -> None:
    """Terminate a test's run, once its workflow task in progress (a mail's local try) is done.

    The time-skipping test server keeps its clock locked for a workflow task that was in
    progress when its run was terminated: every later test on that server would then hang.
    A query is answered only after that task, so it is the wait."""
    handle = client.get_workflow_handle(workflow_id)
    # Only a running run is queried: a query to a closed run waits for a worker to replay
    # it, and one left unanswered (the test's worker is gone) holds that clock locked too.
    with contextlib.suppress(RPCError):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return
    with contextlib.suppress(RPCError, WorkflowQueryFailedError):
        await handle.query(OnboardingWorkflow.state, rpc_timeout=timedelta(seconds=10))
    with contextlib.suppress(RPCError):  # finished already
        await handle.terminate("test finished")


async def skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    """Advance the time-skipping server's clock to ``moment`` (no-op if already past)."""
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)


async def settled_state(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> OnboardingState:
    """The run's state once it has caught up: no queued actions and no step already due."""

    async def read() -> tuple[OnboardingState, datetime]:
        state: OnboardingState = await handle.query(OnboardingWorkflow.state)
        return state, await env.get_current_time()

    def caught_up(pair: tuple[OnboardingState, datetime]) -> bool:
        state, now = pair
        due = state.next_step_at
        return state.pending_actions == 0 and (due is None or due > now or state.status != "running")

    state, _ = await eventually(read, caught_up)
    return state


async def book_meeting(handle: WorkflowHandle[Any, Any], meeting_at: datetime) -> str:
    stage: str = await handle.execute_update(
        OnboardingWorkflow.apply_event,
        EventInput(name="meeting_booked", payload={"meeting_at": meeting_at.isoformat()}),
    )
    return stage


@workflow.defn(name="Onboarding", sandboxed=False)  # a test module: not re-imported per run
class EarlierRelease(OnboardingWorkflow):
    """The workflow as runs already waiting in their goal stage go on running it: a booked run
    stays open until its kick-off outcome is recorded through the run (no ``complete-at-goal``)."""

    @workflow.init
    def __init__(self, input: OnboardingInput) -> None:
        super().__init__(input)

    @workflow.run
    async def run(self, input: OnboardingInput) -> OnboardingState:
        return await super().run(input)

    def _completes_at_goal(self) -> bool:
        return False


async def record_completed_kickoff(
    handle: WorkflowHandle[Any, Any], segment: str = "B", owner: str = "Sara Lind"
) -> int:
    """The kick-off was held: the booked run of the earlier release (waiting in `closed`) completes."""
    cycle: int = await handle.execute_update(
        OnboardingWorkflow.record_kickoff_outcome,
        OutcomeInput(outcome="completed", segment=segment, owner=owner),
    )
    return cycle


async def send_event(handle: WorkflowHandle[Any, Any], name: str, **payload: str | None) -> str:
    stage: str = await handle.execute_update(
        OnboardingWorkflow.apply_event, EventInput(name=name, payload=payload)
    )
    return stage


def entries(state: OnboardingState, event: str) -> list[tuple[datetime, str]]:
    return [(entry.at, entry.detail) for entry in state.timeline if entry.event == event]


def kickoff_activities(mail: MailActivities, database: Database | None = None) -> list[Any]:
    """The worker's activities: ``mail``, and the read-model write into ``database`` (default:
    the mail ledger's database, as in production)."""
    store = ReadModelStore(database or mail.ledger.database)
    return [mail.send_mail, ReadModelActivities(store).write_read_model]


def worker_for(
    client: Client, task_queue: str, mail: MailActivities, workflow: type = OnboardingWorkflow
) -> Worker:
    """A worker (an async context manager) running ``workflow`` and its mail on ``task_queue``,
    sandboxed as in production."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[workflow],
        workflow_runner=WORKFLOW_RUNNER,
        activities=kickoff_activities(mail),
    )


def refusal(response: Any) -> str:
    """The reason an error answer gives, as text: a 422's ``detail`` is a list of
    ``{type, loc, msg}`` (their messages, joined), other refusals' a string."""
    detail = response.json()["detail"]
    if isinstance(detail, str):
        return detail
    return "; ".join(str(item.get("msg", "")) for item in detail)
