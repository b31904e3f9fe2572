"""Booked kick-off meetings and blocked times in Kickoff's database, on SQLite and on a real
PostgreSQL server: places per slot under races, one live booking per onboarding, confirm and
release, moves and cancellations, reclaimed holds, blocks, and what is taken."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kickoff.db import Database
from kickoff.db.bookings import (
    HOLD_TIMEOUT,
    AlreadyBookedError,
    BookingGoneError,
    BookingRow,
    BookingStore,
    SlotFullError,
)

PIPELINE = "assist-se"
NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
NINE = datetime(2026, 5, 6, 7, 0, tzinfo=UTC)  # 09:00 in Stockholm
TEN = NINE + timedelta(hours=1)
HOUR = timedelta(hours=1)


async def hold(
    store: BookingStore,
    onboarding: str = "SE-C-1",
    start: datetime = NINE,
    capacity: int = 1,
    now: datetime = NOW,
) -> BookingRow:
    return await store.hold(onboarding, PIPELINE, 1, start, start + HOUR, capacity, "customer", now)


async def test_a_hold_reads_back_aware_in_utc_and_confirms_to_booked(database: Database) -> None:
    """A hold given in local time is stored and read as the same UTC instant, then confirm makes it booked."""
    store = BookingStore(database)
    local_nine = NINE.astimezone(ZoneInfo("Europe/Stockholm"))
    held = await store.hold("SE-C-1", PIPELINE, 2, local_nine, local_nine + HOUR, 1, "customer", NOW)
    assert (held.status, held.sequence, held.place, held.cycle) == ("held", 0, 0, 2)
    read = await store.get(held.id)
    assert read == held
    assert read is not None
    assert read.starts_at.tzinfo is not None
    assert read.starts_at.utcoffset() == timedelta(0)
    assert (read.starts_at, read.ends_at) == (NINE, TEN)
    later = NOW + timedelta(seconds=5)
    booked = await store.confirm(held.id, later)
    assert (booked.status, booked.updated_at, booked.created_at) == ("booked", later, NOW)
    assert await store.confirm(held.id, later) == booked  # a retried confirm changes nothing
    assert await store.live_for("SE-C-1") == booked


async def test_two_customers_racing_for_the_last_place_one_wins(database: Database) -> None:
    """Of several customers holding the last place at once exactly one gets it; the others hear it is full."""
    store = BookingStore(database)
    results = await asyncio.gather(*(hold(store, f"SE-C-{n}") for n in range(6)), return_exceptions=True)
    won = [r for r in results if isinstance(r, BookingRow)]
    assert len(won) == 1
    assert all(isinstance(r, SlotFullError) for r in results if not isinstance(r, BookingRow))
    assert await store.taken(PIPELINE, NINE, TEN, NOW) == [(NINE, TEN)]


async def test_a_slot_with_two_places_takes_two_racers_on_distinct_places(database: Database) -> None:
    """With two places, two of several racing customers win, one on each place."""
    store = BookingStore(database)
    results = await asyncio.gather(
        *(hold(store, f"SE-C-{n}", capacity=2) for n in range(5)), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, BookingRow)]
    assert sorted(r.place for r in won) == [0, 1]
    assert sum(isinstance(r, SlotFullError) for r in results) == 3
    with pytest.raises(SlotFullError):
        await hold(store, "SE-C-9", capacity=2)


async def test_an_onboarding_has_one_live_booking(database: Database) -> None:
    """A second hold for an onboarding, at another time or racing, is refused until the first is cancelled."""
    store = BookingStore(database)
    first = await hold(store)
    with pytest.raises(AlreadyBookedError):
        await hold(store, start=TEN)
    await store.cancel(first.id, NOW)
    racing = await asyncio.gather(
        *(hold(store, start=NINE + n * HOUR, capacity=1) for n in range(1, 5)), return_exceptions=True
    )
    assert sum(isinstance(r, BookingRow) for r in racing) == 1
    assert all(isinstance(r, AlreadyBookedError) for r in racing if not isinstance(r, BookingRow))


async def test_release_gives_a_held_place_back_but_not_a_booked_one(database: Database) -> None:
    """A refused event releases the held row (the place is free again); a booked row is not released."""
    store = BookingStore(database)
    held = await hold(store)
    assert await store.release(held.id)
    assert await store.get(held.id) is None
    with pytest.raises(BookingGoneError):
        await store.confirm(held.id, NOW)
    other = await hold(store, "SE-C-2")
    await store.confirm(other.id, NOW)
    assert not await store.release(other.id)
    assert (await store.live_for("SE-C-2")) is not None


async def test_a_move_keeps_the_id_raises_the_sequence_and_takes_a_new_place(database: Database) -> None:
    """Rescheduling keeps the id (the invitation's UID), adds one to the sequence and frees the old time."""
    store = BookingStore(database)
    held = await hold(store, capacity=2)
    booked = await store.confirm(held.id, NOW)
    other = await hold(store, "SE-C-2", start=TEN, capacity=2)
    await store.confirm(other.id, NOW)  # place 0 at ten is taken (for good: not a passing hold)
    later = NOW + HOUR
    moved = await store.move(booked.id, TEN, TEN + HOUR, 2, later)
    assert (moved.id, moved.sequence, moved.status, moved.place) == (booked.id, 1, "booked", 1)
    assert (moved.starts_at, moved.ends_at, moved.updated_at) == (TEN, TEN + HOUR, later)
    assert await store.taken(PIPELINE, NINE, TEN, later) == []
    again = await store.move(booked.id, NINE, TEN, 1, later)
    assert (again.sequence, again.place) == (2, 0)


async def test_a_move_to_a_full_time_leaves_the_booking_as_it_was(database: Database) -> None:
    """A move to a full time raises SlotFullError; the booking keeps its time, place and sequence."""
    store = BookingStore(database)
    mine = await store.confirm((await hold(store)).id, NOW)
    await store.confirm((await hold(store, "SE-C-2", start=TEN)).id, NOW)
    with pytest.raises(SlotFullError):
        await store.move(mine.id, TEN, TEN + HOUR, 1, NOW + HOUR)
    assert await store.get(mine.id) == mine
    cancelled = await store.cancel(mine.id, NOW)
    with pytest.raises(BookingGoneError):
        await store.move(cancelled.id, TEN + HOUR, TEN + 2 * HOUR, 1, NOW)


async def test_cancelling_frees_the_place_and_raises_the_sequence(database: Database) -> None:
    """A cancelled booking stays readable with sequence + 1, is no longer taken, and its place is free."""
    store = BookingStore(database)
    booked = await store.confirm((await hold(store)).id, NOW)
    cancelled = await store.cancel(booked.id, NOW + HOUR)
    assert (cancelled.status, cancelled.sequence, cancelled.live) == ("cancelled", 1, False)
    assert await store.live_for("SE-C-1") is None
    assert await store.taken(PIPELINE, NINE, TEN, NOW) == []
    with pytest.raises(BookingGoneError):
        await store.cancel(booked.id, NOW + HOUR)
    taker = await hold(store, "SE-C-2")
    assert taker.place == 0
    assert [b.id for b in await store.upcoming(PIPELINE, NINE, TEN)] == [taker.id]
    everything = await store.upcoming(PIPELINE, NINE, TEN, include_cancelled=True)
    assert {b.id for b in everything} == {taker.id, booked.id}


async def test_a_hold_left_behind_by_a_crash_is_reclaimed(database: Database) -> None:
    """A held row older than the timeout is not taken, and its place and its onboarding can hold again."""
    store = BookingStore(database)
    crashed = await hold(store, "SE-C-1", now=NOW - HOLD_TIMEOUT - timedelta(seconds=1))
    fresh = await hold(store, "SE-C-2", start=TEN, now=NOW - timedelta(minutes=1))
    assert await store.taken(PIPELINE, NINE, TEN + HOUR, NOW) == [(TEN, TEN + HOUR)]
    with pytest.raises(SlotFullError):
        await hold(store, "SE-C-3", start=TEN)  # a fresh hold keeps its place
    taker = await hold(store, "SE-C-3")
    assert taker.place == 0
    assert await store.get(crashed.id) is None
    with pytest.raises(BookingGoneError):
        await store.confirm(crashed.id, NOW)
    # The crashed customer's onboarding can hold again, at another time.
    again = await hold(store, "SE-C-1", start=TEN + HOUR)
    assert again.status == "held"
    assert (await store.get(fresh.id)) == fresh


async def test_taken_returns_only_live_bookings_overlapping_the_window(database: Database) -> None:
    """Bookings of other pipelines, cancelled ones and ones only touching the window's ends are not taken."""
    store = BookingStore(database)
    inside = await hold(store, "SE-C-1", start=NINE)
    await hold(store, "SE-C-2", start=NINE + 2 * HOUR)  # touches the window's end
    await hold(store, "SE-C-3", start=NINE - HOUR)  # touches its start
    await store.hold("SE-C-4", "other", 1, NINE, TEN, 1, "customer", NOW)
    gone = await hold(store, "SE-C-5", start=NINE + timedelta(minutes=30), capacity=2)
    await store.cancel(gone.id, NOW)
    assert await store.taken(PIPELINE, NINE, NINE + 2 * HOUR, NOW) == [(inside.starts_at, inside.ends_at)]
    half = timedelta(minutes=30)
    assert len(await store.taken(PIPELINE, NINE - half, NINE + half, NOW)) == 2
    assert await store.taken(PIPELINE, NINE - half, NINE + half) == []  # by the clock: stale holds


async def test_blocks_are_added_listed_by_overlap_and_removed(database: Database) -> None:
    """Staff blocks come back aware in UTC when they overlap the window, earliest first, until removed."""
    store = BookingStore(database)
    late = await store.add_block(PIPELINE, TEN, TEN + 2 * HOUR, " Team day ", "anna@assist.example", NOW)
    early = await store.add_block(PIPELINE, NINE, TEN, "Dentist", "anna@assist.example", NOW)
    await store.add_block("other", NINE, TEN, "Elsewhere", "bo@assist.example", NOW)
    found = await store.blocks(PIPELINE, NINE, TEN + HOUR)
    assert [b.id for b in found] == [early, late]
    assert (found[1].reason, found[1].starts_at, found[1].created_at) == ("Team day", TEN, NOW)
    assert found[1].starts_at.utcoffset() == timedelta(0)
    assert [b.id for b in await store.blocks(PIPELINE, TEN + 2 * HOUR, TEN + 3 * HOUR)] == []
    assert await store.remove_block(early)
    assert not await store.remove_block(early)
    assert [b.id for b in await store.blocks(PIPELINE, NINE, TEN + HOUR)] == [late]


async def test_naive_or_reversed_times_are_refused(database: Database) -> None:
    """A naive moment or an end before its start raises before anything is written."""
    store = BookingStore(database)
    with pytest.raises(ValueError, match="timezone-aware"):
        await hold(store, start=datetime(2026, 5, 6, 9))
    with pytest.raises(ValueError, match="ends after"):
        await store.add_block(PIPELINE, TEN, NINE, "x", "anna@assist.example", NOW)
    assert await store.live_for("SE-C-1") is None
