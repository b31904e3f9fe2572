"""Recorded histories replay against today's workflow code: a determinism break fails the suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from kickoff.converter import data_converter
from kickoff.engine import Run
from kickoff.workflows.onboarding import OnboardingWorkflow

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


def test_histories_cover_every_kind_of_run():
    """The recordings include a full unbooked run, a booking, parking, a restart, a gated
    business-day pipeline, a partnership run that continued as new at its 90-day reminder, and
    booked runs that waited for their kick-off outcome (a no-show, a completed kick-off)."""
    assert {p.stem for p in HISTORIES} >= {
        "unbooked_to_inactive",
        "calls_tasks_and_booking",
        "park_until_and_resume",
        "restart_while_running",
        "pakkepilot_go_live",
        "kundprocess_contact_clock",
        "booked_then_no_show",
        "booked_then_completed",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays_without_nondeterminism(path):
    """Replaying a real run's history with the current code issues the same commands."""
    replayer = Replayer(workflows=[OnboardingWorkflow], data_converter=data_converter)
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
