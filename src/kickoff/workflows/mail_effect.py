"""The mail effect, workflow side: hand a described mail to the ``send_mail`` activity.

A mail belongs to a stage visit. If the run leaves that visit while the mail is
still being retried (SMTP down), the mail no longer applies and must not go
out late: its activity is cancelled. One that SMTP is already receiving is
finished and recorded (``WAIT_CANCELLATION_COMPLETED``). One that fails for
good becomes a staff task that keeps the run open until someone checks.

Runs started by this release try a mail once as a *local* activity: it runs in
the worker that runs the workflow and costs one marker in the history instead
of six events. Only a mail SMTP does not take at that first attempt falls back
to an ordinary activity, retried for up to a day and flagged for ops
(``KickoffRetryingActions``) after 15 minutes. The Message-ID ledger makes the
second activity safe: it never sends what the first one delivered. Runs
started earlier replay the path they took: an ordinary activity from the start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from kickoff.domain import SendMailResult
    from kickoff.engine import Mail, Run, Work, describe_mail
    from kickoff.engine.messages import mail_name

NON_RETRYABLE = ("TemplateError", "MailDeliveryUnknown")
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=list(NON_RETRYABLE),
)
# An SMTP outage is retried for a day; after that a staff task replaces the mail.
MAIL_GIVE_UP_AFTER = timedelta(days=1)
# Room for the activity's wait on an earlier attempt's claim plus a slow SMTP relay.
MAIL_ATTEMPT_TIMEOUT = timedelta(minutes=2)
# The activity heartbeats every second: a dead worker's attempt is retried after this.
MAIL_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# The local first try is one short attempt: the workflow task stays open while it runs, and
# queries (the API waits 5 s) and staff actions wait for it. A relay slower than this gets
# the mail from the ordinary activity, which rides out slowness and outages alike (the
# ledger makes the handover safe: a mail the local try delivered is never sent again).
MAIL_LOCAL_ATTEMPT_TIMEOUT = timedelta(seconds=3)
MAIL_LOCAL_RETRY = RetryPolicy(maximum_attempts=1)

WAIT_FOR_CANCELLED_MAIL = "wait-for-cancelled-mail"
"""Patch id: a cancelled mail's activity is awaited, so a mail SMTP already took is recorded."""
FLAG_SLOW_MAIL = "flag-slow-mail"
"""Patch id: a mail still retrying after MAIL_SLOW_AFTER is counted in a search attribute."""
# SMTP answers in seconds; a mail not done after this is being retried (relay down, refused):
# ops find such runs with `KickoffRetryingActions > 0` long before the one-day give-up.
MAIL_SLOW_AFTER = timedelta(minutes=15)

Outcome = SendMailResult | FailureError | None
"""What became of a mail: sent, failed, or cancelled because the run moved on (None)."""


class Mailer:
    """Sends a run's mail; ``changed`` tells the workflow its state changed (to publish it)."""

    def __init__(self, run: Run, changed: Callable[[], None]) -> None:
        self._run = run
        self._changed = changed
        self.in_flight = 0
        self.broken: Exception | None = None
        """A bug in sending (not a mail that failed: those are recorded), for the run loop."""

    def pending(self) -> bool:
        return bool(self._run.queue) or self.in_flight > 0

    async def send_in_order(self) -> None:
        """State first, as a task of its own: the run's mail one at a time, in the order owed."""
        run = self._run
        try:
            while True:
                await workflow.wait_condition(lambda: bool(run.queue))
                work = run.next_mail(workflow.now())
                if work is None:
                    self._changed()  # a dropped mail is on the timeline now
                    continue
                self.in_flight += 1
                try:
                    await self.deliver(work)
                finally:
                    self.in_flight -= 1
                    self._changed()
        except Exception as err:
            # A bug, not a mail that failed (those are recorded): the run loop fails the
            # workflow task with it (Temporal retries), instead of this task ending silently.
            self.broken = err
            self._changed()

    async def perform_queued(self, publish: Callable[[], None]) -> None:
        """Runs started earlier: every queued action in order, each mail awaited in turn."""
        run = self._run
        while run.queue and run.restart is None:
            run.state.pending_actions = len(run.queue)
            work = run.queue.pop(0)
            if (work.visit == run.visit() or work.run_wide) and not run.perform(work):
                await self.send_queued(describe_mail(run.state, run.pipeline, work))
            publish()
        run.state.pending_actions = 0

    async def deliver(self, work: Work) -> None:
        """State-first runs: a local try, then an ordinary activity if SMTP did not take it."""
        mail = describe_mail(self._run.state, self._run.pipeline, work)
        first = workflow.start_local_activity(
            "send_mail",
            mail.input,
            result_type=SendMailResult,
            start_to_close_timeout=MAIL_LOCAL_ATTEMPT_TIMEOUT,
            retry_policy=MAIL_LOCAL_RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=mail.summary,
        )
        outcome = await self._settle(first, work)
        if isinstance(outcome, FailureError) and not _permanent(outcome) and not self._run.superseded(work):
            # SMTP did not take it at once (down, slow, refusing for now): retried for a day.
            outcome = await self._settle(self._remote(mail, wait_for_cancelled=True), work, flag_slow=True)
        self._record(mail, outcome)

    async def send_queued(self, mail: Mail) -> None:
        """Runs started before state first: an ordinary activity, exactly as they sent it then."""
        activity = self._remote(mail, wait_for_cancelled=workflow.patched(WAIT_FOR_CANCELLED_MAIL))
        self._record(
            mail, await self._settle(activity, mail.work, flag_slow=workflow.patched(FLAG_SLOW_MAIL))
        )

    def _remote(self, mail: Mail, *, wait_for_cancelled: bool) -> asyncio.Task[SendMailResult]:
        return workflow.start_activity(
            "send_mail",
            mail.input,
            result_type=SendMailResult,
            start_to_close_timeout=MAIL_ATTEMPT_TIMEOUT,
            heartbeat_timeout=MAIL_HEARTBEAT_TIMEOUT,
            schedule_to_close_timeout=MAIL_GIVE_UP_AFTER,
            retry_policy=MAIL_RETRY,
            cancellation_type=(
                # WAIT_CANCELLATION_COMPLETED: an attempt that had already handed the mail to
                # SMTP finishes and reports it, so the run records what was sent. Runs that
                # began before that patch resolved a cancelled mail at once.
                ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
                if wait_for_cancelled
                else ActivityCancellationType.TRY_CANCEL
            ),
            summary=mail.summary,
        )

    async def _settle(
        self, activity: asyncio.Task[SendMailResult], work: Work, *, flag_slow: bool = False
    ) -> Outcome:
        """Wait until the mail is done or no longer applies (then cancel it)."""

        def settled() -> bool:
            return activity.done() or self._run.superseded(work)

        if flag_slow:
            await self._wait_flagging_slow(settled, work)
        else:
            await workflow.wait_condition(settled)
        if not activity.done():
            activity.cancel()
            try:
                return await activity
            except (FailureError, asyncio.CancelledError):
                return None
        try:
            return await activity
        except FailureError as err:
            # An ordinary activity fails with an ActivityError around the cause; a local one
            # with the cause itself (ApplicationError, TimeoutError).
            return err

    async def _wait_flagging_slow(self, settled: Callable[[], bool], work: Work) -> None:
        """Until ``settled``; a mail still not done after MAIL_SLOW_AFTER is counted for ops."""
        name = mail_name(work.action)
        try:
            await workflow.wait_condition(
                settled,
                timeout=MAIL_SLOW_AFTER,
                timeout_summary=f"{name} mail: flag as retrying if not sent in 15 min",
            )
            return
        except TimeoutError:
            pass
        self._run.state.retrying_actions += 1
        self._changed()
        try:
            await workflow.wait_condition(settled)
        finally:
            self._run.state.retrying_actions -= 1
            self._changed()

    def _record(self, mail: Mail, outcome: Outcome) -> None:
        now = workflow.now()
        if outcome is None:
            self._run.mail_cancelled(mail.name, now)
        elif isinstance(outcome, FailureError):
            cause = _cause(outcome)
            reason = str(cause.type) if isinstance(cause, ApplicationError) else "timeout"
            self._run.mail_failed(mail.name, mail.recipient, reason, now)
        else:
            self._run.mail_sent(mail.work, mail.name, mail.input.to, mail.language, outcome, now)


def _cause(error: FailureError) -> BaseException | None:
    return error.cause if isinstance(error, ActivityError) else error


def _permanent(error: FailureError) -> bool:
    """A failure retrying cannot cure (a template that does not render, a mail whose delivery
    is unknown, a relay refusing the address): no second try as an ordinary activity."""
    cause = _cause(error)
    return isinstance(cause, ApplicationError) and (cause.non_retryable or cause.type in NON_RETRYABLE)
