"""Absolute schedule arithmetic: "day N after an anchor, at HH:MM local time".

Pure functions, safe to call inside workflows (no clock, no I/O beyond the
static tz database). Every deadline is computed from its anchor, never by
chaining relative sleeps, so a late worker or a restart cannot shift the plan.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo


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


def offset_moment(anchor: datetime, days: int, at: time | None, tz_name: str) -> datetime:
    """``days`` calendar days after ``anchor``'s local date, at ``at`` (default: anchor's time)."""
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware")
    local = anchor.astimezone(zone(tz_name))
    wall = at if at is not None else local.time().replace(tzinfo=None)
    target = local.date() + timedelta(days=days)
    return local_moment(target, wall, tz_name)


def format_local(moment: datetime, tz_name: str) -> str:
    """A short human rendering for UI text, e.g. ``2026-03-30 08:00 CEST``."""
    return moment.astimezone(zone(tz_name)).strftime("%Y-%m-%d %H:%M %Z")
