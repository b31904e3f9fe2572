"""A booked kick-off closes the run: what exists depends on the day, nothing is sent after.
The run waits in `closed` for the kick-off outcome, then completes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus

from tests.support import (
    at_eight,
    book_meeting,
    local_date,
    make_contract,
    settled_state,
    skip_to,
    start_run,
)

# Per booking day: the call tasks, the mails to the customer and the stage before booking.
EXPECTED = {
    2: (["welcome-call"], ["welcome"], "onboarding"),
    5: (["welcome-call", "3"], ["welcome"], "onboarding"),
    31: (["welcome-call", "3", "7"], ["welcome", "booking_reminder", "booking_reminder"], "follow_up"),
    61: (
        ["welcome-call", "3", "7", "33", "37"],
        ["welcome", "booking_reminder", "booking_reminder", "follow_up_reminder", "follow_up_reminder"],
        "inactive",
    ),
}


def call_label(title: str) -> str:
    return "welcome-call" if title.startswith("Välkomstsamtal") else title.split("dag ")[1].rstrip(")")


@pytest.mark.parametrize("booking_day", sorted(EXPECTED))
async def test_a_booking_on_day_n_closes_the_run_with_exactly_the_work_done_so_far(
    ts_env, ts_worker, task_queue, smtp, booking_day
):
    """Booking on day 2, 5, 31 or 61 completes the run at once (after the team mail); no task or
    mail is created afterwards, and nothing waits for the kick-off outcome."""
    calls, customer_mails, stage_before = EXPECTED[booking_day]
    now = await ts_env.get_current_time()
    delivery = local_date(now) + timedelta(days=1)
    handle = await start_run(ts_env, task_queue, make_contract(delivery_start=delivery.isoformat()))
    day0 = delivery + timedelta(days=1)

    await skip_to(ts_env, at_eight(day0 + timedelta(days=booking_day)) + timedelta(hours=4))
    before = await settled_state(ts_env, handle)
    assert before.stage == stage_before
    meeting = day0 + timedelta(days=booking_day + 7)
    assert await book_meeting(handle, at_eight(meeting)) == "closed"

    # Booked: automation stops, the call tasks close, the team is mailed, and the run completes.
    closed = await handle.result()
    assert (closed.status, closed.stage, closed.awaiting_outcome) == ("completed", "closed", False)
    assert closed.completes_at_goal
    assert closed.open_tasks() == []
    assert closed.kickoff_outcome is None  # recorded in Kickoff's database, not in the run
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    delivered = len(smtp.for_onboarding(closed.id))
    await skip_to(ts_env, at_eight(day0 + timedelta(days=120)))
    assert len(smtp.for_onboarding(closed.id)) == delivered
    assert [call_label(t.title) for t in closed.tasks if t.kind == "call"] == calls
    assert [m.template for m in closed.emails] == [*customer_mails, "kickoff_booked"]
    team_mail = closed.emails[-1]
    assert team_mail.to == "onboarding-team@assist.example"
    # Open tasks close with the onboarding; none is left for staff to trip over.
    assert all(t.status == "done" for t in closed.tasks)
    assert {t.resolution for t in closed.tasks if t.kind != "kickoff_outcome"} == {"closed_with_onboarding"}
    assert len(smtp.for_onboarding(closed.id)) == delivered == len(closed.emails)
    assert closed.timeline[-1].event == "completed"
    last_work = max(
        e.at for e in closed.timeline if e.event in ("task_created", "mail_sent", "stage_entered")
    )
    assert last_work <= closed.timeline[-1].at
