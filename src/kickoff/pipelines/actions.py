"""Moments, actions and steps: what a pipeline says happens, and when.

A moment is "N days (calendar, business or weeks) after an anchor, at HH:MM";
an action is exactly one of mail, task, note, move or notify; a step performs
actions at a moment while the run is in its stage.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal, assert_never, get_args

from pydantic import (
    ConfigDict,
    Field,
    FieldSerializationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from kickoff.pipelines.conditions import Condition
from kickoff.schedule import DayUnit
from kickoff.wire import CompactOnTheWire, on_the_wire

Slug = str
EntryKind = Literal["first_entry", "reentry", "restart"]
"""How a stage was entered: for the first time in a run, again (e.g. after a
park), or as the first stage of a restarted onboarding."""


_ANCHOR = re.compile(
    r"^(signed_at|delivery_start|entered|entered:[a-z][a-z0-9_-]*|contract:[a-z][a-z0-9_]*|[a-z][a-z0-9_]*)$"
)
MAX_DAYS = 3660
"""About ten years: an offset beyond it is a typo, and would leave the calendar snapshot."""
Side = Literal["customer", "vendor"]
"""Who does a task or checklist item: the customer's people or ours."""


class StrictModel(CompactOnTheWire):
    """Every pipeline model: unknown keys refused, immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Moment(StrictModel):
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
    before: bool = False
    """Business days counted back from the anchor: ``{days: 5, unit: business_days, before:
    true}`` is the fifth business day before the anchor's day (a campaign warning). Business
    days otherwise count forwards only; calendar days and weeks go back with a negative offset."""

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
            raise ValueError(
                "business days count forwards only: use unit days or weeks for a moment before, "
                "or before: true to count business days back"
            )
        if self.before and self.unit != "business_days":
            raise ValueError(
                "before counts business days back (unit: business_days): for calendar days or "
                "weeks before the anchor, write a negative offset"
            )
        if self.before and self.days < 1:
            raise ValueError("before counts at least one business day back (days: 1 or more)")
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


class Due(StrictModel):
    """When a task is due, counted from its creation, or from ``anchor`` when that is set
    (a kick-off outcome is due the day after the meeting, not the day after the booking)."""

    days: int = Field(default=0, ge=0, le=MAX_DAYS)
    unit: DayUnit = "days"
    time: dt.time | None = None
    anchor: str | None = None

    @field_serializer("time")
    def _time(self, value: dt.time | None, info: FieldSerializationInfo) -> dt.time | str | None:
        return _short_time(value, info)


class MailSpec(StrictModel):
    template: Slug
    to: Literal["main_user", "team"] = "main_user"
    language: str | None = None
    """Always this language (e.g. for the team); default: the contract's, else the pipeline's."""


class NotifySpec(StrictModel):
    """A short message to the team's mailbox; ``subject`` and ``text`` are templates."""

    subject: str = Field(min_length=1)
    text: str = Field(min_length=1)


class TaskSpec(StrictModel):
    kind: Slug = "todo"
    """``call``, ``todo`` or any other kind an event may complete (``completes_task_kind``)."""
    title: str = Field(min_length=1)
    owner: Side = "vendor"
    owner_role: Slug | None = None
    due: Due = Due()


class NoteSpec(StrictModel):
    text: str = Field(min_length=1)
    for_role: Slug | None = Field(default=None, alias="for")


ActionKind = Literal["mail", "task", "note", "move", "notify"]
"""The closed set of things an action does; every dispatch on it ends in ``assert_never``,
so strict mypy names any place that forgets a kind."""
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)
EFFECT_KINDS: frozenset[ActionKind] = frozenset({"mail", "notify"})
"""Kinds that reach outside the run (SMTP). The others change the run's own state, which
never waits for an effect and is never dropped when the run moves on."""


class Action(StrictModel):
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
    condition: Condition | None = Field(default=None, alias="if")
    """``if:``: the action happens only if this holds when it would (``kickoff.pipelines.conditions``)."""

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


class Step(StrictModel):
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
    condition: Condition | None = Field(default=None, alias="if")
    """``if:``: evaluated when the step's moment comes. The step stays in the plan whatever it
    says; false then, the step is skipped (a timeline note), as ``unless_ticked`` skips it: a
    one-off step or a deadline is done, a recurring step tries again at its next occurrence."""

    @model_validator(mode="after")
    def _repeats_forwards(self) -> Step:
        if self.repeat and self.at.before:
            raise ValueError("a repeating step counts forwards from its last occurrence: it cannot be before")
        return self


class Deadline(Step):
    """A pipeline-wide step: fires once per run, if the run is then in one of ``in_stages``
    ("not live by business day 10": an overdue task, whichever stage it is stuck in)."""

    in_stages: tuple[Slug, ...] = Field(min_length=1)
