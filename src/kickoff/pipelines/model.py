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
from typing import ClassVar, Literal, assert_never, get_args

from pydantic import (
    ConfigDict,
    Field,
    FieldSerializationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from kickoff.schedule import DayUnit
from kickoff.wire import CompactOnTheWire, on_the_wire

Slug = str
EntryKind = Literal["first_entry", "reentry", "restart"]
"""How a stage was entered: for the first time in a run, again (e.g. after a
park), or as the first stage of a restarted onboarding."""

_SLUG = re.compile(r"^[a-z][a-z0-9_-]*$")
_ANCHOR = re.compile(
    r"^(signed_at|delivery_start|entered|entered:[a-z][a-z0-9_-]*|contract:[a-z][a-z0-9_]*|[a-z][a-z0-9_]*)$"
)
MAX_DAYS = 3660
"""About ten years: an offset beyond it is a typo, and would leave the calendar snapshot."""
Side = Literal["customer", "vendor"]
"""Who does a task or checklist item: the customer's people or ours."""


class _Strict(CompactOnTheWire):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Moment(_Strict):
    """A moment relative to a named anchor: ``days`` later in ``unit``, at local ``time``.

    Anchors: ``signed_at``, ``delivery_start``, ``entered`` (this stage),
    ``entered:<stage>`` (when that stage was last entered), ``contract:<date>``
    (a date field of the contract), or an anchor an event sets (``park_until``,
    ``kickoff_held``). A list of anchors means the latest of those that are set
    ("90 days after the last logged contact, or after entering partnership").
    """

    anchor: str | tuple[str, ...]
    days: int = Field(default=0, ge=-MAX_DAYS, le=MAX_DAYS)
    unit: DayUnit = "days"
    time: dt.time | None = None

    @field_validator("anchor")
    @classmethod
    def _anchor_shape(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        names = (value,) if isinstance(value, str) else value
        if not names:
            raise ValueError("anchor list is empty")
        for name in names:
            if not _ANCHOR.match(name):
                raise ValueError(
                    f"anchor {name!r} is not a name like 'delivery_start' or 'entered:onboarding'"
                )
        return value

    @model_validator(mode="after")
    def _business_days_forwards(self) -> Moment:
        if self.unit == "business_days" and self.days < 0:
            raise ValueError("business days count forwards only: use unit days or weeks for a moment before")
        return self

    def anchor_names(self) -> tuple[str, ...]:
        return (self.anchor,) if isinstance(self.anchor, str) else self.anchor

    @field_serializer("time")
    def _time(self, value: dt.time | None, info: FieldSerializationInfo) -> dt.time | str | None:
        return _short_time(value, info)


def _short_time(value: dt.time | None, info: FieldSerializationInfo) -> dt.time | str | None:
    """08:00 rather than 08:00:00 on the wire (a pipeline's times are whole minutes)."""
    if value is not None and on_the_wire(info) and not (value.second or value.microsecond or value.tzinfo):
        return value.strftime("%H:%M")
    return value


class Due(_Strict):
    """When a task is due, counted from its creation, or from ``anchor`` when that is set
    (a kick-off outcome is due the day after the meeting, not the day after the booking)."""

    days: int = Field(default=0, ge=0, le=MAX_DAYS)
    unit: DayUnit = "days"
    time: dt.time | None = None
    anchor: str | None = None

    @field_serializer("time")
    def _time(self, value: dt.time | None, info: FieldSerializationInfo) -> dt.time | str | None:
        return _short_time(value, info)


class MailSpec(_Strict):
    template: Slug
    to: Literal["main_user", "team"] = "main_user"
    language: str | None = None
    """Always this language (e.g. for the team); default: the contract's, else the pipeline's."""


class NotifySpec(_Strict):
    """A short message to the team's mailbox; ``subject`` and ``text`` are templates."""

    subject: str = Field(min_length=1)
    text: str = Field(min_length=1)


class TaskSpec(_Strict):
    kind: Slug = "todo"
    """``call``, ``todo`` or any other kind an event may complete (``completes_task_kind``)."""
    title: str = Field(min_length=1)
    owner: Side = "vendor"
    owner_role: Slug | None = None
    due: Due = Due()


class NoteSpec(_Strict):
    text: str = Field(min_length=1)
    for_role: Slug | None = Field(default=None, alias="for")


ActionKind = Literal["mail", "task", "note", "move", "notify"]
"""The closed set of things an action does; every dispatch on it ends in ``assert_never``,
so strict mypy names any place that forgets a kind."""
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)
EFFECT_KINDS: frozenset[ActionKind] = frozenset({"mail", "notify"})
"""Kinds that reach outside the run (SMTP). The others change the run's own state, which
never waits for an effect and is never dropped when the run moves on."""


class Action(_Strict):
    """Exactly one of ``mail``, ``task``, ``note``, ``move`` or ``notify``.

    ``when`` filters by entry kind; ``modules`` limits the action to contracts
    that include at least one of those modules.
    """

    mail: MailSpec | None = None
    task: TaskSpec | None = None
    note: NoteSpec | None = None
    move: Slug | None = None
    notify: NotifySpec | None = None
    when: tuple[EntryKind, ...] | None = None
    modules: tuple[Slug, ...] | None = None
    summary: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        chosen = [name for name in ACTION_KINDS if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(
                f"an action has exactly one of {', '.join(ACTION_KINDS)} (found {chosen or 'none'})"
            )
        return self

    @property
    def kind(self) -> ActionKind:
        for name in ACTION_KINDS:
            if getattr(self, name) is not None:
                return name
        raise AssertionError("validated to have one kind")

    @property
    def is_effect(self) -> bool:
        return self.kind in EFFECT_KINDS

    def applies_to(self, entry: EntryKind) -> bool:
        return self.when is None or entry in self.when

    def describe(self) -> str:
        """Text for Temporal UI summaries when the YAML gives none."""
        if self.summary:
            return self.summary
        kind = self.kind
        match kind:
            case "mail":
                assert self.mail is not None
                return f"{self.mail.template} mail"
            case "task":
                assert self.task is not None
                return f"{self.task.kind} task: {self.task.title}"
            case "note":
                assert self.note is not None
                return f"note: {self.note.text}"
            case "notify":
                assert self.notify is not None
                return f"notify team: {self.notify.subject}"
            case "move":
                return f"move to {self.move}"
            case _:
                assert_never(kind)


class Step(_Strict):
    """Actions performed at one absolute moment while the run is in the stage."""

    key: Slug
    at: Moment
    summary: str = Field(min_length=1)
    do: tuple[Action, ...] = Field(min_length=1)
    repeat: bool = False
    """Recurring: after firing, the next occurrence is counted from this one
    (e.g. every 90 days), until its anchor moves (a logged contact resets it)."""
    modules: tuple[Slug, ...] | None = None
    unless_ticked: tuple[Slug, ...] = ()
    """Checklists that make the step pointless once complete (an overdue warning)."""


class Deadline(Step):
    """A pipeline-wide step: fires once per run, if the run is then in one of ``in_stages``
    ("not live by business day 10": an overdue task, whichever stage it is stuck in)."""

    in_stages: tuple[Slug, ...] = Field(min_length=1)


class Stage(_Strict):
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
        if not _SLUG.match(value):
            raise ValueError(f"stage id {value!r} must be lower-case letters, digits, '-' or '_'")
        return value


FieldType = Literal["text", "date", "datetime", "choice", "number", "boolean"]


class PayloadField(_Strict):
    """One field of an event's payload, checked before the event reaches the run."""

    type: FieldType = "text"
    required: bool = False
    choices: tuple[str, ...] | None = None
    max_length: int = Field(default=2000, ge=1)
    label: str | None = None
    past: bool = False
    """A date or datetime that reports something done ("kick-off held at"): not in the future."""


class Event(_Strict):
    """Something staff or a system reports; may move the run to another stage."""

    _wire_keeps: ClassVar[frozenset[str]] = frozenset({"payload"})

    label: str = Field(min_length=1)
    payload: dict[Slug, PayloadField] = Field(default_factory=dict)
    """The fields the event carries; anything else is refused (HTTP 422)."""
    allowed_in: tuple[Slug, ...] | None = None
    """Stages in which the event is accepted (default: every non-goal stage)."""
    to: Slug | None = None
    """Stage to move to (nothing happens if the run is already there)."""
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


class MailTemplate(_Strict):
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)


class Team(_Strict):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = None


class ChecklistItem(_Strict):
    id: Slug
    label: str = Field(min_length=1)
    owner: Side = "vendor"
    modules: tuple[Slug, ...] | None = None


class Checklist(_Strict):
    """Items staff tick (``POST /onboardings/{id}/checklist/{item}``); a stage may require them."""

    label: str = Field(min_length=1)
    items: tuple[ChecklistItem, ...] = Field(min_length=1)


class Module(_Strict):
    """A part of the product a contract may include; actions and items can be limited to it."""

    label: str = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    """The label in other languages the pipeline offers, for mail in those languages."""
    default: bool = True
    """Included when the contract does not list its modules."""

    def label_in(self, language: str) -> str:
        return self.labels.get(language, self.label)


class Restart(_Strict):
    stage: Slug
    reasons: tuple[Slug, ...] = ("no_show", "rescheduled")


class KickoffOutcomeSpec(_Strict):
    """A booked run does not complete at once: it waits in ``awaited_in`` (a goal stage, where
    nothing is sent any more) until staff record how the kick-off went. ``completed`` needs a
    segment and the responsible advisor; ``no_show`` and ``rescheduled`` restart onboarding.
    The wait is a task (``task``) that only the outcome closes."""

    awaited_in: Slug
    segments: dict[Slug, str] = Field(min_length=1)
    """Segment id (what search attributes and the API carry) -> label."""
    task: TaskSpec


class Calendar(_Strict):
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


class PipelineFile(_Strict):
    """The whole ``pipelines.yaml``: a mapping from pipeline id to its definition."""

    pipelines: dict[Slug, Pipeline] = Field(min_length=1)
