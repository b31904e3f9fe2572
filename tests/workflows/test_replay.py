"""Recorded histories replay against today's workflow code: a determinism break fails the suite."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from kickoff.converter import data_converter
from kickoff.engine import Run
from kickoff.worker import WORKFLOW_RUNNER
from kickoff.workflows.onboarding import COMPLETE_AT_GOAL as COMPLETE_AT_GOAL_PATCH
from kickoff.workflows.onboarding import STATE_FIRST as STATE_FIRST_PATCH
from kickoff.workflows.onboarding import OnboardingWorkflow
from kickoff.workflows.read_model_writer import READ_MODEL as READ_MODEL_PATCH
from kickoff.workflows.read_model_writer import WRITE_ACTIVITY

HERE = Path(__file__).parent.parent / "histories"
QUEUED = sorted(HERE.glob("*.json"))
"""Recorded by earlier releases: runs in flight on the queued path."""
STATE_FIRST = sorted((HERE / "state_first").glob("*.json"))
"""Recorded by the state-first release: runs in flight that wait in their goal stage for a
kick-off outcome (no ``complete-at-goal`` marker)."""
COMPLETE_AT_GOAL = sorted((HERE / "complete_at_goal").glob("*.json"))
"""Recorded by the complete-at-goal release: state first, reaching the goal completes the run,
no read-model writes (runs in flight that join the read model only when signalled)."""
READ_MODEL = sorted((HERE / "read_model").glob("*.json"))
"""Recorded by this release: as complete-at-goal, and each run writes its read-model snapshot."""
HISTORIES = QUEUED + STATE_FIRST + COMPLETE_AT_GOAL + READ_MODEL


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


KINDS = {
    "unbooked_to_inactive",
    "calls_tasks_and_booking",
    "park_until_and_resume",
    "restart_while_running",
    "pakkepilot_go_live",
    "kundprocess_contact_clock",
    "booked_then_no_show",
    "booked_then_completed",
}


@pytest.mark.parametrize(
    ("paths", "extra"),
    [
        (QUEUED, set()),
        (STATE_FIRST, {"pakkepilot_quick_kickoff", "mail_after_relay_outage"}),
        (COMPLETE_AT_GOAL, {"pakkepilot_quick_kickoff", "mail_after_relay_outage"}),
        (READ_MODEL, {"pakkepilot_quick_kickoff", "mail_after_relay_outage"}),
    ],
    ids=["queued", "state-first", "complete-at-goal", "read-model"],
)
def test_histories_cover_every_kind_of_run(paths, extra):
    """Both paths' recordings include a full unbooked run, a booking, parking, a restart, a gated
    business-day pipeline, a partnership run that continued as new at its 90-day reminder, and
    booked runs (that waited for their kick-off outcome, or from complete-at-goal on completed
    at the booking); the state-first ones also a kick-off
    reported at once and a mail that fell back from its local try to a retried activity."""
    assert {p.stem for p in paths} >= KINDS | extra


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_recorded_history_replays_without_nondeterminism(path):
    """Replaying a real run's history with the current code issues the same commands."""
    replayer = Replayer(
        workflows=[OnboardingWorkflow], data_converter=data_converter, workflow_runner=WORKFLOW_RUNNER
    )
    result = await replayer.replay_workflow(load(path))
    assert result.replay_failure is None


async def test_a_change_that_reorders_commands_is_caught(monkeypatch):
    """A code change that adds a command where history has none makes the replay fail."""
    original = Run.enter

    def enter_and_write(self, stage_id, at, event=None):
        original(self, stage_id, at, event)
        # An extra command per stage entry: exactly the kind of edit that breaks runs in flight.
        workflow.upsert_memo({"changed": True})

    monkeypatch.setattr(Run, "enter", enter_and_write)
    # Unsandboxed, so the monkeypatched method is the one that runs.
    replayer = Replayer(
        workflows=[OnboardingWorkflow],
        data_converter=data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(load(HISTORIES[0]))


def _patches(path: Path) -> set[str]:
    """The patch ids a recorded history's markers carry."""
    found = set()
    for event in json.loads(path.read_text(encoding="utf-8"))["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") == "core_patch":
            [payload] = marker["details"]["patch-data"]["payloads"]
            found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


@pytest.mark.parametrize(
    ("paths", "marked"), [(QUEUED, False), (STATE_FIRST, True)], ids=["queued", "state-first"]
)
def test_each_recording_takes_the_path_its_folder_says(paths, marked):
    """State-first recordings carry the state-first patch marker; the older ones do not, so
    replaying them exercises the queued path that runs in flight take."""
    assert paths
    for path in paths:
        assert (STATE_FIRST_PATCH in _patches(path)) is marked, path.name


@pytest.mark.parametrize(
    ("paths", "marked"), [(STATE_FIRST, False), (COMPLETE_AT_GOAL, True)], ids=["before", "after"]
)
def test_booked_runs_carry_the_complete_at_goal_marker_only_from_this_release(paths, marked):
    """The old booked recordings have no complete-at-goal marker (their replay takes the waiting
    path); the new ones have it and complete at the booking."""
    for path in paths:
        if path.stem in {"booked_then_completed", "booked_then_no_show", "calls_tasks_and_booking"}:
            assert (COMPLETE_AT_GOAL_PATCH in _patches(path)) is marked, path.name
            events = json.loads(path.read_text(encoding="utf-8"))["events"]
            completed = events[-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
            assert completed or not marked, path.name  # the old no-show continued as new


@pytest.mark.parametrize(
    ("paths", "marked"), [(HISTORIES[: -len(READ_MODEL)], False), (READ_MODEL, True)], ids=["before", "after"]
)
def test_only_this_releases_runs_write_the_read_model(paths, marked):
    """Earlier recordings carry no read-model marker and no write (their replay issues none);
    this release's carry the marker and at least one ``write_read_model`` local activity."""
    assert paths
    for path in paths:
        assert (READ_MODEL_PATCH in _patches(path)) is marked, path.name
        assert (_local_activities(path).count(WRITE_ACTIVITY) > 0) is marked, path.name


def _local_activities(path: Path) -> list[str]:
    found = []
    for event in json.loads(path.read_text(encoding="utf-8"))["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") == "core_local_activity":
            [payload] = marker["details"]["data"]["payloads"]
            found.append(json.loads(base64.b64decode(payload["data"]))["activity_type"])
    return found
