"""Check an event's payload against the fields its pipeline declares.

Pure and deterministic: the workflow's update validator runs it against the
run's own pipeline snapshot (so a payload is judged by the version of the
process the run follows), and the API turns its problems into a 422.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from kickoff.pipelines.model import Event, PayloadField

JsonScalar = str | int | float | bool | None
Payload = dict[str, JsonScalar]

DATE_EXAMPLE = "2027-05-17"
"""The date refusals show as an example of the format (any date: it only shows the shape)."""


class PayloadError(ValueError):
    """The payload does not match the event's declaration; ``problems`` names each field."""

    def __init__(self, event: str, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        listed = "; ".join(f"{name}: {why}" for name, why in self.problems.items())
        super().__init__(f"event {event!r}: {listed}")


EARLIEST_ZONE = timedelta(hours=14)
CLOCK_SLACK = timedelta(minutes=15)
"""How far ahead of the run's clock a ``past`` moment may be (the sender's clock may run fast)."""


def check_payload(
    name: str, event: Event, payload: Mapping[str, JsonScalar], now: datetime | None = None
) -> Payload:
    """The payload with values in canonical form (ISO dates, numbers), or ``PayloadError``.

    With ``now``, fields declared ``past`` must not lie in the future. A problem names the
    field and what is wrong, never the value: it may be anything a person typed.
    """
    problems: dict[str, str] = {}
    clean: Payload = {}
    for field in payload:
        if field not in event.payload:
            allowed = ", ".join(event.payload) or "none"
            # A key that is not a name is not repeated either: it could be anything.
            named = field if len(field) <= 64 and field.replace("-", "_").isidentifier() else "?"
            problems[named] = f"unknown field (fields: {allowed})"
    for field, spec in event.payload.items():
        value = payload.get(field)
        if value is None or value == "":
            if spec.required:
                problems[field] = "required"
            continue
        try:
            coerced = _coerce(spec, value)
        except ValueError as exc:
            problems[field] = str(exc)
            continue
        if coerced == "":
            # Only spaces: as good as absent.
            if spec.required:
                problems[field] = "required"
            continue
        if spec.past and now is not None and isinstance(coerced, str) and _in_future(coerced, now):
            problems[field] = "lies in the future; it reports something that has happened"
            continue
        clean[field] = coerced
    if problems:
        raise PayloadError(name, problems)
    return clean


def _coerce(spec: PayloadField, value: JsonScalar) -> JsonScalar:
    if spec.type == "boolean":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if spec.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an integer beyond a float's range
            finite = False
        if not finite:
            raise ValueError("must be a number")
        return value
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if spec.type == "date":
        try:
            day = date.fromisoformat(value) if len(value) == 10 else _bad_date(value)
        except ValueError:
            raise ValueError(f"must be a date like {DATE_EXAMPLE}") from None
        return plausible_date(day).isoformat()
    if spec.type == "datetime":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"must be a date and time like {DATE_EXAMPLE}T10:00:00+02:00") from None
        if moment.tzinfo is None:
            raise ValueError(f"must carry a UTC offset, e.g. {DATE_EXAMPLE}T10:00:00+02:00")
        plausible_date(moment.date())
        return moment.isoformat()
    if spec.type == "choice":
        choices = spec.choices or ()
        if value not in choices:
            raise ValueError(f"must be one of {list(choices)}")
        return value
    text = value.strip()
    if len(text) > spec.max_length:
        raise ValueError(f"at most {spec.max_length} characters")
    return text


def _in_future(value: str, now: datetime) -> bool:
    if len(value) == 10:
        # A bare date has no zone: it is in the future only once it is a later day
        # everywhere on earth (UTC+14), so "today" is never refused anywhere.
        return date.fromisoformat(value) > (now.astimezone(UTC) + EARLIEST_ZONE).date()
    return datetime.fromisoformat(value) > now + CLOCK_SLACK


EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


def plausible_date(day: date) -> date:
    """Dates far from today are typos, and would fall outside a pipeline's calendar snapshot."""
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"the date is outside {EARLIEST.year}–{LATEST.year}")
    return day


def _bad_date(value: str) -> date:
    raise ValueError(value)
