"""The result of a preview: what the run would do, and when, in the pipeline's local time.

Every moment is an aware datetime in the pipeline's timezone (``at``) with the same moment as
text for people (``local``, e.g. ``Mon 2027-05-17 08:00 CEST``). ``POST
/pipelines/{id}/simulate`` answers a ``Simulation`` as JSON; ``kickoff-simulate`` prints it as a
table (or as JSON with ``--json``); the board draws it as a timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from kickoff.domain import RunStatus, TaskResolution, TaskSide, TaskStatus
from kickoff.simulate.script import ActionKind

RefusalKind = Literal["unknown", "not_now", "invalid"]
"""Why the run refused an action, as the API would answer it: 404, 409 or 422."""
Ended = Literal["goal", "until", "waiting", "limit"]
EntryKind = Literal[
    "contract", "stage", "task", "task_done", "mail", "step", "deadline", "skipped", "action", "refused",
    "completed",
]  # fmt: skip


class Moment(BaseModel):
    at: datetime
    local: str


class StageChange(Moment):
    """The run entered a stage."""

    stage: str
    label: str
    previous: str | None
    cause: str
    """What moved it: ``contract received``, a step (``step start-onboarding``), an action
    (``event park``)."""


class TaskRef(BaseModel):
    id: str
    title: str


class PlannedTask(BaseModel):
    """A task the run creates, as it stands at the end of the preview."""

    id: str
    kind: str
    title: str
    owner: TaskSide
    owner_role: str | None
    role: str | None
    """The role's label in the pipeline (``Kundtjänst``)."""
    stage: str
    created: Moment
    due: Moment
    status: TaskStatus
    done: Moment | None = None
    resolution: TaskResolution | None = None
    cause: str


class PlannedMail(Moment):
    """A mail the run sends (every mail is delivered in a preview)."""

    template: str
    """The template's name (``notify`` for a team notification)."""
    recipient: Literal["main_user", "team"]
    to: str
    language: str
    summary: str
    cause: str


class Changes(BaseModel):
    """What one transition (a step firing, a scripted action) changed."""

    stages: list[StageChange] = Field(default_factory=list)
    tasks_created: list[TaskRef] = Field(default_factory=list)
    tasks_closed: list[TaskRef] = Field(default_factory=list)
    mails: list[PlannedMail] = Field(default_factory=list)
    anchors: dict[str, str | None] = Field(default_factory=dict)
    """Anchors set (their local time) or cleared (None); stage entries are in ``stages``."""
    notes: list[str] = Field(default_factory=list)
    """What the run's timeline says besides: a step skipped, a mail no longer owed."""


class Firing(Moment):
    """A scheduled step or a pipeline deadline whose moment came (``at``: when it was performed;
    ``due``: its planned moment, earlier when it was overdue as its stage was entered)."""

    kind: Literal["step", "deadline"]
    key: str
    summary: str
    stage: str
    due: Moment
    skipped: bool
    """It did nothing: the checklist it waits for (``unless_ticked``) was complete, or its
    condition (``if``) did not hold at its moment; ``changes.notes`` says which."""
    changes: Changes


class ScriptOutcome(Moment):
    """What one scripted action did: accepted with its changes, or refused with the run's reason."""

    index: int
    """Its position in the script as given (from 0)."""
    action: ActionKind
    name: str
    accepted: bool
    refusal: str | None = None
    refusal_kind: RefusalKind | None = None
    stage_before: str
    stage_after: str
    changes: Changes


class PlanEntry(Moment):
    """One line of the plan in time order (what the table and the board's timeline show)."""

    kind: EntryKind
    text: str
    stage: str
    """The stage the run is in after it."""
    cause: str = ""


class NextStep(Moment):
    summary: str


class Simulation(BaseModel):
    """A pipeline's run for one contract and script, from ``start`` to ``until``."""

    pipeline: str
    pipeline_name: str
    version: str
    timezone: str
    onboarding_id: str
    start: Moment
    until: Moment
    ended: Ended
    """``goal``: the run completed; ``until``: the preview's end came first; ``waiting``: nothing
    more is scheduled (the run waits for staff); ``limit``: the preview stopped at its step limit."""
    stage: str
    stage_label: str
    status: RunStatus
    next_step: NextStep | None
    """What would happen next after the preview's end, if anything is scheduled."""
    stages: list[StageChange]
    tasks: list[PlannedTask]
    mails: list[PlannedMail]
    firings: list[Firing]
    script: list[ScriptOutcome]
    entries: list[PlanEntry]
    warnings: list[str] = Field(default_factory=list)
