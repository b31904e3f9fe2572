"""Public holidays, and the closed days a pipeline's calendar snapshot carries."""

from __future__ import annotations

from datetime import date
from functools import cache

import holidays

from kickoff.pipelines.model import Pipeline

CALENDAR_YEARS = range(2020, 2041)
"""Years whose public holidays go into a pipeline's snapshot: a fixed range, so
the version hash does not change with the date it is computed on."""


@cache
def public_holidays(country: str, subdivision: str | None, categories: tuple[str, ...]) -> frozenset[date]:
    """The holidays of ``country`` in ``CALENDAR_YEARS``; raises ``holidays``' errors for unknown ones."""
    return frozenset(
        holidays.country_holidays(country, subdiv=subdivision, years=CALENDAR_YEARS, categories=categories)
    )


def with_closed_days(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` with its calendar's public holidays and extra closed days filled in."""
    calendar = pipeline.calendar
    if calendar is None:
        return pipeline
    public = public_holidays(calendar.country, calendar.subdivision, calendar.categories)
    closed = public | set(calendar.extra_closed_days)
    return pipeline.model_copy(
        update={"calendar": calendar.model_copy(update={"closed_days": tuple(sorted(closed))})}
    )
