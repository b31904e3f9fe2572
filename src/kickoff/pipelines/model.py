"""The typed shape of ``pipelines.yaml``.

A pipeline is data: stages, what happens on entering each, a schedule of
steps at absolute moments, the events staff can send, and mail templates.
The workflow interprets a snapshot of one ``Pipeline``; nothing here is
specific to one customer's process.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kickoff.schedule import DayUnit

Slug = str
EntryKind = Literal["first_entry", "reentry", "restart"]
"""How a stage was entered: for the first time in a run, again (e.g. after a
park), or as the first stage of a restarted onboarding."""

_SLUG = re.compile(r"^[a-z][a-z0-9_-]*$")
_ANCHOR = re.compile(r"^(signed_at|delivery_start|entered|entered:[a-z][a-z0-9_-]*|[a-z][a-z0-9_]*)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Moment(_Strict):
    """A moment relative to a named anchor: ``days`` later in ``unit``, at local ``time``.

    Anchors: ``signed_at``, ``delivery_start``, ``entered`` (this stage),
    ``entered:<stage>`` (when that stage was last entered), or an anchor an
    event sets (e.g. ``park_until``).
    """

    anchor: str
    days: int = 0
    unit: DayUnit = "days"
    time: dt.time | None = None

    @field_validator("anchor")
    @classmethod
    def _anchor_shape(cls, value: str) -> str:
        if not _ANCHOR.match(value):
            raise ValueError(f"anchor {value!r} is not a name like 'delivery_start' or 'entered:onboarding'")
        return value


class Due(_Strict):
    """When a task is due, counted from its creation."""

    days: int = Field(default=0, ge=0)
    unit: DayUnit = "days"
    time: dt.time | None = None


class MailSpec(_Strict):
    template: Slug
    to: Literal["main_user", "team"] = "main_user"


class TaskSpec(_Strict):
    kind: Literal["call", "todo"]
    title: str = Field(min_length=1)
    owner_role: Slug | None = None
    due: Due = Due()


class NoteSpec(_Strict):
    text: str = Field(min_length=1)
    for_role: Slug | None = Field(default=None, alias="for")


class Action(_Strict):
    """Exactly one of ``mail``, ``task``, ``note`` or ``move``; ``when`` filters by entry kind."""

    mail: MailSpec | None = None
    task: TaskSpec | None = None
    note: NoteSpec | None = None
    move: Slug | None = None
    when: tuple[EntryKind, ...] | None = None
    summary: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        chosen = [name for name in ("mail", "task", "note", "move") if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(
                f"an action has exactly one of mail, task, note, move (found {chosen or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        for name in ("mail", "task", "note", "move"):
            if getattr(self, name) is not None:
                return name
        raise AssertionError("validated to have one kind")

    def applies_to(self, entry: EntryKind) -> bool:
        return self.when is None or entry in self.when

    def describe(self) -> str:
        """Text for Temporal UI summaries when the YAML gives none."""
        if self.summary:
            return self.summary
        if self.mail:
            return f"{self.mail.template} mail"
        if self.task:
            return f"{self.task.kind} task: {self.task.title}"
        if self.note:
            return f"note: {self.note.text}"
        return f"move to {self.move}"


class Step(_Strict):
    """Actions performed at one absolute moment while the run is in the stage."""

    key: Slug
    at: Moment
    summary: str = Field(min_length=1)
    do: tuple[Action, ...] = Field(min_length=1)


class Stage(_Strict):
    id: Slug
    label: str = Field(min_length=1)
    on_enter: tuple[Action, ...] = ()
    schedule: tuple[Step, ...] = ()
    goal: bool = False
    """Entering a goal stage performs its on_enter actions and completes the run."""

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"stage id {value!r} must be lower-case letters, digits, '-' or '_'")
        return value


class Event(_Strict):
    """Something staff or a system reports; may move the run to another stage."""

    label: str = Field(min_length=1)
    allowed_in: tuple[Slug, ...] | None = None
    """Stages in which the event is accepted (default: every non-goal stage)."""
    to: Slug | None = None
    anchors: dict[Slug, str] = Field(default_factory=dict)
    """Anchors this event sets from its payload: ``{anchor name: payload field}``;
    an empty field clears the anchor."""
    completes_task_kind: Literal["call", "todo"] | None = None
    """Marks the oldest open task of this kind done (a logged call closes its call task)."""
    outcome_labels: dict[str, str] = Field(default_factory=dict)
    """Timeline text per ``outcome`` in the payload."""


class MailTemplate(_Strict):
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)


class Team(_Strict):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = None


class Restart(_Strict):
    stage: Slug
    reasons: tuple[Slug, ...] = ("no_show", "rescheduled")


class Calendar(_Strict):
    """Which days are business days: Monday to Friday, less the country's public holidays."""

    country: str = Field(pattern=r"^[A-Z]{2}$")
    subdivision: str | None = None
    extra_closed_days: tuple[dt.date, ...] = ()
    """Days the business is closed though they are no public holiday (e.g. Midsummer Eve)."""
    closed_days: tuple[dt.date, ...] = ()
    """Filled in by the loader from the ``holidays`` package, so a run's snapshot
    carries its calendar and a package upgrade cannot change a plan in flight."""

    @field_validator("country", mode="before")
    @classmethod
    def _norway_problem(cls, value: object) -> object:
        if value is False:
            raise ValueError("YAML reads a bare NO as false: write country: 'NO' in quotes")
        return value


class Pipeline(_Strict):
    """One onboarding process."""

    id: Slug
    name: str = Field(min_length=1)
    id_prefix: str = Field(pattern=r"^[A-Z][A-Z0-9]*$")
    timezone: str
    calendar: Calendar | None = None
    languages: tuple[str, ...] = Field(min_length=1)
    default_language: str
    start_stage: Slug
    restart: Restart
    park_event: Slug | None = None
    team: Team
    links: dict[Slug, str] = Field(default_factory=dict)
    roles: dict[Slug, str] = Field(default_factory=dict)
    stages: tuple[Stage, ...] = Field(min_length=1)
    events: dict[Slug, Event] = Field(default_factory=dict)
    templates: dict[Slug, dict[str, MailTemplate]] = Field(default_factory=dict)

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)

    def stage_ids(self) -> list[str]:
        return [stage.id for stage in self.stages]

    def event_allowed_in(self, event: Event) -> tuple[str, ...]:
        if event.allowed_in is not None:
            return event.allowed_in
        return tuple(stage.id for stage in self.stages if not stage.goal)

    def template_for(self, name: str, language: str | None) -> tuple[str, MailTemplate]:
        """The template in ``language`` if offered, else in the pipeline's default language."""
        versions = self.templates[name]
        if language in versions:
            return language, versions[language]
        return self.default_language, versions[self.default_language]


class PipelineFile(_Strict):
    """The whole ``pipelines.yaml``: a mapping from pipeline id to its definition."""

    pipelines: dict[Slug, Pipeline] = Field(min_length=1)
