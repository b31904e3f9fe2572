"""A run keeps the pipeline snapshot it started with; edits reach only new runs and restarts."""

from __future__ import annotations

from datetime import timedelta

from kickoff.pipelines import parse_pipelines
from kickoff.service import OnboardingService
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.support import (
    PIPELINES_FILE,
    at_eight,
    catalog,
    local_date,
    make_contract,
    settled_state,
    skip_to,
    start_run,
)


def edited_catalog():
    """pipelines.yaml as a process owner might edit it: the day-3 call moves to day 4."""
    text = PIPELINES_FILE.read_text(encoding="utf-8")
    edited = text.replace("days: 3, time", "days: 4, time").replace("(dag 3)", "(dag 4)")
    assert edited != text
    return parse_pipelines(edited, source="edited.yaml")


async def test_editing_pipelines_yaml_changes_new_runs_but_not_a_run_in_flight(ts_env, ts_worker, task_queue):
    """The in-flight run still calls on day 3 under its old version; a new run calls on day 4."""
    original, edited = catalog(), edited_catalog()
    assert original.version("assist-se") != edited.version("assist-se")
    now = await ts_env.get_current_time()
    delivery = local_date(now) + timedelta(days=1)
    day0 = delivery + timedelta(days=1)
    old_run = await start_run(
        ts_env, task_queue, make_contract(delivery_start=delivery.isoformat()), original
    )
    await skip_to(ts_env, at_eight(day0) + timedelta(hours=1))
    # The file changes while old_run waits for its day-3 step.
    new_run = await start_run(ts_env, task_queue, make_contract(delivery_start=delivery.isoformat()), edited)

    await skip_to(ts_env, at_eight(day0 + timedelta(days=5)))
    old, new = await settled_state(ts_env, old_run), await settled_state(ts_env, new_run)

    assert old.pipeline_version == original.version("assist-se")
    assert new.pipeline_version == edited.version("assist-se")
    assert [t.created_at for t in old.tasks if t.title.endswith("(dag 3)")] == [
        at_eight(day0 + timedelta(days=3))
    ]
    assert not any(t.title.endswith("(dag 4)") for t in old.tasks)
    new_entered = next(e.at for e in new.timeline if e.detail == "Onboarding – Pågår")
    assert [t.created_at for t in new.tasks if t.title.endswith("(dag 4)")] == [
        at_eight(local_date(new_entered) + timedelta(days=4))
    ]
    assert not any(t.title.endswith("(dag 3)") for t in new.tasks)


async def test_a_restart_takes_the_pipeline_as_it_is_now(ts_env, ts_worker, task_queue):
    """Restarting an onboarding gives its new cycle the edited pipeline and its version."""
    now = await ts_env.get_current_time()
    delivery = local_date(now) - timedelta(days=3)
    run = await start_run(ts_env, task_queue, make_contract(delivery_start=delivery.isoformat()), catalog())
    first = await settled_state(ts_env, run)

    edited = edited_catalog()
    await OnboardingService(ts_env.client, edited, task_queue).restart(first.id, "rescheduled")
    latest = ts_env.client.get_workflow_handle_for(OnboardingWorkflow.run, first.id)
    restarted = await settled_state(ts_env, latest)
    assert restarted.cycle == 2
    assert restarted.pipeline_version == edited.version("assist-se") != first.pipeline_version
    assert restarted.next_step == "day 3 call task"
    assert restarted.next_step_at == at_eight(local_date(restarted.stage_entered_at) + timedelta(days=4))
