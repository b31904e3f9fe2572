"""Schedule arithmetic: "day N after an anchor, at HH:MM local time" across time zones and DST switches."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from kickoff.schedule import format_local, local_moment, offset_moment, start_of_day

TZ = "Europe/Stockholm"
STOCKHOLM = ZoneInfo(TZ)
EIGHT = time(8, 0)
ZONES = ["Europe/Stockholm", "Europe/Oslo", "Europe/Helsinki", "America/New_York"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


@pytest.mark.parametrize(
    ("anchor", "days", "expected"),
    [
        (local(2026, 1, 10, 14, 30), 3, utc(2026, 1, 13, 7)),
        (local(2026, 11, 20, 10), 30, utc(2026, 12, 20, 7)),
        (local(2026, 6, 1, 23, 59), 7, utc(2026, 6, 8, 6)),
        (local(2026, 8, 15, 0, 5), 0, utc(2026, 8, 15, 6)),
    ],
    ids=["winter", "winter-30-days", "summer-late-anchor", "summer-same-day"],
)
def test_day_n_at_eight_is_07z_in_winter_and_06z_in_summer(
    anchor: datetime, days: int, expected: datetime
) -> None:
    """Day N at 08:00 Stockholm is 07:00 UTC under CET and 06:00 UTC under CEST."""
    moment = offset_moment(anchor, days, EIGHT, TZ)
    assert moment == expected
    assert moment.tzinfo is UTC


def test_anchor_in_another_zone_counts_days_from_the_local_date() -> None:
    """The anchor's date is taken in the pipeline's zone: 23:30Z on 9 Jan is already 10 Jan in Stockholm."""
    anchor = utc(2026, 1, 9, 23, 30)
    assert offset_moment(anchor, 1, EIGHT, TZ) == utc(2026, 1, 11, 7)


def test_missing_time_keeps_the_anchors_local_wall_time() -> None:
    """Without a time, the step happens at the anchor's local wall-clock time, even across a DST switch."""
    anchor = local(2026, 3, 27, 10, 15)
    moment = offset_moment(anchor, 5, None, TZ)
    assert moment.astimezone(STOCKHOLM).replace(tzinfo=None) == datetime(2026, 4, 1, 10, 15)
    assert moment == utc(2026, 4, 1, 8, 15)


@pytest.mark.parametrize(
    ("day_before", "switch_day", "gap_hours"),
    [(date(2026, 3, 28), date(2026, 3, 29), 23), (date(2026, 10, 24), date(2026, 10, 25), 25)],
    ids=["spring-forward", "fall-back"],
)
def test_wall_time_stays_eight_across_dst_switches(
    day_before: date, switch_day: date, gap_hours: int
) -> None:
    """Across the 2026 switches 08:00 stays 08:00 locally while the UTC gap between days is 23 h / 25 h."""
    anchor = local(day_before.year, day_before.month, day_before.day, 12)
    first = offset_moment(anchor, 0, EIGHT, TZ)
    second = offset_moment(anchor, 1, EIGHT, TZ)
    assert first.astimezone(STOCKHOLM).replace(tzinfo=None) == datetime.combine(day_before, EIGHT)
    assert second.astimezone(STOCKHOLM).replace(tzinfo=None) == datetime.combine(switch_day, EIGHT)
    assert second - first == timedelta(hours=gap_hours)
    assert local_moment(switch_day, EIGHT, TZ) == second


def test_dst_utc_offsets_of_eight_oclock_in_2026() -> None:
    """08:00 local is 07:00Z the day before spring forward and 06:00Z on it; the reverse at fall back."""
    assert local_moment(date(2026, 3, 28), EIGHT, TZ) == utc(2026, 3, 28, 7)
    assert local_moment(date(2026, 3, 29), EIGHT, TZ) == utc(2026, 3, 29, 6)
    assert local_moment(date(2026, 10, 24), EIGHT, TZ) == utc(2026, 10, 24, 6)
    assert local_moment(date(2026, 10, 25), EIGHT, TZ) == utc(2026, 10, 25, 7)


def test_nonexistent_local_time_resolves_forward() -> None:
    """02:30 on 2026-03-29 does not exist in Stockholm and becomes 03:30 CEST (01:30Z)."""
    moment = local_moment(date(2026, 3, 29), time(2, 30), TZ)
    assert moment == utc(2026, 3, 29, 1, 30)
    assert moment.astimezone(STOCKHOLM).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)
    assert offset_moment(local(2026, 3, 28, 9), 1, time(2, 30), TZ) == moment


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 15), utc(2026, 1, 14, 23)),
        (date(2026, 7, 15), utc(2026, 7, 14, 22)),
        (date(2026, 3, 29), utc(2026, 3, 28, 23)),
        (date(2026, 10, 25), utc(2026, 10, 24, 22)),
    ],
    ids=["winter", "summer", "spring-forward-day", "fall-back-day"],
)
def test_start_of_day_is_local_midnight(day: date, expected: datetime) -> None:
    """A date-only anchor becomes local midnight of that date, expressed in UTC."""
    assert start_of_day(day, TZ) == expected


def test_format_local_renders_the_zone_abbreviation() -> None:
    """UI text shows the local wall time with the zone abbreviation in force."""
    assert format_local(utc(2026, 3, 30, 6), TZ) == "2026-03-30 08:00 CEST"
    assert format_local(utc(2026, 1, 5, 7), TZ) == "2026-01-05 08:00 CET"


@pytest.mark.parametrize("at", [EIGHT, None], ids=["with-time", "anchor-time"])
def test_naive_anchor_is_refused(at: time | None) -> None:
    """An anchor without a time zone raises ValueError instead of guessing one."""
    with pytest.raises(ValueError, match="timezone-aware"):
        offset_moment(datetime(2026, 1, 10, 8, 0), 1, at, TZ)


def reference_offset_moment(anchor: datetime, days: int, at: time | None, tz_name: str) -> datetime:
    """Step the local date one day at a time, then build the local wall time with zoneinfo."""
    tz = ZoneInfo(tz_name)
    here = anchor.astimezone(tz)
    target = here.date()
    for _ in range(days):
        target = target + timedelta(days=1)
    wall = at if at is not None else here.time()
    moment = datetime(
        target.year,
        target.month,
        target.day,
        wall.hour,
        wall.minute,
        wall.second,
        wall.microsecond,
        tzinfo=tz,
        fold=wall.fold,
    )
    return moment.astimezone(UTC)


ANCHOR_ZONES = st.sampled_from([UTC, *(ZoneInfo(name) for name in ZONES)])


@hypothesis_settings(max_examples=200, deadline=None, database=None)
@given(
    anchor=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=ANCHOR_ZONES
    ),
    days=st.integers(min_value=0, max_value=400),
    at=st.none() | st.times(),
    tz_name=st.sampled_from(ZONES),
)
def test_offset_moment_matches_a_day_by_day_reference(
    anchor: datetime, days: int, at: time | None, tz_name: str
) -> None:
    """For random aware anchors, offsets, times and zones the result equals a day-by-day reference."""
    moment = offset_moment(anchor, days, at, tz_name)
    assert moment == reference_offset_moment(anchor, days, at, tz_name)
    assert moment.utcoffset() == timedelta(0)
    expected_date = anchor.astimezone(ZoneInfo(tz_name)).date() + timedelta(days=days)
    assert moment.astimezone(ZoneInfo(tz_name)).date() == expected_date
