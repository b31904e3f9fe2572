"""Mail that cannot go out: it never leaves late, and a lost one is never silently closed away."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from aiosmtpd.controller import Controller

from kickoff.activities import SmtpConfig
from kickoff.domain import TickInput
from kickoff.mailcatcher import free_port
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.databases import mail_with_own_ledger
from tests.support import (
    book_meeting,
    eventually,
    local_date,
    make_contract,
    onboarding_input,
    send_event,
    settled_state,
    worker_for,
)

MAIL_FROM = "Kickoff <kickoff@test.example>"


@asynccontextmanager
async def _worker_mailing_through(handler, ts_env, task_queue, tmp_path) -> AsyncIterator[None]:
    """A worker whose mail goes to an aiosmtpd relay driven by ``handler`` (on a free port)."""
    relay = Controller(handler, hostname="127.0.0.1", port=free_port())
    relay.start()
    try:
        mail = mail_with_own_ledger("127.0.0.1", relay.port, tmp_path / "ledger.sqlite3")
        async with worker_for(ts_env.client, task_queue, mail):
            yield
    finally:
        relay.stop()


async def _start(ts_env, task_queue, started_runs):
    now = await ts_env.get_current_time()
    inp = onboarding_input(make_contract(delivery_start=(local_date(now) - timedelta(days=3)).isoformat()))
    started_runs.append(inp.onboarding_id)
    handle = await ts_env.client.start_workflow(
        OnboardingWorkflow.run, inp, id=inp.onboarding_id, task_queue=task_queue
    )
    return handle, now


async def test_a_mail_still_retrying_when_a_booking_arrives_is_cancelled_not_sent_late(
    ts_env, task_queue, smtp, tmp_path, started_runs
):
    """SMTP is down while the welcome mail retries; after the booking it is cancelled, never delivered."""
    mail = mail_with_own_ledger("127.0.0.1", free_port(), tmp_path / "l.sqlite3")
    # One worker for the run and its mail (a mail's first try is a local activity there).
    async with worker_for(ts_env.client, task_queue, mail):
        handle, now = await _start(ts_env, task_queue, started_runs)
        await eventually(
            handle.describe,
            lambda d: any(a.HasField("last_failure") for a in d.raw_description.pending_activities),
        )
        await book_meeting(handle, now + timedelta(days=7))
        cancelled = await eventually(
            lambda: handle.query(OnboardingWorkflow.state),
            lambda s: any(e.event == "mail_cancelled" for e in s.timeline),
        )
        assert cancelled.stage == "closed"
        assert [e.detail for e in cancelled.timeline if e.event == "mail_cancelled"] == [
            "welcome: the run moved on"
        ]
        # SMTP comes back: the team's mail (still retrying) goes out, the welcome mail does not.
        mail.smtp = SmtpConfig(smtp.host, smtp.port, MAIL_FROM)
        # The run completes once the team's mail is out.
        final = await asyncio.wait_for(handle.result(), 30)

    assert (final.status, final.stage) == ("completed", "closed")
    assert [m.template for m in final.emails] == ["kickoff_booked"]
    delivered = smtp.for_onboarding(final.id)
    assert [m["To"] for m in delivered] == ["onboarding-team@assist.example"]


class _TeamRefused:
    """An SMTP relay that accepts customers' mail but permanently refuses the team address."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        if address.startswith("onboarding-team@"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        return "250 OK"


async def test_a_team_mail_refused_at_closing_keeps_the_run_open_until_staff_resolve_it(
    ts_env, task_queue, tmp_path, started_runs
):
    """The closing mail fails for good: the run waits in 'closed' with an open task that only
    staff can resolve, then completes (nothing else keeps it open)."""
    async with _worker_mailing_through(_TeamRefused(), ts_env, task_queue, tmp_path):
        handle, now = await _start(ts_env, task_queue, started_runs)
        await eventually(lambda: handle.query(OnboardingWorkflow.state), lambda s: bool(s.emails))
        await book_meeting(handle, now + timedelta(days=7))
        waiting = await eventually(
            lambda: handle.query(OnboardingWorkflow.state),
            lambda s: any(e.event == "mail_failed" for e in s.timeline),
        )
        assert (waiting.stage, waiting.status, waiting.awaiting_outcome) == ("closed", "running", False)
        [blocking] = waiting.open_tasks()
        assert blocking.blocks_completion
        assert blocking.title.startswith("Mail 'kickoff_booked' may not have reached team")

        await handle.execute_update(OnboardingWorkflow.complete_task, blocking.id)
        final = await handle.result()
    assert (final.status, final.completes_at_goal) == ("completed", True)
    assert [(t.id, t.resolution) for t in final.tasks if t.blocks_completion] == [
        (blocking.id, "done_by_staff")
    ]


class _SlowData:
    """An SMTP server that takes its time to accept DATA, and says when DATA has begun."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.data_begun = threading.Event()
        self.accepted: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.data_begun.set()
        await asyncio.sleep(self.delay)
        self.accepted.append(envelope.content)
        return "250 OK"


async def test_a_mail_smtp_is_taking_when_the_run_moves_on_is_recorded_as_sent(
    ts_env, task_queue, tmp_path, started_runs
):
    """The booking arrives while the SMTP server is receiving the welcome mail's DATA: the
    handover is finished rather than cut off (so nobody has to guess whether it arrived), and
    the run records the mail as sent instead of 'cancelled'."""
    slow = _SlowData(delay=1.5)
    async with _worker_mailing_through(slow, ts_env, task_queue, tmp_path):
        handle, now = await _start(ts_env, task_queue, started_runs)
        await asyncio.to_thread(slow.data_begun.wait, 20)
        assert slow.data_begun.is_set()
        await book_meeting(handle, now + timedelta(days=7))
        final = await handle.result()

    assert final.stage == "closed"
    assert [m.template for m in final.emails] == ["welcome", "kickoff_booked"]
    assert not [e for e in final.timeline if e.event == "mail_cancelled"]
    assert len(slow.accepted) == 2


class _SlowRcptWhenAsked:
    """An SMTP relay that accepts at once, until told to take its time over RCPT."""

    def __init__(self) -> None:
        self.slow = False
        self.rcpt_begun = threading.Event()
        self.accepted: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        if self.slow:
            self.rcpt_begun.set()
            await asyncio.sleep(1.5)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        self.accepted.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


async def test_an_events_own_mail_survives_a_stage_move(ts_env, task_queue, tmp_path, started_runs):
    """The churn escalation mails the team; delivery starts while that mail is still on its way
    (before DATA). The escalation belongs to the run, not to the stage it was raised in: it is
    delivered and recorded, not cancelled like a stage's own leftover mail."""
    relay = _SlowRcptWhenAsked()
    async with _worker_mailing_through(relay, ts_env, task_queue, tmp_path):
        now = await ts_env.get_current_time()
        contract = make_contract(
            pipeline="kundprocess-se",
            signed_at=now.isoformat(),
            delivery_start=local_date(now).isoformat(),
        )
        inp = onboarding_input(contract)
        started_runs.append(inp.onboarding_id)
        handle = await ts_env.client.start_workflow(
            OnboardingWorkflow.run, inp, id=inp.onboarding_id, task_queue=task_queue
        )
        for item in inp.pipeline.checklists["customer_card"].items:
            await handle.execute_update(OnboardingWorkflow.tick_item, TickInput(item=item.id))
        await settled_state(ts_env, handle)
        relay.slow = True
        await send_event(handle, "churn_risk", reason="New CEO questions the contract")
        await asyncio.to_thread(relay.rcpt_begun.wait, 20)
        assert relay.rcpt_begun.is_set()
        assert await send_event(handle, "start_delivery") == "delivery"
        state = await eventually(
            lambda: handle.query(OnboardingWorkflow.state), lambda s: s.pending_actions == 0, within=30
        )
        history = await handle.fetch_history()

    # Not even asked to stop (a stage's own mail would have been, and then raced the relay).
    assert not [e for e in history.events if e.HasField("activity_task_cancel_requested_event_attributes")]
    assert not [e for e in state.timeline if e.event == "mail_cancelled"]
    assert [m.template for m in state.emails].count("notify") == 2  # "new customer", then the escalation
    assert any("New CEO questions the contract" in body for body in relay.accepted)
