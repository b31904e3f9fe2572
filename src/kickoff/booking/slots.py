"""Which kick-off times a customer may book, and why a given time is not one of them.

Pure: the clock (``now``), the calendar's closed days and what is taken or blocked are passed
in, so the API, the board and the tests all compute the same slots. Slots are laid out in the
pipeline's local wall-clock time (09:00 stays 09:00 across a daylight-saving switch) and
returned as aware UTC moments.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from kickoff.pipelines.customer import WEEKDAYS, Booking, Span
from kickoff.schedule import format_local, offset_moment, zone

Interval = tuple[datetime, datetime]
"""A stretch of time as (start, end), aware, end exclusive."""

RefusalReason = Literal["past", "too_soon", "too_late", "not_a_slot", "blocked", "full"]
"""Why a start is not offered, in the order they are checked."""


@dataclass(frozen=True)
class Slot:
    """A time a customer may book: aware UTC ``start`` and ``end``, and ``free`` places left."""

    start: datetime
    end: datetime
    free: int


@dataclass(frozen=True)
class Refusal:
    """Why a start is not offered: a code the API maps to a status, and a sentence for people."""

    reason: RefusalReason
    message: str


def span_after(span: Span, now: datetime, tz_name: str, closed: Set[date]) -> datetime:
    """``now`` plus ``span``: its days in their unit (business days of the calendar keep the
    time of day, as a plan's offsets do), then its hours."""
    days = offset_moment(now, span.days, None, tz_name, span.unit, closed)
    return days + timedelta(hours=span.hours)


def booking_window(
    booking: Booking, tz_name: str, closed: Set[date], now: datetime
) -> tuple[datetime, datetime]:
    """The earliest and the latest start a customer may book at ``now`` (both inclusive)."""
    _aware(now)
    return (
        span_after(booking.minimum_notice, now, tz_name, closed),
        span_after(booking.horizon, now, tz_name, closed),
    )


def offered_slots(
    booking: Booking,
    tz_name: str,
    closed: Set[date],
    now: datetime,
    taken: Sequence[Interval],
    blocked: Sequence[Interval],
) -> list[Slot]:
    """Every slot open for booking at ``now``, earliest first.

    ``taken`` are the live bookings (one place each) and ``blocked`` the times staff blocked;
    a slot is left out when no place is free or a block overlaps it."""
    earliest, latest = booking_window(booking, tz_name, closed, now)
    taken_index, blocked_index = _Overlaps(taken), _Overlaps(blocked)
    tz = zone(tz_name)
    found: list[Slot] = []
    day, last_day = earliest.astimezone(tz).date(), latest.astimezone(tz).date()
    while day <= last_day:
        for start, end in slot_times(booking, tz_name, closed, day):
            if earliest <= start <= latest and not blocked_index.count(start, end):
                free = booking.slots_per_time - taken_index.count(start, end)
                if free > 0:
                    found.append(Slot(start, end, free))
        day += timedelta(days=1)
    return found


def find_slot(slots: Sequence[Slot], start: datetime) -> Slot | None:
    """The slot of ``slots`` that starts at ``start``, if there is one."""
    return next((slot for slot in slots if slot.start == start), None)


def slot_offered(
    booking: Booking,
    tz_name: str,
    closed: Set[date],
    now: datetime,
    taken: Sequence[Interval],
    blocked: Sequence[Interval],
    start: datetime,
) -> Slot | None:
    """The slot starting at ``start`` if it is offered (what ``offered_slots`` would list)."""
    found = _check(booking, tz_name, closed, now, taken, blocked, start)
    return found if isinstance(found, Slot) else None


def refusal(
    booking: Booking,
    tz_name: str,
    closed: Set[date],
    now: datetime,
    taken: Sequence[Interval],
    blocked: Sequence[Interval],
    start: datetime,
) -> Refusal | None:
    """Why ``start`` is not offered (None when it is): the first of past, too soon, too late,
    not a slot time, blocked, full that applies."""
    found = _check(booking, tz_name, closed, now, taken, blocked, start)
    return found if isinstance(found, Refusal) else None


def slot_times(booking: Booking, tz_name: str, closed: Set[date], day: date) -> Iterator[Interval]:
    """The (start, end) of every slot on local ``day``, ignoring the clock, bookings and blocks.

    Starts are ``hours.start`` and every ``step_minutes`` after it, in wall-clock time, while
    the meeting ends by ``hours.end``; a start the day skips (spring forward) is left out, and
    one the day repeats (fall back) is its first occurrence."""
    if day in closed:
        return
    stretches = booking.hours.get(WEEKDAYS[day.weekday()], ())
    tz = zone(tz_name)
    step, duration = timedelta(minutes=booking.step_minutes), timedelta(minutes=booking.duration)
    for hours in stretches:
        close = datetime.combine(day, hours.end, tzinfo=tz).astimezone(UTC)
        wall = datetime.combine(day, hours.start)
        while True:
            start = wall.replace(tzinfo=tz).astimezone(UTC)
            end = start + duration
            if end > close:
                break
            if start.astimezone(tz).replace(tzinfo=None) == wall:  # else: the clock skips it
                yield start, end
            wall += step


def _check(
    booking: Booking,
    tz_name: str,
    closed: Set[date],
    now: datetime,
    taken: Sequence[Interval],
    blocked: Sequence[Interval],
    start: datetime,
) -> Slot | Refusal:
    _aware(start)
    start = start.astimezone(UTC)
    earliest, latest = booking_window(booking, tz_name, closed, now)
    if start < now:
        return Refusal("past", f"{_local(start, tz_name)} has passed.")
    if start < earliest:
        return Refusal(
            "too_soon", f"Meetings can be booked from {_local(earliest, tz_name)} at the earliest."
        )
    if start > latest:
        return Refusal("too_late", f"Meetings can be booked until {_local(latest, tz_name)} at the latest.")
    day = start.astimezone(zone(tz_name)).date()
    end = next((end for begin, end in slot_times(booking, tz_name, closed, day) if begin == start), None)
    if end is None:
        return Refusal("not_a_slot", f"{_local(start, tz_name)} is not one of the times offered.")
    if _Overlaps(blocked).count(start, end):
        return Refusal("blocked", f"{_local(start, tz_name)} is not available.")
    free = booking.slots_per_time - _Overlaps(taken).count(start, end)
    if free <= 0:
        return Refusal("full", f"{_local(start, tz_name)} has just been booked by someone else.")
    return Slot(start, end, free)


class _Overlaps:
    """Counts the intervals overlapping a stretch without scanning all of them for each slot."""

    def __init__(self, intervals: Sequence[Interval]) -> None:
        ordered = sorted((_aware(start).astimezone(UTC), end.astimezone(UTC)) for start, end in intervals)
        self._starts = [start for start, _ in ordered]
        self._ends = [end for _, end in ordered]
        self._longest = max((end - start for start, end in ordered), default=timedelta(0))

    def count(self, start: datetime, end: datetime) -> int:
        """How many intervals overlap [start, end) (touching ends do not overlap)."""
        # Only intervals starting in (start - longest, end) can reach into the stretch.
        low = bisect_left(self._starts, start - self._longest)
        high = bisect_left(self._starts, end)
        return sum(1 for i in range(low, high) if self._ends[i] > start)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("booking times must be timezone-aware")
    return moment


def _local(moment: datetime, tz_name: str) -> str:
    return format_local(moment, tz_name)
