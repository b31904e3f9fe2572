"""Record real run histories for the replay test: ``python -m tests.histories.record``.

Re-record only when a workflow change is *meant* to be incompatible (and then
version the workflow so runs in flight keep replaying); a failing replay test
otherwise means the change would break every running onboarding.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.converter import data_converter
from kickoff.domain import TickInput
from kickoff.mailcatcher import MailCatcher, free_port
from kickoff.service import OnboardingService
from kickoff.temporal import ensure_search_attributes
from kickoff.worker import WORKFLOW_RUNNER
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.databases import migrated_sqlite
from tests.support import (
    at_eight,
    book_meeting,
    catalog,
    end_run,
    eventually,
    kickoff_activities,
    local_date,
    make_contract,
    send_event,
    settled_state,
    skip_to,
    start_run,
)

HERE = Path(__file__).parent
Scenario = Callable[[WorkflowEnvironment, str, MailActivities], Awaitable[WorkflowHandle[Any, Any]]]
CURRENT = HERE / "read_model"
"""Recordings of runs this release starts (state first, completing at their goal, writing the
read model). The files directly in this folder (the queued path), in ``state_first/`` (runs
that wait in their goal stage for a kick-off outcome) and in ``complete_at_goal/`` (runs
without read-model writes) were recorded by earlier releases: they guard runs in flight and
are never overwritten."""


async def unbooked_to_inactive(
    env: WorkflowEnvironment, queue: str, mail: MailActivities
) -> WorkflowHandle[Any, Any]:
    now = await env.get_current_time()
    delivery = local_date(now) + timedelta(days=2)
    handle = await start_run(env, queue, make_contract(delivery_start=delivery.isoformat()))
    await skip_to(env, at_eight(delivery + timedelta(days=62)))
    await settled_state(env, handle)
    return handle


async def calls_tasks_and_booking(
    env: WorkflowEnvironment, queue: str, mail: MailActivities
) -> WorkflowHandle[Any, Any]:
    now = await env.get_current_time()
    handle = await start_run(
        env, queue, make_contract(delivery_start=(local_date(now) - timedelta(days=1)).isoformat())
    )
    await skip_to(env, at_eight(local_date(now) + timedelta(days=4)))
    await send_event(handle, "call_logged", outcome="no_answer", note=None)
    state = await settled_state(env, handle)
    await handle.execute_update(OnboardingWorkflow.complete_task, state.open_tasks()[0].id)
    await book_meeting(handle, at_eight(local_date(now) + timedelta(days=10)))
    await handle.result()  # the booking completes the run
    return handle


async def booked_then_no_show(
    env: WorkflowEnvironment, queue: str, mail: MailActivities
) -> WorkflowHandle[Any, Any]:
    """Booked: the run completes; the no-show (recorded in the database) starts the next cycle
    as a new run of the same id."""
    now = await env.get_current_time()
    handle = await start_run(
        env, queue, make_contract(delivery_start=(local_date(now) - timedelta(days=1)).isoformat())
    )
    await book_meeting(handle, at_eight(local_date(now) + timedelta(days=3)))
    await handle.result()
    with tempfile.TemporaryDirectory() as scratch:
        database = migrated_sqlite(Path(scratch) / "kickoff.sqlite3")
        await OnboardingService(env.client, catalog(), queue, database=database).restart(handle.id, "no_show")
        await database.dispose()
    return env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)  # the booked run


async def booked_then_completed(
    env: WorkflowEnvironment, queue: str, mail: MailActivities
) -> WorkflowHandle[Any, Any]:
    """Booked a week ahead: the run mails the team and completes (the outcome, recorded after
    the meeting, goes to the database and adds nothing to the run's history)."""
    now = await env.get_current_time()
    handle = await start_run(
        env, queue, make_contract(delivery_start=(local_date(now) - timedelta(days=1)).isoformat())
    )
    await book_meeting(handle, at_eight(local_date(now) + timedelta(days=7)))
    await handle.result()
    return handle


async def park_until_and_resume(
    env: WorkflowEnvironment, queue: str, mail: MailActivities
) -> WorkflowHandle[Any, Any]:
    now = await env.get_current_time()
    handle = await start_run(
        env, queue, make_contract(delivery_start=(local_date(now) - timedelta(days=1)).isoformat())
    )
    await skip_to(env, at_eight(local_date(now) + timedelta(days=2)))
    await send_event(
        handle, "park", reason="Semester", until=(local_date(now) + timedelta(days=20)).isoformat()
    )
    await skip_to(env, at_eight(local_date(now) + timedelta(days=24)))
    await send_event(handle, "park", reason="Sjuk", until=None)
    await send_event(handle, "resume")
    await settled_state(env, handle)
    return handle


async def restart_while_running(
    env: WorkflowEnvironment, queue: str, mail: MailActivities
) -> WorkflowHandle[Any, Any]:
    now = await env.get_current_time()
    handle = await start_run(
        env, queue, make_contract(delivery_start=(local_date(now) - timedelta(days=1)).isoformat())
    )
    await skip_to(env, at_eight(local_date(now) + timedelta(days=8)))
    await OnboardingService(env.client, catalog(), queue).restart(handle.id, "rescheduled")
    # The first run ended in continue-as-new; its history is what we keep.
    return env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)


async def pakkepilot_go_live(
    env: WorkflowEnvironment, queue: str, mail: MailActivities
) -> WorkflowHandle[Any, Any]:
    """Business days, a gated go-live after ticking the checklist, a week of hypercare."""
    now = await env.get_current_time()
    contract = make_contract(
        pipeline="pakkepilot-no",
        language="en",
        signed_at=now.isoformat(),
        delivery_start=now.date().isoformat(),
    )
    handle = await start_run(env, queue, contract)
    await send_event(handle, "kickoff_held")
    await skip_to(env, now + timedelta(days=5))
    for item in (
        "portal_access",
        "integration_tested",
        "shipping_agreed",
        "returns_agreed",
        "escalation_known",
    ):
        await handle.execute_update(OnboardingWorkflow.tick_item, TickInput(item=item))
    await send_event(handle, "go_live")
    await handle.result()
    return handle


async def kundprocess_contact_clock(
    env: WorkflowEnvironment, queue: str, mail: MailActivities
) -> WorkflowHandle[Any, Any]:
    """Delivery programme, a logged contact, and the 90-day reminder that rolls the run over."""
    now = await env.get_current_time()
    contract = make_contract(
        pipeline="kundprocess-se", signed_at=now.isoformat(), delivery_start=now.date().isoformat()
    )
    handle = await start_run(env, queue, contract)
    items = ("enrich_data", "decision_makers", "email_details", "services_bought")
    for item in (*items, "future_opportunities", "customer_folder"):
        await handle.execute_update(OnboardingWorkflow.tick_item, TickInput(item=item))
    await send_event(handle, "start_delivery")
    await skip_to(env, now + timedelta(weeks=9))
    await send_event(handle, "contact_logged", channel="meeting", summary="Hälsokontroll")
    await skip_to(env, now + timedelta(weeks=9, days=91))
    # The first run continued as new at the reminder; its history is what we keep.
    first = env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    await eventually(first.describe, lambda d: d.status == WorkflowExecutionStatus.CONTINUED_AS_NEW)
    return first


async def pakkepilot_quick_kickoff(
    env: WorkflowEnvironment, queue: str, mail: MailActivities
) -> WorkflowHandle[Any, Any]:
    """The kick-off reported the moment the contract is in: the stage's tasks stay."""
    now = await env.get_current_time()
    contract = make_contract(
        pipeline="pakkepilot-no",
        language="nb",
        signed_at=now.isoformat(),
        delivery_start=now.date().isoformat(),
    )
    handle = await start_run(env, queue, contract)
    await send_event(handle, "kickoff_held")
    await skip_to(env, now + timedelta(days=3))
    await settled_state(env, handle)
    return handle


async def mail_after_relay_outage(
    env: WorkflowEnvironment, queue: str, mail: MailActivities
) -> WorkflowHandle[Any, Any]:
    """SMTP down: the local try fails, the activity retries, is flagged slow, then goes out."""
    now = await env.get_current_time()
    relay, mail.smtp = mail.smtp, SmtpConfig("127.0.0.1", free_port(), mail.smtp.mail_from)
    try:
        handle = await start_run(
            env, queue, make_contract(delivery_start=(local_date(now) - timedelta(days=1)).isoformat())
        )
        await eventually(handle.describe, lambda d: bool(d.raw_description.pending_activities))
        await env.sleep(timedelta(minutes=16))
        await eventually(lambda: handle.query(OnboardingWorkflow.state), lambda s: s.retrying_actions == 1)
    finally:
        mail.smtp = relay
    await env.sleep(timedelta(minutes=11))
    await eventually(lambda: handle.query(OnboardingWorkflow.state), lambda s: bool(s.emails))
    return handle


SCENARIOS: dict[str, Scenario] = {
    "unbooked_to_inactive": unbooked_to_inactive,
    "calls_tasks_and_booking": calls_tasks_and_booking,
    "park_until_and_resume": park_until_and_resume,
    "restart_while_running": restart_while_running,
    "pakkepilot_go_live": pakkepilot_go_live,
    "kundprocess_contact_clock": kundprocess_contact_clock,
    "booked_then_no_show": booked_then_no_show,
    "booked_then_completed": booked_then_completed,
    "pakkepilot_quick_kickoff": pakkepilot_quick_kickoff,
    "mail_after_relay_outage": mail_after_relay_outage,
}


async def record_all(ledger: Path, names: list[str]) -> dict[str, str]:
    """Run the named scenarios on a fresh time-skipping server; their histories as JSON."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter,
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
    )
    await ensure_search_attributes(env.client)
    smtp = MailCatcher()
    smtp.start()
    mail = MailActivities(
        SmtpConfig(smtp.host, smtp.port, "Kickoff <kickoff@test.example>"),
        MailLedger(migrated_sqlite(ledger)),
    )
    recorded: dict[str, str] = {}
    try:
        for name in names:
            scenario = SCENARIOS[name]
            queue = f"record-{uuid.uuid4().hex}"
            async with Worker(
                env.client,
                task_queue=queue,
                workflows=[OnboardingWorkflow],
                workflow_runner=WORKFLOW_RUNNER,
                activities=kickoff_activities(mail),
            ):
                handle = await scenario(env, queue, mail)
                recorded[name] = (await handle.fetch_history()).to_json()
                await end_run(env.client, handle.id)
    finally:
        smtp.stop()
        await env.shutdown()
    return recorded


def main() -> None:
    """Record the scenarios named on the command line (default: all of them) into read_model/.

    The recordings directly in tests/histories (the queued path), in state_first/ and in
    complete_at_goal/ were made by older releases and are never overwritten: they are what
    proves runs in flight still replay.
    """
    names = sys.argv[1:] or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {list(SCENARIOS)}")
    with tempfile.TemporaryDirectory() as scratch:
        recorded = asyncio.run(record_all(Path(scratch) / "ledger.sqlite3", names))
    CURRENT.mkdir(exist_ok=True)
    for name, history in recorded.items():
        (CURRENT / f"{name}.json").write_text(history, encoding="utf-8")
        print(f"recorded {name}")


if __name__ == "__main__":
    main()
