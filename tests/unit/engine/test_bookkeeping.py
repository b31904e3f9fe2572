"""Invariants of any run, the bounded state of long-lived runs, and the UI's current details."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kickoff.domain import EventInput
from kickoff.engine import Refusal, rules
from kickoff.engine.archive import MAX_DONE_TASKS, MAX_EMAILS, MAX_TIMELINE, compact
from kickoff.engine.details import current_details
from kickoff.engine.drive import advance, flush_mail
from tests.unit.engine.support import STOCKHOLM, event, local, start, tick_all

SIGNED = local(STOCKHOLM, date(2031, 2, 3), 10)

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(min_value=1, max_value=30 * 24)),
        st.tuples(st.just("call_logged"), st.sampled_from(["answered", "no_answer"])),
        st.tuples(st.just("park"), st.sampled_from(["", "+5", "+40"])),
        st.tuples(st.just("resume"), st.just("")),
        st.tuples(st.just("meeting_booked"), st.just("+2")),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ACTIONS)
def test_whatever_staff_do_and_whenever_nothing_is_lost_and_time_moves_forward(actions) -> None:
    """Random waits and staff events on assist-se: every accepted event is applied, refused ones
    change nothing; tasks are only ever added (never dropped), task ids stay unique, the timeline
    stays in time order and each stage entry is no earlier than the one before."""
    run = start("assist-se", SIGNED, SIGNED.date() + timedelta(days=2))
    now = SIGNED
    seen: dict[str, object] = {}
    for kind, value in actions:
        if kind == "wait":
            now += timedelta(hours=value)
            advance(run, now)
            continue
        payload: dict[str, object] = {}
        if kind == "call_logged":
            payload = {"outcome": value}
        elif kind == "park":
            payload = {
                "reason": "x",
                "until": (now.astimezone(STOCKHOLM).date() + timedelta(days=int(value))).isoformat()
                if value
                else None,
            }
        elif kind == "meeting_booked":
            payload = {"meeting_at": (now + timedelta(days=2)).isoformat()}
        before = run.state.model_copy(deep=True)
        try:
            rules.check_event(run.state, run.pipeline, EventInput(name=kind, payload=payload), now, False)
        except Refusal:
            assert run.state == before
            continue
        event(run, kind, now, **payload)
        flush_mail(run, now)
        if run.finished():
            run.close(now)
            break
        for task in run.state.tasks:
            seen.setdefault(task.id, task.title)
        assert {t.id for t in run.state.tasks} >= set(seen)
    ids = [t.id for t in run.state.tasks]
    assert len(ids) == len(set(ids))
    moments = [e.at for e in run.state.timeline]
    assert moments == sorted(moments)
    entered = [v.entered_at for v in run.state.visits]
    assert entered == sorted(entered)


def test_a_partnership_of_years_carries_a_bounded_state_and_counts_what_it_summarised() -> None:
    """Three years of contacts and reminders: compacting before each continue-as-new keeps the
    timeline, finished tasks and mails under their caps and recent, with the rest counted."""
    run = start("kundprocess-se", SIGNED)
    tick_all(run, "customer_card", SIGNED)
    event(run, "start_delivery", SIGNED)
    now = SIGNED
    for month in range(36):
        now += timedelta(days=30)
        advance(run, now)
        event(run, "contact_logged", now, channel="phone", summary=f"Månad {month}")
        for task in run.state.open_tasks()[:-1]:
            run.finish_task(task, now, "done_by_staff")
        run.state = compact(run.state, now)
    state = run.state
    assert len(state.timeline) <= MAX_TIMELINE
    assert len([t for t in state.tasks if t.status == "done"]) <= MAX_DONE_TASKS
    assert len(state.emails) <= MAX_EMAILS
    assert state.archived is not None
    assert state.archived.timeline["contact_logged"] > 20
    assert len(state.model_dump_json()) < 30_000
    assert state.open_tasks()  # nothing open is ever summarised away


def test_compacting_a_young_run_changes_nothing() -> None:
    run = start("assist-se", SIGNED, SIGNED.date())
    advance(run, SIGNED + timedelta(days=20))
    assert compact(run.state, SIGNED + timedelta(days=20)) is run.state


def test_current_details_name_the_stage_the_next_step_at_local_time_and_no_one_personal() -> None:
    """The Temporal UI's details: stage and since when, the next step in Stockholm time, open
    tasks, pipeline version; never the customer's or main user's name."""
    run = start("assist-se", SIGNED, SIGNED.date() + timedelta(days=2))
    step, due = run.next_step()
    run.state.next_step, run.state.next_step_at = step.summary if step else None, due
    details = current_details(run.state, run.pipeline)
    assert "**Stage:** Ny (`new`) since 2031-02-03 10:00 CET" in details
    assert "**Next:** start onboarding (day after delivery start) at 2031-02-06 08:00 CET" in details
    assert "**Open tasks:** 2" in details
    contract = run.state.contract
    assert contract.customer.name not in details
    assert contract.main_user.name not in details
