"""Runs that started before events declared their payloads keep taking staff actions.

A run keeps the pipeline snapshot it started with, so a run started by an older
release carries events without ``payload`` declarations. Its staff actions must
work exactly as they did then; the inputs here are the ones real recorded runs
started with (tests/histories).
"""

from __future__ import annotations

import json
import uuid
from base64 import b64decode
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from kickoff.converter import data_converter
from kickoff.domain import OnboardingInput, OnboardingState
from tests.support import STARTED_RUNS, local_date, send_event, settled_state

RECORDED = Path(__file__).parent.parent / "histories" / "calls_tasks_and_booking.json"


def recorded_input() -> OnboardingInput:
    """The OnboardingInput of a run recorded by the release before payload declarations."""
    history = json.loads(RECORDED.read_text(encoding="utf-8"))
    started = history["events"][0]["workflowExecutionStartedEventAttributes"]
    raw = started["input"]["payloads"][0]
    payload = Payload(
        metadata={key: b64decode(value) for key, value in raw["metadata"].items()},
        data=b64decode(raw["data"]),
    )
    [decoded] = data_converter.payload_converter.from_payloads([payload], [OnboardingInput])
    assert isinstance(decoded, OnboardingInput)
    return decoded


def test_the_recorded_snapshot_really_is_an_old_one() -> None:
    """The premise: the recorded pipeline's events declare no payload at all."""
    events = recorded_input().pipeline.events
    assert events
    assert all("payload" not in event.model_fields_set for event in events.values())


@pytest.mark.parametrize(
    ("event", "payload", "stage"),
    [
        ("call_logged", {"outcome": "no_answer", "note": "Ringer igen"}, "onboarding"),
        ("park", {"reason": "Semester", "until": None}, "manual_follow_up"),
        ("meeting_booked", {"meeting_at": "2030-01-01T10:00:00+01:00", "booked_by": None}, "closed"),
    ],
)
async def test_an_old_run_still_takes_the_shorthand_events(
    ts_env, ts_worker, task_queue, event, payload, stage
):
    """call_logged, park and meeting_booked with the fields the API's shorthand routes send."""
    now = await ts_env.get_current_time()
    # Exactly the JSON an old release sent (no keys it did not know), with a fresh id and dates.
    old = recorded_input().model_dump(mode="json", exclude_unset=True, by_alias=True)
    contract_id = f"C-{uuid.uuid4().hex[:8]}"
    old["contract"].update(contract_id=contract_id, delivery_start=str(local_date(now) - timedelta(days=2)))
    old["onboarding_id"] = f"SE-{contract_id}"
    STARTED_RUNS.append(old["onboarding_id"])
    handle = await ts_env.client.start_workflow(
        "Onboarding", old, id=old["onboarding_id"], task_queue=task_queue, result_type=OnboardingState
    )
    await settled_state(ts_env, handle)
    assert await send_event(handle, event, **payload) == stage
    # Let the run finish what the event started (the team's mail after a booking): a mail
    # still in flight when the test ends would hold the shared test server's clock.
    assert (await settled_state(ts_env, handle)).stage == stage
