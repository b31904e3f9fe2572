"""Driving a run through time without Temporal: what the workflow's loop does, as a function.

``advance`` fires every step due up to a moment, each at its own planned moment, and
hands the mail the run owes to ``send`` (by default: recorded as sent at once). The
unit tests drive runs with it on a plain clock; the workflow does the same with
timers, and a late worker catches up the same way (each step at its planned moment).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from kickoff.domain import SendMailResult
from kickoff.engine.messages import Mail, describe_mail
from kickoff.engine.run import Run

Send = Callable[[Mail], SendMailResult | None]
"""Sends a mail; None means it could not go out (a staff task replaces it)."""


def delivered(mail: Mail) -> SendMailResult:
    return SendMailResult(message_id=mail.input.message_id, delivered=True)


def flush_mail(run: Run, now: datetime, send: Send = delivered) -> list[Mail]:
    """Perform the run's queued work as the workflow does; returns the mail that went out."""
    sent: list[Mail] = []
    while run.queue and run.restart is None:
        if run.state_first:
            found = run.next_mail(now)
            if found is None:
                break
            work = found
        else:
            work = run.queue.pop(0)
            if run.superseded(work) or run.perform(work):
                continue
        mail = describe_mail(run.state, run.pipeline, work)
        result = send(mail)
        if result is None:
            run.mail_failed(mail.name, mail.recipient, "SmtpNotDelivered", now)
        else:
            run.mail_sent(work, mail.name, mail.input.to, mail.language, result, now)
            sent.append(mail)
    return sent


def advance(run: Run, until: datetime, send: Send = delivered, *, late: bool = False) -> list[Mail]:
    """Fire every step due up to ``until``, each at its planned moment; returns the mail sent.

    ``late``: the worker was down until ``until`` and catches up now, so the clock reads
    ``until`` while it fires what it missed (recurring steps then collapse into one)."""
    sent = flush_mail(run, run.state.stage_entered_at, send)
    while run.restart is None and not run.finished():
        step, due = run.next_step()
        if step is None or due is None or due > until:
            break
        now = until if late else due
        run.fire(step, due, now)
        run.roll_over = False  # the workflow continues as new here, carrying the same state
        sent += flush_mail(run, now, send)
    return sent
