"""A worker killed mid-mail never makes the customer get the same mail twice."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

import pytest

from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.databases import migrated_sqlite
from tests.support import (
    ROOT,
    eventually,
    local_date,
    make_contract,
    onboarding_input,
    worker_for,
)

WORKFLOW_TASK_TIMEOUT = timedelta(seconds=10)
"""Temporal's default: how long a dead worker holds a workflow task (and its local activity)."""


@pytest.mark.parametrize("point", ["after-ledger", "before-ledger", "before-data"])
async def test_a_worker_killed_mid_mail_neither_sends_twice_nor_loses_the_mail(
    ts_env, task_queue, smtp, tmp_path, point, started_runs, key_env
):
    """Killed once SMTP accepted the mail, the retry finds the ledger entry and sends nothing;
    killed before DATA, the retry sends it. Either way the customer has exactly one welcome mail."""
    ledger_path = tmp_path / "ledger.sqlite3"
    ledger = MailLedger(migrated_sqlite(ledger_path))
    crashing = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.workflows.crashing_worker",
        ts_env.client.service_client.config.target_host,
        task_queue,
        str(smtp.port),
        str(ledger_path),
        point,
        cwd=ROOT,
        env={**os.environ, **key_env},  # the tests' master key and data keys
    )
    try:
        await _crash_and_recover(ts_env, task_queue, smtp, ledger, point, started_runs, crashing)
    finally:
        if crashing.returncode is None:  # it never reached its crash point: do not leave it behind
            crashing.kill()
            await crashing.wait()


async def _crash_and_recover(ts_env, task_queue, smtp, ledger, point, started_runs, crashing):
    now = await ts_env.get_current_time()
    inp = onboarding_input(make_contract(delivery_start=(local_date(now) - timedelta(days=5)).isoformat()))
    started_runs.append(inp.onboarding_id)
    welcome_id = f"<{inp.onboarding_id}.1.onboarding.1.enter-0@assist.example>"
    survivor = MailActivities(
        SmtpConfig(
            host=smtp.host, port=smtp.port, mail_from="Kickoff <kickoff@test.example>", claim_wait_seconds=1
        ),
        ledger,
    )
    # At first the run can go nowhere but to the crashing process.
    handle = await ts_env.client.start_workflow(
        OnboardingWorkflow.run, inp, id=inp.onboarding_id, task_queue=task_queue
    )
    assert await asyncio.wait_for(crashing.wait(), timeout=60) == 137
    assert len(smtp.with_message_id(welcome_id)) == (0 if point == "before-data" else 1)
    entry = await ledger.get(welcome_id)
    assert entry is not None
    expected = {"after-ledger": "sent", "before-ledger": "data_started", "before-data": "claimed"}
    assert entry.state == expected[point]

    # The dead worker's workflow task times out and this worker runs it again, mail included.
    async with worker_for(ts_env.client, task_queue, survivor):
        # (The test server holds its clock while a workflow task is out: this wait is real time.)
        state = await eventually(
            lambda: handle.query(OnboardingWorkflow.state),
            lambda s: (
                s.pending_actions == 0 and any(e.event in ("mail_sent", "mail_failed") for e in s.timeline)
            ),
            within=WORKFLOW_TASK_TIMEOUT.total_seconds() + 30,
        )

    assert len(smtp.with_message_id(welcome_id)) == 1
    if point in ("after-ledger", "before-data"):
        # Known delivered, or known not sent and sent now: the run goes on as if nothing happened.
        assert [(m.template, m.message_id) for m in state.emails] == [("welcome", welcome_id)]
    else:
        # Died inside DATA, so unknown whether delivered: never guess "no" and resend; ask staff.
        assert state.emails == []
        assert ("mail_failed", "welcome: MailDeliveryUnknown") in [
            (e.event, e.detail) for e in state.timeline
        ]
        assert any(t.title.startswith("Mail 'welcome' may not have reached") for t in state.open_tasks())
