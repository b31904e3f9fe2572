"""Mail about a customer's booking (confirmed, moved, cancelled), with its calendar invitation.

A booking happens on the customer's page, not in the onboarding's run (which may have completed:
booking assist-se's kick-off completes it), so the API hands the mails to a small workflow of
their own. Its id names the booking and its sequence, so a retried request starts nothing new,
and each mail's Message-ID makes the activity send it at most once. Temporal retries SMTP for a
day, as for a run's own mail.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from kickoff.domain import SendMailInput, SendMailResult
    from kickoff.workflows.mail_effect import (
        MAIL_ATTEMPT_TIMEOUT,
        MAIL_GIVE_UP_AFTER,
        MAIL_HEARTBEAT_TIMEOUT,
        MAIL_RETRY,
    )


class BookingMailInput(BaseModel):
    onboarding_id: str
    mails: list[SendMailInput]


class BookingMailResult(BaseModel):
    sent: int
    failed: int


def booking_mail_id(onboarding_id: str, booking_id: str, sequence: int) -> str:
    return f"{onboarding_id}.booking-mail.{booking_id}.{sequence}"


@workflow.defn
class BookingMailWorkflow:
    @workflow.run
    async def run(self, input: BookingMailInput) -> BookingMailResult:
        sent = failed = 0
        for mail in input.mails:
            try:
                await workflow.execute_activity(
                    "send_mail",
                    mail,
                    result_type=SendMailResult,
                    start_to_close_timeout=MAIL_ATTEMPT_TIMEOUT,
                    heartbeat_timeout=MAIL_HEARTBEAT_TIMEOUT,
                    schedule_to_close_timeout=MAIL_GIVE_UP_AFTER,
                    retry_policy=MAIL_RETRY,
                    summary="booking mail with calendar invitation",
                )
                sent += 1
            except ActivityError:
                # One recipient's mail failing for good (a refused address) must not keep the
                # other from theirs; the failure stays in this workflow's history for ops.
                failed += 1
        return BookingMailResult(sent=sent, failed=failed)
