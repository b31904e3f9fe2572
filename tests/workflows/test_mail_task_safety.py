"""The run's own mail task never stalls or silently stops the run (state-first path)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from kickoff.domain import OnboardingState
from kickoff.engine import Run
from kickoff.mailcatcher import free_port
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.databases import mail_with_own_ledger
from tests.support import end_run, eventually, local_date, make_contract, onboarding_input, worker_for


async def _start(ts_env, task_queue, started_runs):
    now = await ts_env.get_current_time()
    inp = onboarding_input(make_contract(delivery_start=(local_date(now) - timedelta(days=2)).isoformat()))
    started_runs.append(inp.onboarding_id)
    return await ts_env.client.start_workflow(
        OnboardingWorkflow.run, inp, id=inp.onboarding_id, task_queue=task_queue
    )


async def test_a_relay_that_never_answers_does_not_hold_up_the_runs_state(
    ts_env, task_queue, tmp_path, started_runs
):
    """The relay accepts the connection and says nothing: the mail's local try gives up within
    seconds (an ordinary activity takes over), so the run answers queries well inside the API's
    5 s and its welcome-call task is there."""
    connections: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(
        lambda _, writer: connections.append(writer), "127.0.0.1", free_port()
    )
    port = silent.sockets[0].getsockname()[1]
    mail = mail_with_own_ledger("127.0.0.1", port, tmp_path / "l.sqlite3")
    async with (
        silent,
        worker_for(ts_env.client, task_queue, mail),
    ):
        handle = await _start(ts_env, task_queue, started_runs)
        began = time.monotonic()
        state = await eventually(
            lambda: handle.query(OnboardingWorkflow.state, rpc_timeout=timedelta(seconds=5)),
            lambda s: s.stage == "onboarding",
        )
        assert time.monotonic() - began < 5
        assert [t.kind for t in state.open_tasks()].count("call") == 1
        assert state.emails == []
        described = await eventually(handle.describe, lambda d: bool(d.raw_description.pending_activities))
        assert [a.activity_type.name for a in described.raw_description.pending_activities] == ["send_mail"]
        # The time-skipping server's clock stands still while an activity runs, so the hung
        # mail must end before the run does: with the relay gone its attempt fails (as do
        # its retries, at once). The run is ended once it has, while its worker still runs.
        silent.close()
        for writer in connections:
            writer.close()
        await eventually(
            handle.describe, lambda d: d.raw_description.pending_activities[0].attempt >= 2, within=30
        )
        await end_run(ts_env.client, handle.id)


async def test_a_bug_in_the_mail_task_fails_the_workflow_task_instead_of_stopping_mail(
    ts_env, task_queue, smtp, tmp_path, started_runs, monkeypatch
):
    """An exception in the mail task (not a mail that failed) must not end that task silently:
    the workflow task fails, so Temporal retries it and ops see it."""

    def broken(self, now):
        raise RuntimeError("a bug")

    monkeypatch.setattr(Run, "next_mail", broken)
    mail = mail_with_own_ledger(smtp.host, smtp.port, tmp_path / "l.sqlite3")
    async with worker_for(ts_env.client, task_queue, mail):
        handle = await _start(ts_env, task_queue, started_runs)

        async def failed_tasks() -> int:
            history = await handle.fetch_history()
            return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)

        assert await eventually(failed_tasks, lambda n: n >= 1) >= 1
        # Fixed, the retried workflow task succeeds and the run goes on. (Leaving it failing
        # at the end would also leave the time-skipping server's clock locked for the next test.)
        monkeypatch.undo()

        async def state_once_recovered() -> OnboardingState | None:
            try:
                return await handle.query(OnboardingWorkflow.state, rpc_timeout=timedelta(seconds=5))
            except (WorkflowQueryFailedError, RPCError):  # still failing: not yet retried
                return None

        state = await eventually(state_once_recovered, lambda s: s is not None and bool(s.emails), within=60)
        assert state is not None
        assert [m.template for m in state.emails] == ["welcome"]
