"""What a preview is asked to run: a contract's moments and a script of what staff do when.

A script is a list of actions, each at a moment: ``{at, event, payload}`` (an event the
pipeline declares), ``{at, tick: item}`` / ``{at, untick: item}`` (a checklist item),
``{at, done: kind or title}`` (staff mark the oldest open task of that kind, or with that
title, done) or ``{at, amend: date}`` (a new delivery start). A moment is an ISO date (09:00
local time in the pipeline's timezone, when office work starts) or a date and time (local
time when it carries no offset). The CLI reads the same list from YAML or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

from kickoff.pipelines.payload import DATE_EXAMPLE, JsonScalar, plausible_date
from kickoff.schedule import local_moment, start_of_day

DAY_STARTS = time(9, 0)
"""The local time a bare date means for ``from`` and ``at``: when office work starts."""
MAX_ACTIONS = 200
"""A script longer than this is not a preview any more."""

_YEARS = "^20[0-9]{2}-"
WHEN_FORMAT = (
    f"a date like {DATE_EXAMPLE}, or a date and time like {DATE_EXAMPLE}T10:00 (local, or with an offset)"
)


def parse_when(value: object) -> date | datetime:
    """A moment as a script gives it: a date or datetime (YAML's own), or ISO text."""
    if isinstance(value, datetime | date):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            short = len(text) == len(DATE_EXAMPLE)
            moment = date.fromisoformat(text) if short else datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"must be {WHEN_FORMAT}") from None
    else:
        raise ValueError(f"must be {WHEN_FORMAT}")
    plausible_date(moment.date() if isinstance(moment, datetime) else moment)
    return moment


def _iso(value: date) -> str:
    return value.isoformat()


When = Annotated[
    date,
    PlainValidator(parse_when),
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date", "pattern": _YEARS},
                {"type": "string", "format": "date-time", "pattern": _YEARS},
            ],
            "description": "A date (09:00 local time in the pipeline's timezone) or a date and time "
            "(local time without an offset)",
        }
    ),
]
"""A ``date`` or a ``datetime`` (a subclass of ``date``), as ``parse_when`` reads it."""


def _date_only(value: object) -> date:
    moment = parse_when(value)
    if isinstance(moment, datetime):
        raise ValueError(f"must be a date like {DATE_EXAMPLE}")
    return moment


Day = Annotated[
    date,
    PlainValidator(_date_only),
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date", "pattern": _YEARS}),
]


def moment_of(value: date, tz: str, *, end_of_day: bool = False) -> datetime:
    """The aware moment ``value`` names in ``tz``: a bare date at ``DAY_STARTS`` (or, for the end
    of a preview, the following midnight: the whole day is included)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value
        return local_moment(value.date(), value.time(), tz)
    if end_of_day:
        return start_of_day(value + timedelta(days=1), tz)
    return local_moment(value, DAY_STARTS, tz)


def _scalar_payload(value: object) -> object:
    """YAML reads an unquoted date as a date: the payload carries it as ISO text, as JSON would."""
    if isinstance(value, Mapping):
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in value.items()}
    return value


ActionKind = Literal["event", "tick", "untick", "done", "amend"]
ACTION_KINDS: tuple[ActionKind, ...] = ("event", "tick", "untick", "done", "amend")


class ScriptedAction(BaseModel):
    """One thing staff (or another system) do at a moment of the preview."""

    model_config = ConfigDict(extra="forbid")

    at: When
    event: str | None = Field(default=None, min_length=1, max_length=100, examples=["meeting_booked"])
    """An event the pipeline declares."""
    payload: Annotated[dict[str, JsonScalar], BeforeValidator(_scalar_payload)] = Field(
        default_factory=dict, max_length=50
    )
    """The event's payload, checked against its declaration as the run checks it."""
    tick: str | None = Field(default=None, min_length=1, max_length=100)
    """A checklist item to tick."""
    untick: str | None = Field(default=None, min_length=1, max_length=100)
    done: str | None = Field(default=None, min_length=1, max_length=500)
    """A task's kind (``call``) or exact title: the oldest open one is marked done."""
    amend: Day | None = None
    """A new delivery start (the contract is amended)."""
    by: str | None = Field(default=None, max_length=200)
    """Who does it, for the timeline (default: nobody named)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> ScriptedAction:
        chosen = self.kinds()
        if len(chosen) != 1:
            found = ", ".join(chosen) or "none"
            raise ValueError(f"an action has exactly one of {', '.join(ACTION_KINDS)} (found {found})")
        if self.payload and chosen[0] != "event":
            raise ValueError("only an event carries a payload")
        return self

    def kinds(self) -> list[ActionKind]:
        return [kind for kind in ACTION_KINDS if getattr(self, kind) is not None]

    @property
    def kind(self) -> ActionKind:
        return self.kinds()[0]

    @property
    def name(self) -> str:
        """What the action names: the event, the item, the task, or the new delivery start."""
        value = getattr(self, self.kind)
        return value.isoformat() if isinstance(value, date) else str(value)


class ScriptError(ValueError):
    """The script file is not a list of actions."""


def load_script(text: str) -> list[Any]:
    """The raw entries of a script file (YAML, of which JSON is a part): a list, or a mapping
    with the list under ``events``. Each entry is validated as a ``ScriptedAction`` later."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ScriptError(f"not YAML or JSON{where}") from None
    if document is None:
        return []
    if isinstance(document, Mapping) and set(document) == {"events"}:
        document = document["events"]
    if not isinstance(document, list):
        raise ScriptError("must be a list of actions, e.g. - {at: 2027-05-17, event: resume}")
    return document
