"""Absolute schedule arithmetic: "day N after an anchor, at HH:MM local time".

Pure functions, safe to call inside workflows (no clock, no I/O beyond the
static tz database). Every deadline is computed from its anchor, never by
chaining relative sleeps, so a late worker or a restart cannot shift the plan.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

DayUnit = Literal["days", "business_days", "weeks"]
"""How an offset counts: calendar days, business days of the pipeline's
calendar (no weekends, no closed days), or weeks of seven calendar days."""


@cache
def zone(name: str) -> ZoneInfo:
    """The tz database zone ``name`` (cached: zoneinfo reads its file once)."""
    return ZoneInfo(name)


def local_moment(day: date, at: time, tz_name: str) -> datetime:
    """``day`` at wall-clock ``at`` in ``tz_name``, as an aware UTC datetime.

    Wall-clock arithmetic, so 08:00 stays 08:00 across daylight-saving
    switches. A time that does not exist locally (skipped by a spring-forward)
    is resolved forwards by the UTC round trip, e.g. 02:30 becomes 03:30.
    """
    return datetime.combine(day, at, tzinfo=zone(tz_name)).astimezone(UTC)


def start_of_day(day: date, tz_name: str) -> datetime:
    """Local midnight of ``day``: how a date-only anchor (a delivery start) becomes a moment."""
    return local_moment(day, time(0, 0), tz_name)


def is_business_day(day: date, closed: Set[date]) -> bool:
    return day.weekday() < 5 and day not in closed


def shift_date(day: date, count: int, unit: DayUnit = "days", closed: Set[date] = frozenset()) -> date:
    """``count`` units after ``day``.

    Business days: day 0 is ``day`` itself if it is a business day, else the
    next one; day N is the Nth business day after that. Counts are >= 0 for
    business days (a plan never counts business days backwards).
    """
    if unit == "days":
        return day + timedelta(days=count)
    if unit == "weeks":
        return day + timedelta(weeks=count)
    if count < 0:
        raise ValueError("business days count forwards only")
    current = day
    while not is_business_day(current, closed):
        current += timedelta(days=1)
    for _ in range(count):
        current += timedelta(days=1)
        while not is_business_day(current, closed):
            current += timedelta(days=1)
    return current


def offset_moment(
    anchor: datetime,
    days: int,
    at: time | None,
    tz_name: str,
    unit: DayUnit = "days",
    closed: Set[date] = frozenset(),
) -> datetime:
    """``days`` ``unit`` after ``anchor``'s local date, at ``at`` (default: anchor's time)."""
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware")
    local = anchor.astimezone(zone(tz_name))
    wall = at if at is not None else local.time().replace(tzinfo=None)
    target = shift_date(local.date(), days, unit, closed)
    return local_moment(target, wall, tz_name)


def format_local(moment: datetime, tz_name: str) -> str:
    """A short human rendering for UI text, e.g. ``2026-03-30 08:00 CEST``."""
    return moment.astimezone(zone(tz_name)).strftime("%Y-%m-%d %H:%M %Z")
