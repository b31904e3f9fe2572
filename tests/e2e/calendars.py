"""Calendar facts for the end-to-end tests, chosen from the test server's clock.

The time-skipping server's clock starts at the real "now" and only moves forward, so
a test cannot jump to a fixed date: one day that date has passed. Each test asks this
module for the next date with the calendar fact it needs (the next 17 May on a
weekday, the next Ascension Day, the next daylight-saving switch, ...) and counts its
expected business days with the small counter here: weekends plus the country's
holidays from the ``holidays`` package. It is written apart from kickoff.schedule on
purpose: an oracle to compare the engine with, not a copy of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import count, islice
from zoneinfo import ZoneInfo

import holidays

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)
LAST_YEAR = 2040
"""Pipeline snapshots carry holidays for 2020-2040 only (a fixed range): a scenario must end by then."""
MARGIN = timedelta(days=7)
"""How far ahead of the server's clock a scenario may start at the earliest."""


@cache
def _holidays(country: str, categories: tuple[str, ...], year: int) -> dict[date, str]:
    return dict(holidays.country_holidays(country, years=year, categories=categories).items())


def days_from(start: date) -> Iterator[date]:
    """``start``, the day after it, and so on."""
    return (start + timedelta(days=n) for n in count())


@dataclass(frozen=True)
class Country:
    """A country's business days (Monday to Friday, less its holidays) in its pipeline's zone."""

    code: str
    zone: ZoneInfo
    categories: tuple[str, ...] = ("public",)

    def holiday(self, day: date) -> str | None:
        """The holiday's name(s) (``"A; B"`` when two fall on one day), or None."""
        return _holidays(self.code, self.categories, day.year).get(day)

    def closed(self, day: date) -> bool:
        return day.weekday() in (SATURDAY, SUNDAY) or self.holiday(day) is not None

    def business_day(self, anchor: date, n: int) -> date:
        """Business day ``n`` of a plan anchored on ``anchor``: day 0 is the first business day
        on or after ``anchor``, day ``n`` the ``n``-th business day after day 0."""
        open_days = (day for day in days_from(anchor) if not self.closed(day))
        return next(islice(open_days, n, None))

    def named(self, name: str, year: int) -> date:
        """The day in ``year`` of the holiday called ``name`` (in the package's English names)."""
        found = [
            day
            for day, names in _holidays(self.code, self.categories, year).items()
            if name in names.split("; ")
        ]
        assert len(found) == 1, f"{self.code} {year}: {name!r} on {found}"
        return found[0]

    def weekday_holidays(self, first: date, last: date) -> list[date]:
        """The holidays from ``first`` to ``last`` (both included) that fall Monday to Friday."""
        span = (last - first).days + 1
        return [
            day
            for day in islice(days_from(first), span)
            if day.weekday() < SATURDAY and self.holiday(day) is not None
        ]

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """``day`` at ``hour``:``minute`` on the wall clock of this country's zone (aware)."""
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)

    def offset(self, day: date, hour: int = 12) -> timedelta:
        """The zone's UTC offset on ``day`` at ``hour``."""
        offset = self.at(day, hour).utcoffset()
        assert offset is not None
        return offset


NORWAY = Country("NO", ZoneInfo("Europe/Oslo"))
SWEDEN = Country("SE", ZoneInfo("Europe/Stockholm"), ("public", "de_facto"))  # as kundprocess-se
SWEDEN_PUBLIC_ONLY = Country("SE", ZoneInfo("Europe/Stockholm"))
"""Sweden without the de_facto days (Midsummer Eve, Christmas Eve, New Year's Eve): for contrast."""
FINLAND = Country("FI", ZoneInfo("Europe/Helsinki"))


def in_utc(day: date, hour: int, offset: timedelta) -> datetime:
    """Wall-clock ``hour`` on ``day`` in a zone ``offset`` ahead of UTC, as an aware UTC moment:
    the instant worked out from the offset alone, without the tz database."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - offset


def soonest(now: datetime, zone: ZoneInfo) -> date:
    """The first day a scenario may start on: a week after ``now``'s date in ``zone``."""
    return now.astimezone(zone).date() + MARGIN


def first_from(start: date, candidate: Callable[[int], date | None]) -> date:
    """The earliest ``candidate(year)`` on or after ``start``, trying ``start``'s year and the
    following ones up to LAST_YEAR (a year whose calendar lacks the fact gives None)."""
    for year in range(start.year, LAST_YEAR + 1):
        day = candidate(year)
        if day is not None and day >= start:
            return day
    raise AssertionError(f"no year from {start} to {LAST_YEAR} (the snapshots' last) has the scenario")


def next_weekday(start: date, weekday: int) -> date:
    """The first ``weekday`` (MONDAY ... SUNDAY) on or after ``start``."""
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def plain_monday(country: Country, start: date, weeks: int = 3) -> date:
    """The first Monday on or after ``start`` that begins ``weeks`` weeks without a weekday
    holiday: for scenarios about something else, so that every plan day is a plain weekday."""
    monday = next_weekday(start, MONDAY)
    while country.weekday_holidays(monday, monday + timedelta(weeks=weeks, days=-1)):
        monday += timedelta(weeks=1)
    assert monday.year <= LAST_YEAR, monday
    return monday


def last_sunday(year: int, month: int) -> date:
    """The last Sunday of ``month``: when EU clocks change (March forward, October back)."""
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - timedelta(days=(first_of_next.weekday() - SUNDAY) % 7 or 7)


def dst_switch(country: Country, year: int, month: int) -> date:
    """The Sunday in ``month`` (3 or 10) on which the country's clocks change, checked
    against the tz database: the offset at noon differs from the day before's."""
    day = last_sunday(year, month)
    before, after = country.offset(day - timedelta(days=1)), country.offset(day)
    assert before != after, f"{country.zone} does not switch on {day}"
    assert (after > before) == (month == 3), (day, before, after)
    return day
