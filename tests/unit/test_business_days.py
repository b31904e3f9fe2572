"""Business-day arithmetic against a straightforward reference, and calendars in pipelines.yaml."""

from __future__ import annotations

from datetime import date, time, timedelta

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kickoff.pipelines import PipelineError, parse_pipelines
from kickoff.schedule import offset_moment, shift_date
from tests.support import PIPELINES_FILE, sthlm

NORWAY = frozenset(holidays.country_holidays("NO", years=range(2020, 2041)))
FINLAND = frozenset(holidays.country_holidays("FI", years=range(2020, 2041)))


def reference(day: date, count: int, closed: frozenset[date]) -> date:
    """Walk the calendar one day at a time, counting open weekdays (day 0 = first open day)."""
    open_days_seen = -1
    current = day
    while True:
        if current.weekday() < 5 and current not in closed:
            open_days_seen += 1
            if open_days_seen == count:
                return current
        current += timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(min_value=date(2020, 1, 1), max_value=date(2039, 12, 31)),
    count=st.integers(min_value=0, max_value=60),
    closed=st.sampled_from([frozenset(), NORWAY, FINLAND]),
)
def test_business_days_match_a_day_by_day_walk(day: date, count: int, closed: frozenset[date]) -> None:
    """shift_date over business days equals counting open weekdays one by one."""
    assert shift_date(day, count, "business_days", closed) == reference(day, count, closed)


@pytest.mark.parametrize(
    ("start", "count", "closed", "expected", "why"),
    [
        (
            date(2026, 5, 15),
            1,
            NORWAY,
            date(2026, 5, 18),
            "Friday + 1 skips the weekend (17 May is a Sunday)",
        ),
        (date(2032, 5, 14), 1, NORWAY, date(2032, 5, 18), "17 May 2032 (Monday) is Constitution Day"),
        (date(2026, 12, 4), 1, FINLAND, date(2026, 12, 7), "6 Dec 2026 is a Sunday: no extra skip"),
        (date(2027, 12, 3), 1, FINLAND, date(2027, 12, 7), "Independence Day 2027 is a Monday"),
        (date(2026, 5, 16), 0, NORWAY, date(2026, 5, 18), "day 0 on a weekend is the next business day"),
        (date(2026, 11, 23), 10, frozenset(), date(2026, 12, 7), "ten business days are two weeks"),
    ],
)
def test_business_days_skip_weekends_and_national_holidays(start, count, closed, expected, why) -> None:
    """Known dates: weekends and public holidays are not counted."""
    assert shift_date(start, count, "business_days", closed) == expected, why


def test_weeks_and_days_are_calendar_arithmetic() -> None:
    """weeks count 7 calendar days, days count calendar days, whatever the calendar."""
    assert shift_date(date(2026, 12, 21), 2, "weeks", NORWAY) == date(2027, 1, 4)
    assert shift_date(date(2026, 12, 24), 1, "days", NORWAY) == date(2026, 12, 25)


def test_a_business_day_moment_keeps_its_local_time_across_dst() -> None:
    """Business day 1 after Friday 27 March 2026 is Monday 30 March, 08:00 local (now summer time)."""
    anchor = sthlm(2026, 3, 27, 8)
    moment = offset_moment(anchor, 1, time(8, 0), "Europe/Stockholm", "business_days", frozenset())
    assert moment == sthlm(2026, 3, 30, 8)
    assert moment.hour == 6  # 08:00 CEST is 06:00 UTC


def _with_calendar(calendar: str, unit: str = "business_days") -> str:
    text = PIPELINES_FILE.read_text(encoding="utf-8")
    # assist-se's own calendar (its kick-off bookings skip Swedish holidays) makes way for the case's.
    text = text.replace("    calendar: {country: SE, categories: [public, de_facto]}\n", "", 1)
    text = text.replace("    timezone: Europe/Stockholm\n", f"    timezone: Europe/Stockholm\n{calendar}", 1)
    return text.replace("days: 3, time", f"days: 3, unit: {unit}, time")


def test_the_loader_puts_the_country_calendar_into_the_snapshot() -> None:
    """A calendar's public holidays and extra closed days are in the pipeline, so runs keep them."""
    catalog = parse_pipelines(
        _with_calendar("    calendar: {country: 'NO', extra_closed_days: [2026-12-24]}\n")
    )
    calendar = catalog.pipelines["assist-se"].calendar
    assert calendar is not None
    assert {date(2026, 5, 17), date(2032, 5, 17), date(2026, 12, 24)} <= set(calendar.closed_days)
    again = parse_pipelines(
        _with_calendar("    calendar: {country: 'NO', extra_closed_days: [2026-12-24]}\n")
    )
    assert again.version("assist-se") == catalog.version("assist-se")


@pytest.mark.parametrize(
    ("text", "message", "path"),
    [
        (
            _with_calendar("    calendar: {country: XX}\n"),
            "no public-holiday calendar for country 'XX'",
            "calendar.country",
        ),
        (_with_calendar(""), "business_days offsets need a calendar", "calendar"),
        (
            _with_calendar("    calendar: {country: NO}\n"),
            "write country: 'NO' in quotes",
            "calendar.country",
        ),
    ],
    ids=["unknown-country", "business-days-without-calendar", "bare-NO-is-false-in-yaml"],
)
def test_calendar_mistakes_are_refused_with_their_place(text: str, message: str, path: str) -> None:
    """An unknown country, or business days with no calendar, name the pipeline and the setting."""
    with pytest.raises(PipelineError) as refused:
        parse_pipelines(text)
    [problem] = refused.value.problems
    assert (problem.pipeline, problem.path) == ("assist-se", path)
    assert message in problem.message
