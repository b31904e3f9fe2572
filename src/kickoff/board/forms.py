"""Action forms generated from the pipeline's event declarations, and their submissions read back.

Nothing here knows a particular pipeline: a field's input type, label and choices come from
its ``PayloadField``. Values are only put in the shape the engine expects (an aware ISO
datetime, a number); judging them is left to the engine, so the board and the API give the
same reasons for the same mistakes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from kickoff.pipelines.model import Event, PayloadField, Pipeline
from kickoff.pipelines.payload import JsonScalar

FIELD_PREFIX = "p."
"""Payload fields are posted as ``p.<name>``, so no declared field can clash with the CSRF token."""
LONG_TEXT = 200
"""Text fields allowing more than this many characters get a textarea."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class FormField:
    name: str
    """The posted name (``p.<payload field>``)."""
    label: str
    widget: str
    """``text``, ``textarea``, ``date``, ``datetime-local``, ``number``, ``checkbox`` or ``select``."""
    required: bool
    max_length: int | None = None
    choices: tuple[Choice, ...] = ()
    value: str = ""
    hint: str = ""


@dataclass(frozen=True)
class EventForm:
    event: str
    label: str
    fields: tuple[FormField, ...] = field(default_factory=tuple)

    @property
    def form_id(self) -> str:
        return f"event-{self.event}"


def humanize(name: str) -> str:
    """``meeting_at`` -> ``Meeting at``: a label for a field the pipeline gives none."""
    text = name.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def _widget(spec: PayloadField) -> str:
    if spec.type == "text":
        return "textarea" if spec.max_length > LONG_TEXT else "text"
    return {
        "date": "date",
        "datetime": "datetime-local",
        "choice": "select",
        "number": "number",
        "boolean": "checkbox",
    }[spec.type]


def event_form(
    name: str, event: Event, pipeline: Pipeline, submitted: Mapping[str, str] | None = None
) -> EventForm:
    """The form for one event; ``submitted`` refills it after the engine refused it."""
    fields = []
    for field_name, spec in event.payload.items():
        posted = FIELD_PREFIX + field_name
        choices: tuple[Choice, ...] = ()
        if spec.type == "choice":
            # An event's outcome labels name its outcome choices ("answered" -> "Samtal genomfört").
            labels = event.outcome_labels if field_name == "outcome" else {}
            choices = tuple(Choice(value, labels.get(value, humanize(value))) for value in spec.choices or ())
        hint = ""
        if spec.type == "datetime":
            hint = f"local time, {pipeline.timezone}"
        elif spec.past:
            hint = "not in the future"
        fields.append(
            FormField(
                name=posted,
                label=spec.label or humanize(field_name),
                widget=_widget(spec),
                required=spec.required,
                max_length=spec.max_length if spec.type == "text" else None,
                choices=choices,
                value=(submitted or {}).get(posted, ""),
                hint=hint,
            )
        )
    return EventForm(event=name, label=event.label, fields=tuple(fields))


def event_forms(
    pipeline: Pipeline, stage: str, refill: tuple[str, Mapping[str, str]] | None = None
) -> list[EventForm]:
    """A form for every event the pipeline accepts in ``stage``, in declaration order."""
    return [
        event_form(name, event, pipeline, refill[1] if refill and refill[0] == name else None)
        for name, event in pipeline.events.items()
        if stage in pipeline.event_allowed_in(event)
    ]


def read_payload(event: Event, pipeline: Pipeline, form: Mapping[str, str]) -> dict[str, JsonScalar]:
    """The payload a submitted event form stands for. Empty inputs are left out (absent, as in
    the API); values that do not parse are passed on as typed, for the engine to name."""
    payload: dict[str, JsonScalar] = {}
    for field_name, spec in event.payload.items():
        posted = FIELD_PREFIX + field_name
        if spec.type == "boolean":
            # An unticked checkbox posts nothing: that is an explicit "no".
            payload[field_name] = posted in form
            continue
        raw = form.get(posted, "").strip()
        if not raw:
            continue
        if spec.type == "datetime":
            payload[field_name] = local_to_aware(raw, pipeline.timezone)
        elif spec.type == "number":
            payload[field_name] = _number(raw)
        else:
            payload[field_name] = raw
    return payload


def local_to_aware(value: str, timezone: str) -> str:
    """``<input type=datetime-local>`` gives a wall-clock time without a zone: read it in the
    pipeline's timezone (the one its schedule and its staff live in) and send it with its offset.
    A value that already carries an offset is kept; one that does not parse is passed on."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.isoformat()


def _number(raw: str) -> JsonScalar:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        number = float(raw.replace(",", "."))
    except ValueError:
        return raw
    # "nan" and "inf" parse as floats but are no amounts: let the engine refuse the text.
    return number if math.isfinite(number) else raw
