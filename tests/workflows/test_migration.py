"""A waiting run adopts a fixed pipeline through the ``migrate_pipeline`` update: the next mail
goes out with the fixed text, once; its search attribute and timeline say so; what it cannot
adopt is refused with the reason; a continue-as-new keeps the snapshot it adopted."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from kickoff import search_attributes as sa
from kickoff.domain import MigrateInput, TickInput
from kickoff.mailcatcher import MailCatcher
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.migration_support import FIXED, TYPO, current, start_on, typo, variant
from tests.support import (
    at_eight,
    entries,
    eventually,
    local_date,
    make_contract,
    send_event,
    settled_state,
    skip_to,
)
from tests.workflows.test_replay import READ_MODEL

HISTORY = Path(__file__).parent.parent / "histories" / "read_model"
REMINDER = "Påminnelse: boka ert uppstartsmöte"
ADMIN = "admin@assist.example"


async def _version_attribute(handle: WorkflowHandle[Any, Any]) -> str | None:
    return (await handle.describe()).typed_search_attributes.get(sa.PIPELINE_VERSION)


def _reminders(smtp: MailCatcher, oid: str) -> list[str]:
    """The plain-text bodies of the booking reminders that reached SMTP."""
    bodies = []
    for mail in smtp.for_onboarding(oid):
        part = mail.get_body(("plain",))
        if str(mail["Subject"]).startswith(REMINDER) and part is not None:
            bodies.append(part.get_content())
    return bodies


async def test_a_waiting_run_sends_its_next_reminder_with_the_fixed_text_once(
    ts_env, ts_worker, task_queue, smtp
):
    """Migrated on day 5, the day-10 reminder goes out with the fixed text, exactly once; the
    version attribute and the timeline say which version the run follows now, and who moved it."""
    now = await ts_env.get_current_time()
    day0 = local_date(now)
    contract = make_contract(delivery_start=(day0 - timedelta(days=1)).isoformat())
    handle = await start_on(ts_env.client, task_queue, contract, typo())
    await skip_to(ts_env, at_eight(day0 + timedelta(days=5)))
    before = await settled_state(ts_env, handle)
    assert (before.stage, before.pipeline_version) == ("onboarding", typo()[1])
    assert await _version_attribute(handle) == typo()[1]

    fixed, version = current()
    moved = await handle.execute_update(
        OnboardingWorkflow.migrate_pipeline, MigrateInput(pipeline=fixed, pipeline_version=version, by=ADMIN)
    )
    assert moved == version
    await eventually(lambda: _version_attribute(handle), lambda v: v == version)
    assert await handle.query(OnboardingWorkflow.pipeline) == fixed

    await skip_to(ts_env, at_eight(day0 + timedelta(days=11)))
    after = await settled_state(ts_env, handle)
    assert [m.template for m in after.emails] == ["welcome", "booking_reminder"]

    async def reminders() -> list[str]:
        return _reminders(smtp, handle.id)

    [body] = await eventually(reminders, lambda found: len(found) == 1)
    assert FIXED in body
    assert TYPO not in body
    [(at, detail)] = entries(after, "pipeline_migrated")
    assert f"{typo()[1]} -> {version}" in detail
    [entry] = [e for e in after.timeline if e.event == "pipeline_migrated"]
    assert (entry.at, entry.by) == (at, ADMIN)
    # Nothing performed before the migration happened again.
    assert len([t for t in after.tasks if t.title.endswith("(dag 3)")]) == 1


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        pytest.param(typo, "already", id="same-version"),
        pytest.param(
            lambda: variant(
                "assist-se", *((f"{key}manual_follow_up", f"{key}paused") for key in ("id: ", "to: ", "["))
            ),
            "'manual_follow_up'",
            id="stage-gone",
        ),
    ],
)
async def test_a_migration_the_run_cannot_adopt_is_refused_with_the_reason(
    ts_env, ts_worker, task_queue, target, reason
):
    """A parked run asked to adopt its own version, or one without its stage: the update's
    validator refuses, saying why, and the run keeps its snapshot and version."""
    now = await ts_env.get_current_time()
    contract = make_contract(delivery_start=(local_date(now) - timedelta(days=1)).isoformat())
    handle = await start_on(ts_env.client, task_queue, contract, typo())
    await send_event(handle, "park", reason="Semester", until=None)
    before = await settled_state(ts_env, handle)
    pipeline, version = target()
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(
            OnboardingWorkflow.migrate_pipeline, MigrateInput(pipeline=pipeline, pipeline_version=version)
        )
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "ValueError"  # the API's 409
    assert reason in cause.message
    after = await settled_state(ts_env, handle)
    assert after.pipeline_version == before.pipeline_version == typo()[1]
    assert entries(after, "pipeline_migrated") == []


async def test_a_run_that_continues_as_new_keeps_the_snapshot_it_adopted(ts_env, ts_worker, task_queue):
    """A partnership migrated before its 90-day reminder rolls over into a run on the new version."""
    now = await ts_env.get_current_time()
    old = variant("kundprocess-se", ("Tack för förtroendet!", "Tack för förtroendet."))
    contract = make_contract(
        pipeline="kundprocess-se", signed_at=now.isoformat(), delivery_start=now.date().isoformat()
    )
    handle = await start_on(ts_env.client, task_queue, contract, old)
    items = ("enrich_data", "decision_makers", "email_details", "services_bought")
    for item in (*items, "future_opportunities", "customer_folder"):
        await handle.execute_update(OnboardingWorkflow.tick_item, TickInput(item=item))
    await send_event(handle, "start_delivery")
    await skip_to(ts_env, now + timedelta(weeks=9))
    fixed, version = current("kundprocess-se")
    await handle.execute_update(
        OnboardingWorkflow.migrate_pipeline, MigrateInput(pipeline=fixed, pipeline_version=version)
    )
    await skip_to(ts_env, now + timedelta(weeks=9, days=91))
    first = ts_env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    await eventually(first.describe, lambda d: d.status == WorkflowExecutionStatus.CONTINUED_AS_NEW)
    latest = ts_env.client.get_workflow_handle(handle.id)
    state = await settled_state(ts_env, latest)
    assert state.pipeline_version == version
    assert await latest.query(OnboardingWorkflow.pipeline) == fixed
    assert await _version_attribute(latest) == version


def test_the_recorded_migration_is_in_the_replay_set():
    """tests/histories/read_model/pipeline_migrated.json (replayed by test_replay) holds the
    accepted migrate_pipeline update, and after it an upsert of the new version."""
    path = HISTORY / "pipeline_migrated.json"
    assert path in READ_MODEL
    events = json.loads(path.read_text(encoding="utf-8"))["events"]
    kinds = [event["eventType"] for event in events]
    accepted = kinds.index("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED")
    assert (
        events[accepted]["workflowExecutionUpdateAcceptedEventAttributes"]["acceptedRequest"]["input"]["name"]
        == "migrate_pipeline"
    )
    upserts = [
        event["upsertWorkflowSearchAttributesEventAttributes"]["searchAttributes"]["indexedFields"]
        for event in events[accepted:]
        if event["eventType"] == "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"
    ]
    assert any(sa.PIPELINE_VERSION.name in fields for fields in upserts)
