"""The reports a pipeline declares (``reports:``): sums and counts over its records, and
compliance shares.

``records`` measures add up (or count) the payloads that events keep under ``record:``
(kundprocess-se's opportunities: invoiced, recurring and pipeline value), optionally per
value of a choice or boolean field or per current stage. ``compliance`` measures are shares
of onboardings: those in some stages whose anchor (a logged contact) is recent, or those that
reached a goal within a target time from an anchor (live within 20 business days of the
kick-off). The read model holds what they count (``kickoff.readmodel.snapshot``); the
loader checks every name against the pipeline (``kickoff.pipelines.checks.reports``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import Field, FieldSerializationInfo, field_serializer, model_validator

from kickoff.pipelines.actions import MAX_DAYS, Slug, StrictModel, _short_time
from kickoff.schedule import DayUnit

if TYPE_CHECKING:  # the pipeline model imports this module
    from kickoff.pipelines.model import Event, PayloadField

BY_STAGE = "stage"
"""``by: stage`` groups records by the onboarding's current stage, not by a record field."""


class RecordMeasure(StrictModel):
    """The records of one kind (``record``), summed over a number field or counted, per group."""

    label: str = Field(min_length=1)
    record: Slug
    """The name events keep the payloads under (``record: opportunities``)."""
    sum: Slug | None = None
    """A number field of the record to add up; without it the measure counts records."""
    by: Slug | None = None
    """Group by a choice or boolean field of the record, or by ``stage`` (the onboarding's)."""
    in_stages: tuple[Slug, ...] | None = None
    """Only onboardings now in these stages (default: every running or completed one)."""


class RecentAnchor(StrictModel):
    """Onboardings now in ``in_stages`` whose anchor was set within the last ``days`` days
    (``days`` × 24 hours before the report's moment). A list of anchors means the latest one
    set: ``[last_contact, entered:partnership]`` is the 90-day contact clock, so a partnership
    younger than 90 days without a contact yet is not behind."""

    anchor: str | tuple[str, ...]
    days: int = Field(ge=1, le=MAX_DAYS)
    in_stages: tuple[Slug, ...] | None = None
    """Default: every stage that is not a goal."""

    def anchor_names(self) -> tuple[str, ...]:
        return (self.anchor,) if isinstance(self.anchor, str) else self.anchor


class ReachedWithin(StrictModel):
    """Onboardings that reached one of ``stages`` by the target: ``days`` ``unit`` after the
    anchor's local day (business days as the engine counts them: day 0 is the anchor's day if
    it is a business day, else the next one), at local ``time`` on that day, or by its end
    without one. Only onboardings whose anchor is set count; those neither reached in time nor
    past their target yet are undecided and left out of the share."""

    anchor: str
    days: int = Field(ge=0, le=MAX_DAYS)
    unit: DayUnit = "days"
    time: dt.time | None = None
    stages: tuple[Slug, ...] | None = None
    """Default: the pipeline's goal stages."""

    @field_serializer("time")
    def _time(self, value: dt.time | None, info: FieldSerializationInfo) -> dt.time | str | None:
        return _short_time(value, info)


class ComplianceMeasure(StrictModel):
    """A share of onboardings: exactly one of ``recent`` or ``reached_within``."""

    label: str = Field(min_length=1)
    recent: RecentAnchor | None = None
    reached_within: ReachedWithin | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ComplianceMeasure:
        if (self.recent is None) == (self.reached_within is None):
            raise ValueError("a compliance measure has exactly one of recent or reached_within")
        return self


class PipelineReports(StrictModel):
    """What a pipeline reports beyond the funnel and time in stage, by measure id."""

    records: dict[Slug, RecordMeasure] = Field(default_factory=dict)
    compliance: dict[Slug, ComplianceMeasure] = Field(default_factory=dict)


RECORD_FIELD_TYPES = ("number", "choice", "boolean")
"""The record fields the read model keeps, and so the only ones a measure may name: numbers to
add up, choices and booleans to group by. Free text and dates stay in the run's state (a
title may name a person; nothing here needs them)."""


def record_fields(events: Mapping[str, Event]) -> dict[str, dict[str, PayloadField]]:
    """Each record's payload fields, as the events that keep it (``record:``) declare them; when
    two events declare a field, the first one's declaration holds."""
    found: dict[str, dict[str, PayloadField]] = {}
    for event in events.values():
        if event.record is not None:
            fields = found.setdefault(event.record, {})
            for name, spec in event.payload.items():
                fields.setdefault(name, spec)
    return found
