"""Typed rows the service lists: what visibility knows of a run, and an open task with its run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kickoff.domain import Task


@dataclass(frozen=True)
class OnboardingRow:
    """One onboarding's latest run, from Temporal visibility (no personal data)."""

    id: str
    pipeline: str | None
    pipeline_version: str | None
    stage: str | None
    status: str
    started_at: datetime | None
    run_id: str | None


@dataclass(frozen=True)
class OpenTaskRow:
    """An open task, with the onboarding it belongs to."""

    task: Task
    onboarding_id: str
    pipeline: str
    stage: str
    customer: str
    """The customer's name, for the board's inbox (the API's task list leaves it out)."""
    assignee: str | None = None
    """The account id of the person the task is assigned to, if any."""
