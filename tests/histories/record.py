"""Record real run histories for the replay test: ``python -m tests.histories.record``.

Re-record only when a workflow change is *meant* to be incompatible (and then
version the workflow so runs in flight keep replaying); a failing replay test
otherwise means the change would break every running onboarding.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.api.service import OnboardingService
from kickoff.mailcatcher import MailCatcher
from kickoff.worker import ensure_search_attributes
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.support import (
    at_eight,
    book_meeting,
    catalog,
    local_date,
    make_contract,
    send_event,
    settled_state,
    skip_to,
    start_run,
)

HERE = Path(__file__).parent
Scenario = Callable[[WorkflowEnvironment, str], Awaitable[WorkflowHandle[Any, Any]]]


async def unbooked_to_inactive(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    now = await env.get_current_time()
    delivery = local_date(now) + timedelta(days=2)
    handle = await start_run(env, queue, make_contract(delivery_start=delivery.isoformat()))
    await skip_to(env, at_eight(delivery + timedelta(days=62)))
    await settled_state(env, handle)
    return handle


async def calls_tasks_and_booking(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    now = await env.get_current_time()
    handle = await start_run(
        env, queue, make_contract(delivery_start=(local_date(now) - timedelta(days=1)).isoformat())
    )
    await skip_to(env, at_eight(local_date(now) + timedelta(days=4)))
    await send_event(handle, "call_logged", outcome="no_answer", note=None)
    state = await settled_state(env, handle)
    await handle.execute_update(OnboardingWorkflow.complete_task, state.open_tasks()[0].id)
    await book_meeting(handle, at_eight(local_date(now) + timedelta(days=10)))
    await handle.result()
    return handle


async def park_until_and_resume(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
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


async def restart_while_running(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    now = await env.get_current_time()
    handle = await start_run(
        env, queue, make_contract(delivery_start=(local_date(now) - timedelta(days=1)).isoformat())
    )
    await skip_to(env, at_eight(local_date(now) + timedelta(days=8)))
    await OnboardingService(env.client, catalog(), queue).restart(handle.id, "rescheduled")
    # The first run ended in continue-as-new; its history is what we keep.
    return env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)


SCENARIOS: dict[str, Scenario] = {
    "unbooked_to_inactive": unbooked_to_inactive,
    "calls_tasks_and_booking": calls_tasks_and_booking,
    "park_until_and_resume": park_until_and_resume,
    "restart_while_running": restart_while_running,
}


async def record_all(ledger: Path) -> dict[str, str]:
    """Run every scenario on a fresh time-skipping server; their histories as JSON."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
    )
    await ensure_search_attributes(env.client)
    smtp = MailCatcher()
    smtp.start()
    mail = MailActivities(
        SmtpConfig(smtp.host, smtp.port, "Kickoff <kickoff@test.example>"), MailLedger(ledger)
    )
    recorded: dict[str, str] = {}
    try:
        for name, scenario in SCENARIOS.items():
            queue = f"record-{uuid.uuid4().hex}"
            async with Worker(
                env.client, task_queue=queue, workflows=[OnboardingWorkflow], activities=[mail.send_mail]
            ):
                handle = await scenario(env, queue)
                recorded[name] = (await handle.fetch_history()).to_json()
                with contextlib.suppress(RPCError):  # already finished
                    await env.client.get_workflow_handle(handle.id).terminate("recorded")
    finally:
        smtp.stop()
        await env.shutdown()
    return recorded


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        recorded = asyncio.run(record_all(Path(scratch) / "ledger.sqlite3"))
    for name, history in recorded.items():
        (HERE / f"{name}.json").write_text(history, encoding="utf-8")
        print(f"recorded {name}")


if __name__ == "__main__":
    main()
