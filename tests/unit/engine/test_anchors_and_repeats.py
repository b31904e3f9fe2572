"""Anchors events set, clocks that only move forward, and recurring steps after an outage."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kickoff.engine import Run, plan
from kickoff.engine.drive import advance
from tests.unit.engine.support import STOCKHOLM, event, local, start, tick_all

SIGNED = local(STOCKHOLM, date(2031, 1, 13), 10)  # a Monday


def in_partnership() -> tuple[Run, datetime]:
    """A kundprocess-se run whose delivery programme is over: the contact clock is running."""
    run = start("kundprocess-se", SIGNED, contract_id="C-1")
    tick_all(run, "customer_card", SIGNED)
    event(run, "start_delivery", SIGNED)
    advance(run, SIGNED + timedelta(weeks=8, days=1))
    assert run.state.stage == "partnership"
    return run, run.state.stage_entered_at


def reminder_due(run: Run) -> datetime:
    [step] = [s for s in plan.pending_steps(run.state, run.pipeline) if s.key == "contact-reminder"]
    anchor = plan.anchor_of(run.state, step)
    assert anchor is not None
    return plan.moment(run.pipeline, anchor, step.at)


def reminders(run: Run) -> list[datetime]:
    return [t.created_at for t in run.state.tasks if t.title.startswith("90 dagar utan loggad kontakt")]


def test_without_contact_the_reminder_comes_every_90_days_counted_from_the_last_one() -> None:
    """90 days after entering partnership, then every 90 days: each occurrence counts from the
    previous one, at 08:00 Stockholm time."""
    run, entered = in_partnership()
    advance(run, entered + timedelta(days=365))
    day = entered.astimezone(STOCKHOLM).date()
    assert reminders(run) == [local(STOCKHOLM, day + timedelta(days=90 * n), 8) for n in (1, 2, 3, 4)]


def test_a_logged_contact_resets_the_clock_and_a_back_dated_one_never_rewinds_it() -> None:
    """contact_logged stamps last_contact; one reported late with an earlier contacted_on date
    leaves the later contact in force (advance_only)."""
    run, entered = in_partnership()
    contact = entered + timedelta(days=60)
    event(run, "contact_logged", contact, channel="phone", summary="Avstämning")
    assert run.state.anchors["last_contact"] == contact
    late_report = contact + timedelta(days=10)
    older = (contact - timedelta(days=30)).astimezone(STOCKHOLM).date()
    event(
        run,
        "contact_logged",
        late_report,
        channel="email",
        summary="Gammalt mejl",
        contacted_on=older.isoformat(),
    )
    assert run.state.anchors["last_contact"] == contact  # not rewound
    assert reminder_due(run) == local(STOCKHOLM, contact.astimezone(STOCKHOLM).date() + timedelta(days=90), 8)


def test_a_worker_back_after_an_outage_collapses_missed_occurrences_into_one() -> None:
    """Down for a year: one reminder fires on return (not four in a burst), dated when the first
    missed one was due; the next is counted from the latest occurrence that was due, so the
    rhythm is kept."""
    run, entered = in_partnership()
    back = entered + timedelta(days=400)
    advance(run, back, late=True)
    day = entered.astimezone(STOCKHOLM).date()
    assert reminders(run) == [local(STOCKHOLM, day + timedelta(days=90), 8)]
    latest_due = local(STOCKHOLM, day + timedelta(days=360), 8)
    assert run.state.repeat_base["contact-reminder"] == latest_due
    assert reminder_due(run) == local(STOCKHOLM, day + timedelta(days=450), 8)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=91, max_value=3 * 365))
def test_after_any_outage_exactly_one_occurrence_fires_and_the_rhythm_is_kept(days_down: int) -> None:
    """For any outage length, one reminder fires on return, dated at the latest due occurrence,
    which is a whole number of 90-day periods after partnership began."""
    run, entered = in_partnership()
    back = entered + timedelta(days=days_down)
    advance(run, back, late=True)
    assert len(reminders(run)) == 1
    latest = run.state.repeat_base["contact-reminder"]
    periods = (latest.astimezone(STOCKHOLM).date() - entered.astimezone(STOCKHOLM).date()).days
    assert periods % 90 == 0
    assert timedelta(0) <= back - latest < timedelta(days=90)
    assert reminder_due(run) > back


def test_parking_with_an_until_date_plans_the_resume_and_parking_without_one_plans_nothing() -> None:
    """park sets park_until from its date field; an empty until clears it, so nothing is planned."""
    run = start("assist-se", SIGNED, SIGNED.date() - timedelta(days=1))
    advance(run, SIGNED)
    until = SIGNED.date() + timedelta(days=20)
    event(run, "park", SIGNED, reason="Semester", until=until.isoformat())
    step, due = run.next_step()
    assert step is not None
    assert (step.key, due) == ("resume-on-until-date", local(STOCKHOLM, until, 8))
    event(run, "resume", SIGNED + timedelta(days=1))
    event(run, "park", SIGNED + timedelta(days=2), reason="Sjuk", until="")
    assert "park_until" not in run.state.anchors
    assert run.next_step() == (None, None)


@pytest.mark.parametrize("entered_again", [True, False])
def test_a_resumed_onboarding_counts_its_days_from_the_new_entry(entered_again: bool) -> None:
    """entered:onboarding is the latest entry: after a resume the day-3 call is 3 days after it."""
    run = start("assist-se", SIGNED, SIGNED.date() - timedelta(days=1))
    advance(run, SIGNED)
    if entered_again:
        event(run, "park", SIGNED + timedelta(days=1), reason="Semester")
        event(run, "resume", SIGNED + timedelta(days=5))
    base = SIGNED + timedelta(days=5) if entered_again else SIGNED
    step, due = run.next_step()
    assert step is not None
    assert step.key == "day-3-call"
    assert due == local(STOCKHOLM, base.astimezone(STOCKHOLM).date() + timedelta(days=3), 8)
