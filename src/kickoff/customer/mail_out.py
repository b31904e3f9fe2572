"""Handing mail about the customer's side (bookings, a new link) to ``BookingMailWorkflow``.

The workflow id names what the mail is about (a booking's sequence, a link), so a retried
request starts nothing new: Temporal refuses the duplicate id, and the mail already handed over
goes out once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from kickoff.domain import SendMailInput
from kickoff.service import OnboardingService
from kickoff.workflows.booking_mail import BookingMailInput, BookingMailWorkflow


async def hand_over(
    service: OnboardingService,
    onboarding_id: str,
    mails: Sequence[SendMailInput],
    workflow_id: str,
    summary: str,
) -> None:
    """Start the workflow that sends ``mails``, unless ``workflow_id`` was started before."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await service.client.start_workflow(
            BookingMailWorkflow.run,
            BookingMailInput(onboarding_id=onboarding_id, mails=list(mails)),
            id=workflow_id,
            task_queue=service.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=summary,
        )
