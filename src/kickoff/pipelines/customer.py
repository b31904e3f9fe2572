"""What a pipeline shows and offers its customers: their page, self-service booking, and the
look of its mail.

All of it is data a process owner edits in ``pipelines.yaml``: the stages the customer's plan
shows, who to contact for what (seed 000's table), when kick-off meetings can be booked, and
the logo, colours and footer of every mail.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kickoff.pipelines.actions import MAX_DAYS, Slug, StrictModel
from kickoff.schedule import DayUnit

Localized = str | dict[str, str]
"""A text in the pipeline's default language, or one per language (``{nb: …, en: …}``)."""

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""In ``date.weekday()`` order."""

_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_COLOUR = r"^#[0-9a-fA-F]{6}$"


def localized(text: Localized | None, language: str, default_language: str) -> str | None:
    """``text`` in ``language``, else in the default language, else any version it has."""
    if text is None or isinstance(text, str):
        return text
    return text.get(language) or text.get(default_language) or next(iter(text.values()), None)


class Hours(StrictModel):
    """One stretch of a day in which meetings may start and end, e.g. ``09:00-12:00``."""

    start: dt.time
    end: dt.time

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if isinstance(value, str):
            match = _RANGE.match(value.strip())
            if match is None:
                raise ValueError(f"hours {value!r} are not a range like '09:00-12:00'")
            h1, m1, h2, m2 = (int(part) for part in match.groups())
            if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
                raise ValueError(f"hours {value!r} are not times of day")
            return {"start": dt.time(h1, m1), "end": dt.time(h2, m2)}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if self.end <= self.start:
            raise ValueError(f"hours end ({self.end:%H:%M}) before they start ({self.start:%H:%M})")
        return self


class Span(StrictModel):
    """A length of time counted from now: ``days`` in ``unit`` plus ``hours``."""

    days: int = Field(default=0, ge=0, le=MAX_DAYS)
    unit: DayUnit = "days"
    hours: int = Field(default=0, ge=0, le=24 * 31)


class BookingTemplates(StrictModel):
    """The mails a booking sends the customer and the team, with its calendar invitation."""

    confirmed: Slug = "booking_confirmed"
    updated: Slug = "booking_updated"
    cancelled: Slug = "booking_cancelled"


class Booking(StrictModel):
    """Self-service booking of the kick-off meeting on the customer's page.

    A booking sends ``event`` with the meeting's start in ``field`` (and ``booked_by``:
    ``customer``), exactly as staff would. Slots start every ``every`` minutes (default:
    the meeting's ``duration``) inside the day's ``hours``, on days the pipeline's calendar
    is open, at least ``minimum_notice`` and at most ``horizon`` from now; ``slots_per_time``
    customers may book the same time (the team's size), less the times staff block.
    """

    event: Slug
    field: Slug = "meeting_at"
    by_field: Slug | None = "booked_by"
    """The event's payload field that says who booked (``customer``), if it has one."""
    duration: int = Field(ge=5, le=8 * 60)
    """The meeting's length in minutes."""
    every: int | None = Field(default=None, ge=5, le=8 * 60)
    hours: dict[Weekday, tuple[Hours, ...]] = Field(min_length=1)
    minimum_notice: Span = Span(hours=24)
    horizon: Span = Span(days=30)
    slots_per_time: int = Field(default=1, ge=1, le=100)
    location: Localized | None = None
    """Where the meeting is held (a video link, an address), in the invitation and on the page."""
    title: Localized
    """The meeting's name in the invitation and on the page."""
    cancel_outcome: Literal["rescheduled", "no_show"] | None = None
    """What a customer's cancellation records as the kick-off's outcome (a restart of
    onboarding, as seed 003's "Uppstartsmöte av/ombokas" says); None: the booking is only
    withdrawn and the team told."""
    templates: BookingTemplates = BookingTemplates()

    @model_validator(mode="after")
    def _no_overlapping_starts(self) -> Booking:
        # A place is held per start time (kickoff.db.bookings): slots that overlap one another
        # could let two customers booking at once share a place.
        if self.every is not None and self.every < self.duration:
            raise ValueError(
                f"every ({self.every} min) is shorter than a meeting ({self.duration} min): "
                "slots would overlap"
            )
        return self

    @property
    def step_minutes(self) -> int:
        return self.every or self.duration


class Contact(StrictModel):
    """One row of "who to reach for what": need, contact, when and how (seed 000, section 5)."""

    need: Localized
    who: Localized
    when: Localized | None = None
    how: str = Field(min_length=1)
    """An e-mail address, a phone number or both, as the customer should use them."""


class CustomerPage(StrictModel):
    """What the customer's own page (``/c/{token}``) shows."""

    plan: tuple[Slug, ...] = Field(min_length=1)
    """The stages the customer's plan shows, in order (internal stages such as a parking
    stage are left out)."""
    stage_labels: dict[Slug, Localized] = Field(default_factory=dict)
    """How the plan names a stage for the customer (default: the stage's label)."""
    intro: Localized | None = None
    contacts: tuple[Contact, ...] = ()


class Branding(StrictModel):
    """The look of a pipeline's mail and customer page."""

    logo: str | None = Field(default=None, pattern=r"^https://\S+$")
    """An https URL of the logo (mail clients load it; nothing is attached)."""
    logo_alt: str | None = None
    colour: str = Field(default="#1f4e79", pattern=_COLOUR)
    """The main colour: headings, buttons and the top bar."""
    accent: str = Field(default="#f2f5f9", pattern=_COLOUR)
    """The background of boxes and the footer."""
    footer: Localized | None = None

    @field_validator("colour", "accent")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()
