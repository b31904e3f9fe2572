"""History cost per scenario, on the time-skipping test server: ``.venv/bin/python -m bench.history``.

For each scenario it runs one onboarding through the real workflow (real mail to a loopback
SMTP catcher) and prints the history it left: events, bytes, search-attribute upserts, timers
started and cancelled, the start input's size, and for the long partnership runs the size of
the state each continue-as-new carries. A benchmark, not a test: it prints numbers to compare
with the targets in the table at the end, and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kickoff.activities import MailActivities, MailLedger, SmtpConfig

try:
    from kickoff.converter import data_converter
except ImportError:  # measuring a release from before kickoff.converter (git worktree)
    from temporalio.contrib.pydantic import pydantic_data_converter as data_converter
try:
    from kickoff.activities import ReadModelActivities
    from kickoff.db.read_model import ReadModelStore
except ImportError:  # measuring a release from before the read model (git worktree)
    ReadModelActivities = None  # type: ignore[assignment,misc]
from kickoff.db import Database, migrate
from kickoff.domain import Contract, EventInput, OnboardingInput, OnboardingState, OutcomeInput, TickInput
from kickoff.mailcatcher import MailCatcher
from kickoff.pipelines import load_pipelines
from kickoff.temporal import ensure_search_attributes
from kickoff.worker import WORKFLOW_RUNNER
from kickoff.workflows.onboarding import OnboardingWorkflow

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STOCKHOLM = ZoneInfo("Europe/Stockholm")
PAKKEPILOT_GO_LIVE = (
    "portal_access",
    "integration_tested",
    "shipping_agreed",
    "returns_agreed",
    "escalation_known",
)
KUNDPROCESS_CUSTOMER_CARD = (
    "enrich_data",
    "decision_makers",
    "email_details",
    "services_bought",
    "future_opportunities",
    "customer_folder",
)
Scenario = Callable[["Bench"], Awaitable[WorkflowHandle[Any, Any]]]


@dataclass
class RunCost:
    events: int = 0
    bytes: int = 0
    upserts: int = 0
    timers: int = 0
    timers_cancelled: int = 0
    start_input: int = 0
    carried: int = 0


@dataclass
class ChainCost:
    runs: list[RunCost] = field(default_factory=list)

    def total(self, attr: str) -> int:
        return sum(getattr(run, attr) for run in self.runs)


@dataclass
class Bench:
    env: WorkflowEnvironment
    queue: str

    @property
    def client(self) -> Client:
        return self.env.client

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def start(
        self, pipeline: str, *, delivery_days: int = -1, **extra: Any
    ) -> WorkflowHandle[Any, Any]:
        catalog = load_pipelines(ROOT / "pipelines.yaml")
        now = await self.now()
        today = now.astimezone(STOCKHOLM).date()
        contract = Contract.model_validate(
            {
                "contract_id": f"B-{uuid.uuid4().hex[:10]}",
                "pipeline": pipeline,
                "signed_at": now.isoformat(),
                "delivery_start": (today + timedelta(days=delivery_days)).isoformat(),
                "customer": {"name": "Bänk AB", "org_number": "556000-0000"},
                "main_user": {"name": "Bo Bänk", "email": "bo@bank.example"},
                "licenses": 5,
                "language": catalog.pipelines[pipeline].default_language,
                **extra,
            }
        )
        spec = catalog.pipelines[pipeline]
        oid = f"{spec.id_prefix}-{contract.contract_id}"
        inp = OnboardingInput(
            onboarding_id=oid, contract=contract, pipeline=spec, pipeline_version=catalog.version(pipeline)
        )
        return await self.client.start_workflow(OnboardingWorkflow.run, inp, id=oid, task_queue=self.queue)

    async def skip(self, delta: timedelta, handle: WorkflowHandle[Any, Any]) -> None:
        """Move the clock, a day at a time, letting the run catch up at each step."""
        end = await self.now() + delta
        while (now := await self.now()) < end:
            await self.env.sleep(min(timedelta(days=1), end - now))
            await self.settle(handle)

    async def settle(self, handle: WorkflowHandle[Any, Any]) -> OnboardingState:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        latest = self.client.get_workflow_handle(handle.id)
        while True:
            description = await latest.describe()
            if description.status != WorkflowExecutionStatus.RUNNING:
                result: OnboardingState = await latest.result()
                return result
            state: OnboardingState = await latest.query(OnboardingWorkflow.state)
            due = state.next_step_at
            if state.pending_actions == 0 and (due is None or due > await self.now()):
                return state
            if loop.time() > deadline:
                raise TimeoutError(f"{handle.id} did not settle")
            await asyncio.sleep(0.05)

    async def event(self, handle: WorkflowHandle[Any, Any], name: str, **payload: Any) -> None:
        latest = self.client.get_workflow_handle(handle.id)
        await latest.execute_update(OnboardingWorkflow.apply_event, EventInput(name=name, payload=payload))
        await self.settle(handle)


# ------------------------------------------------------------------ scenarios


async def assist_never_booked(bench: Bench) -> WorkflowHandle[Any, Any]:
    handle = await bench.start("assist-se")
    await bench.skip(timedelta(days=90), handle)
    return handle


async def assist_booked_day_5(bench: Bench) -> WorkflowHandle[Any, Any]:
    handle = await bench.start("assist-se")
    await bench.skip(timedelta(days=5), handle)
    meeting = (await bench.now()) + timedelta(days=3)
    await bench.event(handle, "meeting_booked", meeting_at=meeting.isoformat())
    await bench.skip(timedelta(days=4), handle)
    # From the complete-at-goal release on the booking completed the run (its outcome is
    # recorded in Kickoff's database); earlier releases wait in `closed` for it.
    if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        await handle.execute_update(
            OnboardingWorkflow.record_kickoff_outcome,
            OutcomeInput(outcome="completed", segment="B", owner="Sara"),
        )
    await handle.result()
    return handle


async def pakkepilot_through_hypercare(bench: Bench) -> WorkflowHandle[Any, Any]:
    handle = await bench.start("pakkepilot-no", delivery_days=0)
    await bench.settle(handle)
    await bench.event(handle, "kickoff_held")
    await bench.skip(timedelta(days=12), handle)
    for item in (
        "portal_access",
        "integration_tested",
        "shipping_agreed",
        "returns_agreed",
        "escalation_known",
    ):
        await handle.execute_update(OnboardingWorkflow.tick_item, TickInput(item=item))
    await bench.event(handle, "go_live")
    await bench.skip(timedelta(days=9), handle)
    await handle.result()
    return handle


async def _partnership(bench: Bench, contact_every: timedelta | None) -> WorkflowHandle[Any, Any]:
    handle = await bench.start("kundprocess-se", delivery_days=0)
    await bench.settle(handle)
    for item in (
        "enrich_data",
        "decision_makers",
        "email_details",
        "services_bought",
        "future_opportunities",
        "customer_folder",
    ):
        await handle.execute_update(OnboardingWorkflow.tick_item, TickInput(item=item))
    await bench.event(handle, "start_delivery")
    end = await bench.now() + timedelta(days=3 * 365)
    step = contact_every or timedelta(days=30)
    while await bench.now() < end:
        await bench.skip(step, handle)
        if contact_every is not None:
            await bench.event(handle, "contact_logged", channel="phone", summary="Avstämning")
    return handle


async def kundprocess_3y_contacts(bench: Bench) -> WorkflowHandle[Any, Any]:
    return await _partnership(bench, timedelta(days=45))


async def kundprocess_3y_silent(bench: Bench) -> WorkflowHandle[Any, Any]:
    return await _partnership(bench, None)


SCENARIOS: dict[str, Scenario] = {
    "assist-se never booked, day 90": assist_never_booked,
    "assist-se booked on day 5 (to its outcome)": assist_booked_day_5,
    "pakkepilot-no through hypercare": pakkepilot_through_hypercare,
    "kundprocess-se 3 years, contact every 45 days": kundprocess_3y_contacts,
    "kundprocess-se 3 years, no contact": kundprocess_3y_silent,
}


# ------------------------------------------------------------------ measuring


async def chain_cost(client: Client, oid: str, first_run: str) -> ChainCost:
    """Every run of one onboarding, following its continue-as-new chain from ``first_run``."""
    cost = ChainCost()
    run_id: str | None = first_run
    while run_id:
        history = await client.get_workflow_handle(oid, run_id=run_id).fetch_history()
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            else None
        )
        run = RunCost(events=len(history.events), bytes=sum(e.ByteSize() for e in history.events))
        for event in history.events:
            kind = event.event_type
            if kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
                run.upserts += 1
            elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
                run.timers += 1
            elif kind == EventType.EVENT_TYPE_TIMER_CANCELED:
                run.timers_cancelled += 1
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                run.start_input = sum(p.ByteSize() for p in payloads)
                [inp] = data_converter.payload_converter.from_payloads(list(payloads), [OnboardingInput])
                if isinstance(inp, OnboardingInput) and inp.carried_state is not None:
                    run.carried = len(inp.carried_state.model_dump_json())
        cost.runs.append(run)
    return cost


async def measure(names: list[str]) -> dict[str, ChainCost]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter, test_server_existing_path=str(BIN / "temporal-test-server")
    )
    await ensure_search_attributes(env.client)
    smtp = MailCatcher()
    smtp.start()
    results: dict[str, ChainCost] = {}
    try:
        with TemporaryDirectory() as scratch:
            database = Database(f"sqlite+aiosqlite:///{Path(scratch) / 'kickoff.sqlite3'}")
            await migrate(database)
            mail = MailActivities(
                SmtpConfig(smtp.host, smtp.port, "Kickoff <kickoff@bench.example>"), MailLedger(database)
            )
            # What kickoff.worker.create_worker registers: the mail and the read-model write (a
            # local activity each run calls after a workflow task changed its snapshot).
            activities: list[Callable[..., Any]] = [mail.send_mail]
            if ReadModelActivities is not None:
                activities.append(ReadModelActivities(ReadModelStore(database)).write_read_model)
            for name in names:
                queue = f"bench-{uuid.uuid4().hex}"
                async with Worker(
                    env.client,
                    task_queue=queue,
                    workflows=[OnboardingWorkflow],
                    workflow_runner=WORKFLOW_RUNNER,
                    activities=activities,
                ):
                    handle = await SCENARIOS[name](Bench(env, queue))
                    assert handle.first_execution_run_id is not None
                    results[name] = await chain_cost(env.client, handle.id, handle.first_execution_run_id)
                    # A run left open without its worker would hold the test server's clock still;
                    # one terminated mid workflow task too (a query waits for that task to end).
                    latest = env.client.get_workflow_handle(handle.id)
                    with contextlib.suppress(RPCError):
                        await latest.query(OnboardingWorkflow.state)
                        await latest.terminate("measured")
    finally:
        smtp.stop()
        await env.shutdown()
    return results


def report(results: dict[str, ChainCost]) -> None:
    print(
        "| scenario | runs | events (max per run) | history KiB | upserts | timers started / cancelled "
        "| start input (bytes) | carried state (bytes, max) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, cost in results.items():
        most = max(run.events for run in cost.runs)
        carried = max((run.carried for run in cost.runs), default=0)
        print(
            f"| {name} | {len(cost.runs)} | {cost.total('events')} ({most}) "
            f"| {cost.total('bytes') / 1024:.1f} "
            f"| {cost.total('upserts')} | {cost.total('timers')} / {cost.total('timers_cancelled')} "
            f"| {cost.runs[0].start_input} | {carried} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="*", help="scenario names (default: all)", default=list(SCENARIOS))
    names = parser.parse_args().scenario
    started = datetime.now(UTC)
    results = asyncio.run(measure(names))
    report(results)
    print(f"\n({len(results)} scenarios in {(datetime.now(UTC) - started).total_seconds():.0f} s)")


if __name__ == "__main__":
    main()
