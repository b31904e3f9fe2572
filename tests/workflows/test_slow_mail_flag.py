"""A mail SMTP keeps refusing is flagged for ops (KickoffRetryingActions) while it retries."""

from __future__ import annotations

from datetime import timedelta

from kickoff import search_attributes as sa
from kickoff.activities import SmtpConfig
from kickoff.mailcatcher import free_port
from kickoff.workflows.mail_effect import MAIL_SLOW_AFTER
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.databases import mail_with_own_ledger
from tests.support import eventually, local_date, make_contract, onboarding_input, worker_for

MAIL_FROM = "Kickoff <kickoff@test.example>"


async def test_a_mail_retrying_past_the_slow_mark_is_counted_until_it_goes_out(
    ts_env, task_queue, smtp, tmp_path, started_runs
):
    mail = mail_with_own_ledger("127.0.0.1", free_port(), tmp_path / "l.sqlite3")
    now = await ts_env.get_current_time()
    inp = onboarding_input(make_contract(delivery_start=(local_date(now) - timedelta(days=3)).isoformat()))
    started_runs.append(inp.onboarding_id)

    async def state():
        return await handle.query(OnboardingWorkflow.state)

    async def retrying_attribute():
        return (await handle.describe()).typed_search_attributes.get(sa.RETRYING_ACTIONS)

    async with worker_for(ts_env.client, task_queue, mail):
        handle = await ts_env.client.start_workflow(
            OnboardingWorkflow.run, inp, id=inp.onboarding_id, task_queue=task_queue
        )
        # The local first try failed: an ordinary activity retries the mail.
        await eventually(
            handle.describe,
            lambda d: any(a.HasField("last_failure") for a in d.raw_description.pending_activities),
        )
        early = await state()
        assert early.retrying_actions == 0
        assert await retrying_attribute() is None  # never written for a run whose mail was quick

        await ts_env.sleep(MAIL_SLOW_AFTER + timedelta(minutes=1))
        flagged = await eventually(state, lambda s: s.retrying_actions == 1)
        assert flagged.emails == []
        assert await eventually(retrying_attribute, lambda v: v == 1) == 1

        # SMTP is back: the welcome mail goes out and the flag drops to 0.
        mail.smtp = SmtpConfig(smtp.host, smtp.port, MAIL_FROM)
        await ts_env.sleep(timedelta(minutes=11))  # past the longest retry backoff
        sent = await eventually(state, lambda s: bool(s.emails))
        assert [m.template for m in sent.emails] == ["welcome"]
        assert sent.retrying_actions == 0
        assert await eventually(retrying_attribute, lambda v: v == 0) == 0
