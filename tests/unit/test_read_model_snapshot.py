"""The read model's rows of a run: pure functions of its state, driven with a plain clock."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from kickoff.engine.drive import advance
from kickoff.readmodel.snapshot import OUTCOME_TASK_NUMBER, is_outcome_task, snapshot_of
from kickoff.workflows.read_model_writer import revision_at
from tests.unit.engine.support import STOCKHOLM, event, local, start

SIGNED = local(STOCKHOLM, date(2031, 4, 7), 10)


def _onboarding():
    run = start("assist-se", SIGNED, SIGNED.date() - timedelta(days=1))
    advance(run, SIGNED)
    return run


def test_a_running_onboarding_has_its_open_tasks_visits_and_customer() -> None:
    run = _onboarding()
    snapshot = snapshot_of(run.state, run.pipeline, "run-1", 7)
    entry = snapshot.entry
    assert (entry.id, entry.run_id, entry.revision, entry.status) == (run.state.id, "run-1", 7, "running")
    assert (entry.stage, entry.customer) == ("onboarding", run.state.contract.customer.name)
    assert [t.id for t in snapshot.tasks] == [t.id for t in run.state.open_tasks()]
    assert entry.open_tasks == len(snapshot.tasks) > 0
    assert [v.stage for v in snapshot.visits] == [v.stage for v in run.state.visits]
    assert entry.awaiting_outcome is False
    # The 30 days count from the delivery start's local midnight (it is before the first visit here).
    assert entry.window_start == snapshot.visits[0].entered_at


def test_a_run_completed_at_its_booking_awaits_its_outcome_with_a_reminder_due_as_the_pipeline_says() -> None:
    """The run completed at its goal; its reminder to record the outcome is in the read model:
    due 17:00 the day after the meeting (pipelines.yaml), with an id no run task ever has."""
    run = _onboarding()
    meeting = SIGNED + timedelta(days=2)
    event(run, "meeting_booked", SIGNED, meeting_at=meeting.isoformat())
    run.close(SIGNED)
    run.complete(SIGNED)
    snapshot = snapshot_of(run.state, run.pipeline, "run-1", 9)
    [reminder] = snapshot.tasks
    assert reminder.id == f"{run.state.id}.{run.state.cycle}.{OUTCOME_TASK_NUMBER}"
    assert is_outcome_task(reminder.id)
    assert not any(is_outcome_task(t.id) for t in run.state.tasks)
    due = reminder.due_at.astimezone(STOCKHOLM)
    assert (due.date(), due.strftime("%H:%M")) == (meeting.date() + timedelta(days=1), "17:00")
    assert (snapshot.entry.status, snapshot.entry.awaiting_outcome, snapshot.entry.open_tasks) == (
        "completed",
        True,
        1,
    )
    assert snapshot.entry.next_step is None


@given(st.integers(min_value=0, max_value=2**50), st.integers(min_value=0, max_value=2**62))
def test_revisions_only_grow(micros: int, previous: int) -> None:
    nxt = revision_at(micros, previous)
    assert nxt > previous
    assert revision_at(micros, nxt) > nxt


@given(st.integers(min_value=0, max_value=2**50), st.integers(min_value=1, max_value=999))
def test_a_later_workflow_task_writes_above_every_write_of_an_earlier_one(micros: int, writes: int) -> None:
    """The next run of an onboarding (continued as new, restarted) starts at a later moment: its
    first write is above anything the earlier run wrote (fewer than 1000 writes per moment)."""
    revision = 0
    for _ in range(writes):
        revision = revision_at(micros, revision)
    assert revision_at(micros + 1, 0) > revision
