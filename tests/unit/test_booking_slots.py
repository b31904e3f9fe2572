"""The kick-off slots a customer is offered: local wall-clock times across DST switches, open
days only, minimum notice and horizon, places per time, staff blocks, and why a start is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from kickoff.booking import Slot, booking_window, find_slot, offered_slots, refusal, slot_offered
from kickoff.pipelines.customer import WEEKDAYS, Booking, Span

TZ = "Europe/Stockholm"
STOCKHOLM = ZoneInfo(TZ)
WEEKDAYS_ONLY = ("mon", "tue", "wed", "thu", "fri")
GOOD_FRIDAY, EASTER_MONDAY = date(2026, 4, 3), date(2026, 4, 6)
SWEDISH_EASTER = frozenset({GOOD_FRIDAY, EASTER_MONDAY})


def booking(hours: str | dict[Any, list[str]] = "09:00-10:00", **fields: Any) -> Booking:
    """A booking section; ``hours`` as text applies to Monday to Friday."""
    per_day = {day: [hours] for day in WEEKDAYS_ONLY} if isinstance(hours, str) else hours
    values: dict[str, Any] = {
        "event": "kickoff_booked",
        "duration": 60,
        "hours": per_day,
        "title": "Uppstartsmöte",
        "minimum_notice": {},
        "horizon": {"days": 14},
    }
    return Booking.model_validate(values | fields)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


def at(moment: datetime) -> datetime:
    """``moment`` as the aware UTC datetime slots carry."""
    return moment.astimezone(UTC)


def slots(
    section: Booking,
    now: datetime,
    closed: frozenset[date] = frozenset(),
    taken: list[tuple[datetime, datetime]] | None = None,
    blocked: list[tuple[datetime, datetime]] | None = None,
) -> list[Slot]:
    return offered_slots(section, TZ, closed, now, taken or [], blocked or [])


def wall(slot: Slot) -> datetime:
    return slot.start.astimezone(STOCKHOLM).replace(tzinfo=None)


def test_nine_oclock_stays_nine_local_across_the_march_switch() -> None:
    """09:00 Stockholm is 08:00 UTC the Friday before the last Sunday of March, 07:00 UTC the Monday after."""
    found = slots(booking(horizon={"days": 5}), local(2026, 3, 26, 12))
    assert [wall(s) for s in found] == [
        datetime(2026, 3, 27, 9),
        datetime(2026, 3, 30, 9),
        datetime(2026, 3, 31, 9),
    ]
    assert [s.start.hour for s in found] == [8, 7, 7]
    assert all(s.start.tzinfo is UTC and s.end - s.start == timedelta(hours=1) for s in found)


def test_nine_oclock_stays_nine_local_across_the_october_switch() -> None:
    """09:00 Stockholm is 07:00 UTC before the last Sunday of October and 08:00 UTC after it."""
    found = slots(booking(horizon={"days": 4}), local(2026, 10, 22, 12))
    assert [wall(s) for s in found] == [datetime(2026, 10, 23, 9), datetime(2026, 10, 26, 9)]
    assert [s.start.hour for s in found] == [7, 8]


def test_a_start_the_spring_forward_skips_is_left_out() -> None:
    """When clocks jump from 02:00 to 03:00, the 02:00 and 02:30 starts do not exist and are not offered."""
    section = booking({"sun": ["01:00-04:00"]}, duration=30, horizon={"days": 3})
    found = slots(section, local(2026, 3, 28, 12))
    assert [wall(s).time() for s in found] == [time(1), time(1, 30), time(3), time(3, 30)]
    assert [s.start for s in found] == [
        at(local(2026, 3, 29, h, m)) for h, m in ((1, 0), (1, 30), (3, 0), (3, 30))
    ]


def test_a_start_the_fall_back_repeats_is_offered_once() -> None:
    """When 02:00-03:00 happens twice, each wall-clock start is offered once, at its first occurrence."""
    section = booking({"sun": ["01:00-04:00"]}, duration=30, horizon={"days": 3})
    found = slots(section, local(2026, 10, 24, 12))
    assert [wall(s).time() for s in found] == [time(h, m) for h in (1, 2, 3) for m in (0, 30)]
    two = find_slot(found, datetime(2026, 10, 25, 0, 0, tzinfo=UTC))
    assert two is not None
    assert wall(two).time() == time(2)  # 02:00 CEST, the first one
    assert len({s.start for s in found}) == len(found)


def test_closed_days_offer_no_slots() -> None:
    """Good Friday and Easter Monday, closed in the calendar, have no slots; the days around them do."""
    found = slots(booking(), local(2026, 4, 1, 6), closed=SWEDISH_EASTER, taken=[])
    days = [wall(s).date() for s in found][:4]
    assert days == [date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 7), date(2026, 4, 8)]


def test_weekdays_without_hours_offer_no_slots() -> None:
    """With hours for Monday to Friday only, weekends offer nothing; a day with two stretches offers both."""
    found = slots(booking(), local(2026, 5, 4, 6), taken=[])
    assert {wall(s).weekday() for s in found} == {0, 1, 2, 3, 4}
    split = booking({"wed": ["09:00-10:00", "13:00-15:00"]}, horizon={"days": 6})
    assert [wall(s).time() for s in slots(split, local(2026, 5, 4, 6))] == [time(9), time(13), time(14)]


def test_every_sets_the_step_and_the_meeting_must_end_within_the_hours() -> None:
    """Starts come every ``every`` minutes from the hours' start, and the last one still ends by their end."""
    section = booking("09:00-11:00", duration=30, every=45, horizon={"days": 1})
    found = slots(section, local(2026, 5, 4, 6))
    assert [wall(s).time() for s in found] == [time(9), time(9, 45), time(10, 30)]
    assert found[-1].end == at(local(2026, 5, 4, 11))


def test_minimum_notice_in_business_days_skips_the_weekend_and_holidays() -> None:
    """Two business days of notice from Thursday 10:00 before Easter end on Wednesday 10:00
    (Good Friday, the weekend and Easter Monday do not count)."""
    section = booking("09:00-12:00", minimum_notice={"days": 2, "unit": "business_days"})
    now = local(2026, 4, 2, 10)
    assert booking_window(section, TZ, SWEDISH_EASTER, now)[0] == at(local(2026, 4, 8, 10))
    assert slots(section, now, SWEDISH_EASTER)[0].start == at(local(2026, 4, 8, 10))
    # A plain weekend: from Friday 10:00, one business day is Monday 10:00.
    one = booking("09:00-12:00", minimum_notice={"days": 1, "unit": "business_days"})
    assert slots(one, local(2026, 5, 8, 10))[0].start == at(local(2026, 5, 11, 10))


def test_minimum_notice_in_hours_and_the_horizon_bound_the_starts() -> None:
    """Starts lie between now plus the notice's hours and now plus the horizon, both ends included."""
    section = booking("09:00-12:00", minimum_notice={"hours": 24}, horizon={"days": 2})
    found = slots(section, local(2026, 5, 4, 10))
    assert found[0].start == at(local(2026, 5, 5, 10))
    assert found[-1].start == at(local(2026, 5, 6, 10))
    assert len(found) == 4  # 10:00 and 11:00 on Tuesday, 09:00 and 10:00 on Wednesday


def test_free_counts_the_places_left_and_a_full_slot_is_gone() -> None:
    """With two places, one booking leaves one free, two take the slot away, an overlapping one counts too."""
    section = booking("09:00-11:00", slots_per_time=2, horizon={"days": 1})
    now = local(2026, 5, 4, 6)
    nine, ten = at(local(2026, 5, 4, 9)), at(local(2026, 5, 4, 10))
    hour = timedelta(hours=1)
    assert [s.free for s in slots(section, now)] == [2, 2]
    assert [s.free for s in slots(section, now, taken=[(nine, nine + hour)])] == [1, 2]
    assert [s.start for s in slots(section, now, taken=[(nine, nine + hour)] * 2)] == [ten]
    # A 30-minute booking at 09:30 overlaps both; one ending at 10:00 sharp only the first.
    half = timedelta(minutes=30)
    assert [s.free for s in slots(section, now, taken=[(nine + half, ten + half)])] == [1, 1]
    assert [s.free for s in slots(section, now, taken=[(nine + half, ten)])] == [1, 2]


def test_blocks_remove_the_slots_they_overlap() -> None:
    """A block from 09:30 to 10:30 removes the 09:00 and 10:00 slots; one ending at 09:00 removes nothing."""
    section = booking("09:00-12:00", horizon={"days": 1})
    now = local(2026, 5, 4, 6)
    block = (at(local(2026, 5, 4, 9, 30)), at(local(2026, 5, 4, 10, 30)))
    assert [wall(s).time() for s in slots(section, now, blocked=[block])] == [time(11)]
    before = (at(local(2026, 5, 4, 8)), at(local(2026, 5, 4, 9)))
    assert len(slots(section, now, blocked=[before])) == 3


NOW = local(2026, 5, 4, 10)  # a Monday
REFUSAL_SECTION = booking("09:00-12:00", minimum_notice={"hours": 24}, horizon={"days": 7})
REFUSAL_BLOCK = (at(local(2026, 5, 6, 9)), at(local(2026, 5, 6, 10)))
REFUSAL_TAKEN = (at(local(2026, 5, 6, 11)), at(local(2026, 5, 6, 12)))


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (local(2026, 5, 4, 9), "past"),
        (local(2026, 5, 5, 9), "too_soon"),
        (local(2026, 5, 12, 9), "too_late"),
        (local(2026, 5, 6, 9, 15), "not_a_slot"),
        (local(2026, 5, 9, 10), "not_a_slot"),  # a Saturday
        (local(2026, 5, 6, 12), "not_a_slot"),  # would end after the hours
        (local(2026, 5, 6, 9), "blocked"),
        (local(2026, 5, 6, 11), "full"),
        (local(2026, 5, 6, 10), None),
    ],
)
def test_a_start_not_offered_says_why(start: datetime, reason: str | None) -> None:
    """Each bad start gets its reason code and a sentence; an offered one gets none and is the slot."""
    args: dict[str, Any] = {
        "booking": REFUSAL_SECTION,
        "tz_name": TZ,
        "closed": frozenset(),
        "now": NOW,
        "taken": [REFUSAL_TAKEN],
        "blocked": [REFUSAL_BLOCK],
    }
    found = refusal(**args, start=start)
    assert (found.reason if found else None) == reason
    assert found is None or found.message
    offered = find_slot(offered_slots(**args), at(start))
    assert slot_offered(**args, start=start) == offered
    assert (offered is None) == (reason is not None)


def test_a_closed_day_is_not_a_slot_time() -> None:
    """A start on a holiday is refused as not one of the times offered."""
    found = refusal(booking(), TZ, SWEDISH_EASTER, local(2026, 4, 1, 6), [], [], local(2026, 4, 3, 9))
    assert found is not None
    assert found.reason == "not_a_slot"


def test_naive_times_are_refused() -> None:
    """A naive ``now`` or start raises instead of being read in some zone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        slots(booking(), datetime(2026, 5, 4, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        refusal(booking(), TZ, frozenset(), NOW, [], [], datetime(2026, 5, 6, 10))


# Daytime hours only: the oracle below counts in wall-clock minutes, which equal elapsed minutes
# outside the night of a switch (the explicit cases above cover those nights).
_hours = st.tuples(st.integers(6, 12), st.integers(0, 3), st.integers(1, 6)).map(
    lambda t: f"{t[0]:02d}:{t[1] * 15:02d}-{t[0] + t[2]:02d}:{t[1] * 15:02d}"
)
_days = st.dictionaries(st.sampled_from(WEEKDAYS), st.lists(_hours, min_size=1, max_size=1), min_size=1)
_moments = st.datetimes(datetime(2025, 1, 1), datetime(2028, 12, 1), timezones=st.just(UTC))
# Mostly on a quarter hour, like the slots: then bookings touch slots and window ends meet starts.
_nows = st.one_of(
    _moments.map(lambda m: m.replace(minute=m.minute // 15 * 15, second=0, microsecond=0)),
    _moments,
)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Booking, datetime, frozenset[date], list[Any], list[Any]]:
    duration = draw(st.sampled_from([15, 30, 45, 60, 90]))
    gap = draw(st.none() | st.sampled_from([0, 15, 30]))
    section = booking(
        draw(_days),
        duration=duration,
        # Slots never overlap (every >= duration): the loader refuses anything else.
        every=None if gap is None else duration + gap,
        slots_per_time=draw(st.integers(1, 3)),
        minimum_notice=draw(
            st.builds(
                Span,
                days=st.integers(0, 3),
                unit=st.sampled_from(["days", "business_days", "weeks"]),
                hours=st.integers(0, 30),
            )
        ).model_dump(),
        horizon={"days": draw(st.integers(0, 14)), "hours": draw(st.integers(0, 48))},
    )
    now = draw(_nows)
    closed = frozenset(now.date() + timedelta(days=d) for d in draw(st.sets(st.integers(0, 20), max_size=4)))
    interval = st.tuples(st.integers(0, 14 * 24 * 4), st.integers(1, 8)).map(
        lambda t: (now + timedelta(minutes=15 * t[0]), now + timedelta(minutes=15 * (t[0] + t[1])))
    )
    return section, now, closed, draw(st.lists(interval, max_size=8)), draw(st.lists(interval, max_size=3))


def _overlaps(start: datetime, end: datetime, intervals: list[tuple[datetime, datetime]]) -> int:
    return sum(1 for a, b in intervals if a < end and start < b)


@hypothesis_settings(max_examples=150, deadline=None)
@given(_cases())
def test_offered_slots_are_exactly_the_free_unblocked_slot_times_in_the_window(case: Any) -> None:
    """Against an oracle: a start is offered iff it is a step from its day's hours' start on an open
    day, fits the hours, lies in the window, is not blocked and has a place left (that many free)."""
    section, now, closed, taken, blocked = case
    earliest, latest = booking_window(section, TZ, closed, now)
    found = offered_slots(section, TZ, closed, now, taken, blocked)
    assert [s.start for s in found] == sorted({s.start for s in found})
    offered = {s.start: s for s in found}
    tz_now = now.astimezone(STOCKHOLM)
    day = tz_now.date()
    while day <= latest.astimezone(STOCKHOLM).date():
        for hours in section.hours.get(WEEKDAYS[day.weekday()], ()):
            minute = hours.start.hour * 60 + hours.start.minute
            stop = hours.end.hour * 60 + hours.end.minute
            for m in range(minute, stop - section.duration + 1, section.step_minutes):
                start = at(datetime.combine(day, time(m // 60, m % 60), tzinfo=STOCKHOLM))
                end = start + timedelta(minutes=section.duration)
                free = section.slots_per_time - _overlaps(start, end, taken)
                expected = day not in closed and earliest <= start <= latest and free > 0
                expected = expected and not _overlaps(start, end, blocked)
                assert (start in offered) == expected, (start, free)
                if expected:
                    assert offered.pop(start) == Slot(start, end, free)
                    assert refusal(section, TZ, closed, now, taken, blocked, start) is None
                else:
                    assert refusal(section, TZ, closed, now, taken, blocked, start) is not None
        day += timedelta(days=1)
    assert not offered, "offered a start that is not a slot time"
