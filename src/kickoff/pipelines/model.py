"""The typed shape of ``pipelines.yaml``.

A pipeline is data: stages, what happens on entering each, a schedule of
steps at absolute moments, the events staff can send, and mail templates.
The workflow interprets a snapshot of one ``Pipeline``; nothing here is
specific to one customer's process.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from kickoff.pipelines.actions import (
    ACTION_KINDS,
    EFFECT_KINDS,
    MAX_DAYS,
    Action,
    ActionKind,
    Deadline,
    Due,
    EntryKind,
    MailSpec,
    Moment,
    NoteSpec,
    NotifySpec,
    Side,
    Slug,
    Step,
    StrictModel,
    TaskSpec,
)
from kickoff.pipelines.conditions import Condition
from kickoff.pipelines.customer import Booking, Branding, CustomerPage
from kickoff.pipelines.reports import PipelineReports

SLUG = re.compile(r"^[a-z][a-z0-9_-]*$")
"""What a stage id looks like (other ids are checked by the loader)."""

__all__ = [
    "ACTION_KINDS",
    "EFFECT_KINDS",
    "MAX_DAYS",
    "Action",
    "ActionKind",
    "Condition",
    "Deadline",
    "Due",
    "EntryKind",
    "MailSpec",
    "Moment",
    "NoteSpec",
    "NotifySpec",
    "Side",
    "Slug",
    "Step",
    "TaskSpec",
]


class Stage(StrictModel):
    id: Slug
    label: str = Field(min_length=1)
    on_enter: tuple[Action, ...] = ()
    schedule: tuple[Step, ...] = ()
    goal: bool = False
    """Entering a goal stage performs its on_enter actions and completes the run."""
    requires: tuple[Slug, ...] = ()
    """Checklists whose items must all be ticked before an event may move the run here."""

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(f"stage id {value!r} must be lower-case letters, digits, '-' or '_'")
        return value


FieldType = Literal["text", "date", "datetime", "choice", "number", "boolean"]


class PayloadField(StrictModel):
    """One field of an event's payload, checked before the event reaches the run."""

    type: FieldType = "text"
    required: bool = False
    choices: tuple[str, ...] | None = None
    max_length: int = Field(default=2000, ge=1)
    label: str | None = None
    past: bool = False
    """A date or datetime that reports something done ("kick-off held at"): not in the future."""


class Event(StrictModel):
    """Something staff or a system reports; may move the run to another stage."""

    _wire_keeps: ClassVar[frozenset[str]] = frozenset({"payload"})

    label: str = Field(min_length=1)
    payload: dict[Slug, PayloadField] = Field(default_factory=dict)
    """The fields the event carries; anything else is refused (HTTP 422)."""
    allowed_in: tuple[Slug, ...] | None = None
    """Stages in which the event is accepted (default: every non-goal stage)."""
    to: Slug | None = None
    """Stage to move to (nothing happens if the run is already there)."""
    to_if: Condition | None = None
    """The move to ``to`` happens only if this holds (over the payload, the contract, the
    records with this event's own, the checklists, the time in the stage the event finds);
    otherwise the run stays where it is and the event's other effects happen all the same."""
    do: tuple[Action, ...] = ()
    """Actions performed when the event is applied (after the move, if any)."""
    goal: bool = False
    """Applying the event completes the run."""
    anchors: dict[Slug, str] = Field(default_factory=dict)
    """Anchors this event sets from its payload: ``{anchor name: payload field}``;
    an empty field clears the anchor."""
    stamps: tuple[Slug, ...] = ()
    """Anchors set to the moment the event is applied, unless ``anchors`` sets
    them from the payload (``kickoff_held``, ``last_contact``)."""
    advance_only: tuple[Slug, ...] = ()
    """Anchors this event only moves forward: a back-dated report (an older contact
    logged late) never rewinds a clock counted from them."""
    record: Slug | None = None
    """Keep each payload in the run's ``records`` under this name (opportunities)."""
    completes_task_kind: Slug | None = None
    """Marks the oldest open task of this kind done (a logged call closes its call task)."""
    outcome_labels: dict[str, str] = Field(default_factory=dict)
    """Timeline text per ``outcome`` in the payload."""


class MailTemplate(StrictModel):
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)


class Team(StrictModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = None


class ChecklistItem(StrictModel):
    id: Slug
    label: str = Field(min_length=1)
    owner: Side = "vendor"
    modules: tuple[Slug, ...] | None = None


class Checklist(StrictModel):
    """Items staff tick (``POST /onboardings/{id}/checklist/{item}``); a stage may require them."""

    label: str = Field(min_length=1)
    items: tuple[ChecklistItem, ...] = Field(min_length=1)


class Module(StrictModel):
    """A part of the product a contract may include; actions and items can be limited to it."""

    label: str = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    """The label in other languages the pipeline offers, for mail in those languages."""
    default: bool = True
    """Included when the contract does not list its modules."""

    def label_in(self, language: str) -> str:
        return self.labels.get(language, self.label)


class Restart(StrictModel):
    stage: Slug
    reasons: tuple[Slug, ...] = ("no_show", "rescheduled")


class KickoffOutcomeSpec(StrictModel):
    """After a booking (the run completes in ``awaited_in``, a goal stage), staff record how the
    kick-off went in Kickoff's database. ``completed`` needs a segment and the responsible
    advisor; ``no_show`` and ``rescheduled`` restart onboarding. Runs that reached the stage
    before the ``complete-at-goal`` release wait there instead, with a task (``task``) that
    only the outcome closes."""

    awaited_in: Slug
    segments: dict[Slug, str] = Field(min_length=1)
    """Segment id (what search attributes and the API carry) -> label."""
    task: TaskSpec


class Calendar(StrictModel):
    """Which days are business days: Monday to Friday, less the country's public holidays."""

    country: str = Field(pattern=r"^[A-Z]{2}$")
    subdivision: str | None = None
    categories: tuple[str, ...] = ("public",)
    """Holiday categories of the ``holidays`` package; Sweden's ``de_facto``
    category adds Midsummer Eve, Christmas Eve and New Year's Eve."""
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


class Pipeline(StrictModel):
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
    modules: dict[Slug, Module] = Field(default_factory=dict)
    contract_dates: dict[Slug, str] = Field(default_factory=dict)
    """Date fields a contract may carry (``dates: {renewal: 2028-01-31}``), usable as
    ``contract:<name>`` anchors: ``{name: what it means}``."""
    checklists: dict[Slug, Checklist] = Field(default_factory=dict)
    stages: tuple[Stage, ...] = Field(min_length=1)
    deadlines: tuple[Deadline, ...] = ()
    events: dict[Slug, Event] = Field(default_factory=dict)
    templates: dict[Slug, dict[str, MailTemplate]] = Field(default_factory=dict)
    kickoff_outcome: KickoffOutcomeSpec | None = None
    booking: Booking | None = None
    """Self-service booking of the kick-off on the customer's page."""
    customer_page: CustomerPage | None = None
    branding: Branding = Branding()
    reports: PipelineReports | None = None
    """Measures the pipeline declares (sums over records, compliance shares)."""

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

    def modules_for(self, chosen: Sequence[str] | None) -> list[str]:
        """The modules a contract gets: those it lists, else the pipeline's defaults."""
        if chosen is not None:
            return [m for m in self.modules if m in chosen]
        return [m for m, spec in self.modules.items() if spec.default]

    def checklist_items(self) -> dict[str, tuple[str, ChecklistItem]]:
        """Every checklist item by id, with the checklist it belongs to."""
        return {
            item.id: (cid, item) for cid, checklist in self.checklists.items() for item in checklist.items
        }

    def template_for(self, name: str, language: str | None) -> tuple[str, MailTemplate]:
        """The template in ``language`` if offered, else in the pipeline's default language."""
        versions = self.templates[name]
        if language in versions:
            return language, versions[language]
        return self.default_language, versions[self.default_language]


class PipelineFile(StrictModel):
    """The whole ``pipelines.yaml``: a mapping from pipeline id to its definition."""

    pipelines: dict[Slug, Pipeline] = Field(min_length=1)
