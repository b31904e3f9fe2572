"""A read-model write that fails never holds up the run: it goes on, flags itself for ops and
the views, retries on its own, and still completes at its goal."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from kickoff import search_attributes as sa
from kickoff.readmodel.snapshot import Snapshot
from kickoff.worker import WORKFLOW_RUNNER
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.support import at_eight, book_meeting, local_date, make_contract, start_run

WRITES: list[int] = []


@activity.defn(name="write_read_model")
async def failing_write(snapshot: Snapshot) -> bool:
    WRITES.append(snapshot.entry.revision)
    raise ApplicationError("the database is down")


async def test_failing_writes_block_nothing_and_the_run_still_completes(
    ts_env, task_queue, mail_activities, smtp
):
    WRITES.clear()
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[OnboardingWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        activities=[mail_activities.send_mail, failing_write],
    ):
        now = await ts_env.get_current_time()
        # Two days back: onboarding begins at 08:00 the day after delivery, which has passed
        # at any time of day (one day back, it lies ahead until 08:00 local).
        delivery = local_date(now) - timedelta(days=2)
        handle = await start_run(ts_env, task_queue, make_contract(delivery_start=delivery.isoformat()))
        # Ten minutes with the database down: the run retries, backing off, the newest state first.
        await ts_env.sleep(timedelta(minutes=10))
        running = await handle.describe()
        assert running.typed_search_attributes.get(sa.READ_MODEL_BEHIND) is True
        assert (await handle.query(OnboardingWorkflow.state)).stage == "onboarding"
        assert 4 <= len(WRITES) <= 12  # 2, 4, 8, ... s apart, then every 5 minutes
        assert sorted(set(WRITES)) == WRITES  # each try a higher revision
        assert await book_meeting(handle, at_eight(local_date(now) + timedelta(days=7))) == "closed"
        closed = await handle.result()
    # The run completes at its goal all the same: it does not wait for the database.
    assert (closed.status, closed.stage) == ("completed", "closed")
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
