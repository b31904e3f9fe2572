"""Parking pauses automation; resuming restarts the day counter; restart begins a new cycle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from kickoff import search_attributes as sa
from kickoff.crypto.fields import sealer_of
from kickoff.db.outcomes import OutcomeStore
from kickoff.domain import EventInput
from kickoff.service import OnboardingService
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.databases import migrated_sqlite
from tests.support import (
    at_eight,
    book_meeting,
    catalog,
    entries,
    local_date,
    make_contract,
    send_event,
    settled_state,
    skip_to,
    start_run,
)


async def _onboarding_run(ts_env, task_queue):
    now = await ts_env.get_current_time()
    delivery = local_date(now) + timedelta(days=1)
    handle = await start_run(ts_env, task_queue, make_contract(delivery_start=delivery.isoformat()))
    return handle, delivery + timedelta(days=1)


async def test_park_without_date_pauses_everything_until_staff_resume(ts_env, ts_worker, task_queue):
    """Parked runs create no tasks or mails; resume re-enters onboarding with day 0 = resume day."""
    handle, day0 = await _onboarding_run(ts_env, task_queue)
    await skip_to(ts_env, at_eight(day0 + timedelta(days=5)) + timedelta(hours=2))
    assert await send_event(handle, "park", reason="Sjukskriven", until=None) == "manual_follow_up"
    parked = await settled_state(ts_env, handle)
    assert parked.next_step is None

    await skip_to(ts_env, at_eight(day0 + timedelta(days=45)))
    still = await settled_state(ts_env, handle)
    assert still.stage == "manual_follow_up"
    assert (len(still.tasks), len(still.emails)) == (len(parked.tasks), len(parked.emails))

    resume_at = await ts_env.get_current_time()
    assert await send_event(handle, "resume") == "onboarding"
    await skip_to(ts_env, at_eight(local_date(resume_at) + timedelta(days=4)))
    resumed = await settled_state(ts_env, handle)
    assert [m.template for m in resumed.emails] == ["welcome"]  # no second welcome mail
    day3_calls = [t.created_at for t in resumed.tasks if t.title.endswith("(dag 3)")]
    assert day3_calls == [
        at_eight(day0 + timedelta(days=3)),
        at_eight(local_date(resume_at) + timedelta(days=3)),
    ]
    assert not any(
        t.title.startswith("Välkomstsamtal") and t.created_at > at_eight(day0) for t in resumed.tasks
    )


async def test_park_until_a_date_resumes_at_08_00_on_that_date(ts_env, ts_worker, task_queue):
    """With an until-date the run resumes by itself at 08:00 local that day."""
    handle, day0 = await _onboarding_run(ts_env, task_queue)
    await skip_to(ts_env, at_eight(day0 + timedelta(days=2)) + timedelta(hours=3))
    until = day0 + timedelta(days=20)
    await send_event(handle, "park", reason="Semester", until=until.isoformat())
    parked = await settled_state(ts_env, handle)
    assert (parked.next_step, parked.next_step_at) == (
        "resume onboarding on the agreed date",
        at_eight(until),
    )

    await skip_to(ts_env, at_eight(until + timedelta(days=3)) + timedelta(minutes=5))
    state = await settled_state(ts_env, handle)
    assert entries(state, "stage_entered")[-1] == (at_eight(until), "Onboarding – Pågår")
    assert state.stage == "onboarding"
    assert at_eight(until + timedelta(days=3)) in [t.created_at for t in state.tasks if t.kind == "call"]
    assert [m.template for m in state.emails] == ["welcome"]


@pytest.mark.parametrize(
    ("event", "payload", "reason"),
    [
        ("resume", {}, "resume is not accepted in stage 'onboarding'"),
        ("calls", {}, "has no event 'calls'"),
        ("call_logged", {"outcome": "maybe"}, "outcome: must be one of"),
        ("park", {"reason": "Sjuk", "until": "2020-01-01"}, "until 2020-01-01 is too early"),
    ],
)
async def test_events_that_do_not_apply_are_refused_with_a_reason(
    ts_env, ts_worker, task_queue, event, payload, reason
):
    """The update validator refuses an event the pipeline or the stage does not allow."""
    handle, _ = await _onboarding_run(ts_env, task_queue)
    await skip_to(ts_env, at_eight(local_date(await ts_env.get_current_time()) + timedelta(days=3)))
    before = await settled_state(ts_env, handle)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(OnboardingWorkflow.apply_event, EventInput(name=event, payload=payload))
    assert reason in str(refused.value.cause)
    assert (await settled_state(ts_env, handle)).timeline == before.timeline


async def test_restart_after_a_no_show_starts_a_new_cycle_in_onboarding(
    ts_env, ts_worker, task_queue, smtp, tmp_path
):
    """The booked run completed at once; the no-show is recorded in Kickoff's database and
    restarts it as a new run of the same id: reminder instead of welcome, day 0 = now, and
    the new run's search attributes say why it began."""
    handle, day0 = await _onboarding_run(ts_env, task_queue)
    await skip_to(ts_env, at_eight(day0 + timedelta(days=4)))
    await book_meeting(handle, at_eight(day0 + timedelta(days=9)))
    first = await handle.result()
    assert (first.status, first.stage, first.completes_at_goal) == ("completed", "closed", True)
    await skip_to(ts_env, at_eight(day0 + timedelta(days=9)) + timedelta(hours=2))

    database = migrated_sqlite(tmp_path / "kickoff.sqlite3")
    service = OnboardingService(ts_env.client, catalog(), task_queue, database=database)
    assert (await service.state(first.id)).awaiting_outcome
    cycle, stage = await service.restart(first.id, "no_show", by="Emelie Larsson")
    assert (cycle, stage) == (2, "onboarding")
    [recorded] = await OutcomeStore(database, sealer_of(ts_env.client.data_converter)).of_onboarding(first.id)
    assert (recorded.cycle, recorded.outcome, recorded.recorded_by) == (1, "no_show", "Emelie Larsson")
    attributes = (await ts_env.client.get_workflow_handle(first.id).describe()).typed_search_attributes
    assert (attributes.get(sa.RESTART_REASON), attributes.get(sa.STAGE)) == ("no_show", "onboarding")
    restarted_at = await ts_env.get_current_time()
    current = ts_env.client.get_workflow_handle_for(OnboardingWorkflow.run, first.id)
    await skip_to(ts_env, at_eight(local_date(restarted_at) + timedelta(days=3)) + timedelta(minutes=1))
    state = await settled_state(ts_env, current)

    assert (state.cycle, state.stage, state.status) == (2, "onboarding", "running")
    assert [m.template for m in state.emails] == ["booking_reminder"]
    assert [t.title for t in state.tasks] == [
        "Ring kunden och boka ett nytt uppstartsmöte",
        "Ring kunden: inget uppstartsmöte bokat (dag 3)",
    ]
    assert state.tasks[1].created_at == at_eight(local_date(restarted_at) + timedelta(days=3))
    assert [(c.cycle, c.final_stage, c.restart_reason) for c in state.previous_cycles] == [
        (1, "closed", "no_show")
    ]
    # The earlier run and its history stay in Temporal.
    earlier = ts_env.client.get_workflow_handle_for(
        OnboardingWorkflow.run, first.id, run_id=handle.result_run_id
    )
    assert state.previous_cycles[0].run_id == handle.result_run_id
    assert (await earlier.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert (await earlier.result()).timeline == first.timeline
    assert len(smtp.for_onboarding(first.id)) == len(first.emails) + 1


async def test_a_no_show_while_awaiting_the_outcome_continues_as_a_new_cycle(
    ts_env, ts_earlier_worker, task_queue, smtp
):
    """A booked run of the earlier release, waiting in `closed` for its kick-off outcome (as runs
    in flight do): the restart records the no-show
    as that outcome and the same workflow continues as new, cycle 2 in onboarding, day 0 = now."""
    handle, day0 = await _onboarding_run(ts_env, task_queue)
    await skip_to(ts_env, at_eight(day0 + timedelta(days=4)))
    await book_meeting(handle, at_eight(day0 + timedelta(days=9)))
    booked = await settled_state(ts_env, handle)
    assert (booked.status, booked.stage, booked.awaiting_outcome) == ("running", "closed", True)
    await skip_to(ts_env, at_eight(day0 + timedelta(days=9)) + timedelta(hours=2))

    service = OnboardingService(ts_env.client, catalog(), task_queue)
    cycle, stage = await service.restart(booked.id, "no_show")
    assert (cycle, stage) == (2, "onboarding")
    restarted_at = await ts_env.get_current_time()
    current = ts_env.client.get_workflow_handle_for(OnboardingWorkflow.run, booked.id)
    await skip_to(ts_env, at_eight(local_date(restarted_at) + timedelta(days=3)) + timedelta(minutes=1))
    state = await settled_state(ts_env, current)

    assert (state.cycle, state.stage, state.status) == (2, "onboarding", "running")
    assert (state.awaiting_outcome, state.kickoff_outcome) == (False, None)
    assert [m.template for m in state.emails] == ["booking_reminder"]
    assert [t.title for t in state.tasks] == [
        "Ring kunden och boka ett nytt uppstartsmöte",
        "Ring kunden: inget uppstartsmöte bokat (dag 3)",
    ]
    assert state.tasks[1].created_at == at_eight(local_date(restarted_at) + timedelta(days=3))
    assert [(c.cycle, c.final_stage, c.restart_reason) for c in state.previous_cycles] == [
        (1, "closed", "no_show")
    ]
    # Cycle 1 continued as new; its history stays in Temporal.
    assert state.previous_cycles[0].run_id == handle.result_run_id
    earlier = ts_env.client.get_workflow_handle_for(
        OnboardingWorkflow.run, booked.id, run_id=handle.result_run_id
    )
    assert (await earlier.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    first = await earlier.query(OnboardingWorkflow.state)  # the no-show is cycle 1's outcome
    assert first.kickoff_outcome is not None
    assert (first.kickoff_outcome.outcome, first.kickoff_outcome.segment) == ("no_show", None)
    assert [(t.kind, t.resolution) for t in first.tasks if t.kind == "kickoff_outcome"] == [
        ("kickoff_outcome", "done_by_staff")
    ]
    assert len(smtp.for_onboarding(booked.id)) == len(booked.emails) + 1


async def test_restart_of_a_running_onboarding_continues_as_a_new_cycle(ts_env, ts_worker, task_queue):
    """Restarting before a booking continues the same workflow as new, cycle 2, in onboarding."""
    handle, day0 = await _onboarding_run(ts_env, task_queue)
    await skip_to(ts_env, at_eight(day0 + timedelta(days=12)))
    service = OnboardingService(ts_env.client, catalog(), task_queue)
    assert await service.restart(handle.id, "rescheduled") == (2, "onboarding")

    latest = ts_env.client.get_workflow_handle_for(OnboardingWorkflow.run, handle.id)
    state = await settled_state(ts_env, latest)
    assert (state.cycle, state.stage) == (2, "onboarding")
    assert [m.template for m in state.emails] == ["booking_reminder"]
    assert state.previous_cycles[0].final_stage == "onboarding"
    assert state.previous_cycles[0].run_id == handle.result_run_id


async def test_park_until_today_after_08_00_is_refused_but_tomorrow_is_planned(ts_env, ts_worker, task_queue):
    """An until-date whose 08:00 has passed would un-park at once, so it is refused as bad input."""
    handle, day0 = await _onboarding_run(ts_env, task_queue)
    await skip_to(ts_env, at_eight(day0 + timedelta(days=2)) + timedelta(hours=3))
    today = local_date(await ts_env.get_current_time())
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await send_event(handle, "park", reason="Semester", until=today.isoformat())
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert "would be at" in str(cause)
    assert cause.type == "InvalidPayload"
    assert (await settled_state(ts_env, handle)).stage == "onboarding"

    await send_event(handle, "park", reason="Semester", until=(today + timedelta(days=1)).isoformat())
    parked = await settled_state(ts_env, handle)
    assert (parked.stage, parked.next_step_at) == ("manual_follow_up", at_eight(today + timedelta(days=1)))
