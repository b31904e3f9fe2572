"""assist-se on a plain clock: every step at its absolute moment, state before mail, catch-up."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kickoff.engine.drive import advance, flush_mail
from tests.unit.engine.support import STOCKHOLM, entries, local, start

SIGNED = local(STOCKHOLM, date(2031, 9, 24), 10)  # a Wednesday; the plan crosses the October DST switch
DELIVERY = date(2031, 10, 1)
ONBOARDING = local(STOCKHOLM, date(2031, 10, 2), 8)  # 08:00 the day after the delivery start


def test_a_new_run_has_its_entry_tasks_at_once_and_waits_for_the_delivery_start() -> None:
    """Entering 'new' creates its note and two to-dos on the spot; the only step is the move to
    onboarding at 08:00 Stockholm the day after the delivery start."""
    run = start("assist-se", SIGNED, DELIVERY)

    assert run.state.stage == "new"
    assert [t.title[:22] for t in run.state.open_tasks()] == [
        "Kontrollera huvudanvän",
        "Pre-onboarding: företa",
    ]
    assert run.queue == []  # nothing to send in 'new'
    step, due = run.next_step()
    assert step is not None
    assert (step.key, due) == ("start-onboarding", ONBOARDING)


def test_state_comes_first_the_welcome_call_task_exists_before_the_welcome_mail_goes_out() -> None:
    """Entering onboarding creates the welcome-call task at once; the welcome mail waits in the
    queue, so a relay that is down delays only the mail."""
    run = start("assist-se", SIGNED, DELIVERY)
    step, due = run.next_step()
    assert step is not None
    assert due is not None
    run.fire(step, due, due)

    assert run.state.stage == "onboarding"
    [welcome_call] = [t for t in run.state.open_tasks() if t.kind == "call"]
    assert welcome_call.created_at == ONBOARDING
    assert welcome_call.due_at == local(STOCKHOLM, date(2031, 10, 2), 17)
    assert [work.action.kind for work in run.queue] == ["mail"]
    assert run.state.emails == []
    [mail] = flush_mail(run, due)
    assert (mail.name, mail.input.message_id) == (
        "welcome",
        f"<{run.state.id}.1.onboarding.1.enter-0@assist.example>",
    )


def test_queued_runs_started_earlier_create_the_task_only_after_the_mail() -> None:
    """Runs replayed the old way keep the old order: every action waits behind the mail before it."""
    run = start("assist-se", SIGNED, DELIVERY, state_first=False)
    step, due = run.next_step()
    assert step is not None
    assert due is not None
    run.fire(step, due, due)
    # Nothing is performed until the workflow works through its queue, mail first.
    assert [t.kind for t in run.state.open_tasks()] == []
    assert [work.action.kind for work in run.queue] == ["note", "task", "task", "move"]
    flush_mail(run, due)
    assert run.state.stage == "onboarding"
    created = [e.detail for e in run.state.timeline if e.event in ("task_created", "mail_sent")]
    assert created[-2:] == ["welcome", "Välkomstsamtal till huvudanvändaren"]


def test_the_unbooked_plan_runs_at_08_00_local_across_the_october_switch() -> None:
    """Calls on day 3 and 7, reminders on day 10 and 20, follow-up on day 30 and inactive on
    day 60: each at 08:00 Stockholm time, before and after the switch to winter time."""
    run = start("assist-se", SIGNED, DELIVERY)
    sent = advance(run, ONBOARDING + timedelta(days=90))

    day = ONBOARDING.astimezone(STOCKHOLM).date()
    assert entries(run) == [
        (SIGNED, "Ny"),
        (ONBOARDING, "Onboarding – Pågår"),
        (local(STOCKHOLM, day + timedelta(days=30), 8), "Må följas upp"),
        (local(STOCKHOLM, day + timedelta(days=60), 8), "Inaktiva kunder"),
    ]
    calls = [t.created_at for t in run.state.tasks if t.title.startswith("Ring kunden: inget")]
    assert calls == [local(STOCKHOLM, day + timedelta(days=n), 8) for n in (3, 7, 33, 37)]
    assert {c.astimezone(STOCKHOLM).hour for c in calls} == {8}
    assert {c.utcoffset() for c in calls} == {timedelta(0)}  # stored in UTC
    assert [c.astimezone(STOCKHOLM).utcoffset() for c in calls] == [timedelta(hours=h) for h in (2, 2, 1, 1)]
    assert [m.name for m in sent] == ["welcome", *["booking_reminder"] * 2, *["follow_up_reminder"] * 2]
    assert [e.sent_at for e in run.state.emails][1:] == [
        local(STOCKHOLM, day + timedelta(days=n), 8) for n in (10, 20, 40, 50)
    ]
    assert run.next_step() == (None, None)  # inactive: nothing automatic any more


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=20 * 24), min_size=1, max_size=12))
def test_however_late_the_clock_is_read_the_plan_is_the_same(hours: list[int]) -> None:
    """Absolute schedules: advancing in any chunks (a worker that wakes late, often or rarely)
    creates the same tasks, at the same moments, as one pass to the end."""
    end = ONBOARDING + timedelta(days=75)
    reference = start("assist-se", SIGNED, DELIVERY, contract_id="C-1")
    advance(reference, end)
    chunked = start("assist-se", SIGNED, DELIVERY, contract_id="C-1")
    moment = SIGNED
    for step in hours:
        moment = min(end, moment + timedelta(hours=step))
        advance(chunked, moment, late=True)
    advance(chunked, end, late=True)
    # Mail goes out when the worker gets to it (and says so); everything else is as planned.
    planned = [e for e in reference.state.timeline if e.event != "mail_sent"]
    assert [e for e in chunked.state.timeline if e.event != "mail_sent"] == planned
    assert chunked.state.tasks == reference.state.tasks
    assert [m.message_id for m in chunked.state.emails] == [m.message_id for m in reference.state.emails]


@pytest.mark.parametrize("delivery_days_ago", [1, 45, 400])
def test_a_delivery_start_long_past_starts_onboarding_at_once_without_back_dating(
    delivery_days_ago: int,
) -> None:
    """A step planned before its stage was entered happens at once: onboarding begins at the
    signing moment and its day counts start there, however old the delivery start is."""
    run = start("assist-se", SIGNED, SIGNED.date() - timedelta(days=delivery_days_ago))
    advance(run, SIGNED)
    assert run.state.stage == "onboarding"
    assert run.state.stage_entered_at == SIGNED
    step, due = run.next_step()
    assert step is not None
    assert step.key == "day-3-call"
    assert due == local(STOCKHOLM, SIGNED.astimezone(STOCKHOLM).date() + timedelta(days=3), 8)


def test_a_moment_is_never_read_from_a_naive_clock() -> None:
    """The core refuses a naive anchor rather than guessing a zone."""
    run = start("assist-se", SIGNED, DELIVERY)
    run.state.anchors["delivery_start"] = datetime(2031, 10, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        run.next_step()
