"""Kick-off meetings customers booked on their page, and the times staff block.

Each booking holds one of its slot's places (0 .. slots_per_time - 1). The partial unique
index on (pipeline, starts_at, place) over rows not cancelled is what makes two customers
unable to take the last place, on SQLite and PostgreSQL alike, without locks: a hold tries the
free places and the database refuses the one someone else took first. The index on the
onboarding (rows not cancelled) keeps one live booking per onboarding.

A booking is ``held`` while the API tells the onboarding's run (the event may be refused),
then ``booked``; ``cancelled`` rows stay, so the board can show them and the UID keeps its
sequence. Times are written in UTC and read back aware (SQLite loses the zone).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

from sqlalchemy import ColumnElement, RowMapping, and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kickoff.db.database import Database, utc_aware
from kickoff.db.schema import booking_blocks, bookings

BookingStatus = Literal["held", "booked", "cancelled"]

HOLD_TIMEOUT = timedelta(minutes=5)
"""How long a ``held`` row keeps its place without being confirmed or released. Confirming
follows the hold within a request (one signal to the run), so a hold this old was left by a
process that died in between: it is reclaimed, not kept forever."""

MOVE_ATTEMPTS = 3
"""How often a move re-reads the target's free places after losing a race for one."""


class SlotFullError(Exception):
    """Every place of the slot is taken."""


class AlreadyBookedError(Exception):
    """The onboarding has a live booking already (move or cancel it instead)."""


class BookingGoneError(LookupError):
    """No live booking has that id (never made, released, reclaimed or cancelled)."""


@dataclass(frozen=True)
class BookingRow:
    id: str
    onboarding_id: str
    pipeline: str
    cycle: int
    starts_at: datetime
    ends_at: datetime
    place: int
    status: BookingStatus
    sequence: int
    booked_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def live(self) -> bool:
        return self.status != "cancelled"


@dataclass(frozen=True)
class BlockRow:
    id: int
    pipeline: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime


class BookingStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def hold(
        self,
        onboarding_id: str,
        pipeline: str,
        cycle: int,
        start: datetime,
        end: datetime,
        capacity: int,
        booked_by: str,
        now: datetime,
    ) -> BookingRow:
        """Take a free place of the slot at ``start`` for the onboarding, as ``held``.

        ``SlotFullError`` when all ``capacity`` places are taken (also when another customer
        took the last one a moment before), ``AlreadyBookedError`` when the onboarding has a
        live booking."""
        start, end, now = _utc(start), _utc(end), _utc(now)
        _ordered(start, end)
        c = bookings.c
        # A crash between hold and confirm (or release) leaves a held row that would keep its
        # place, and block its onboarding's next try, forever: clear such rows of this slot
        # and of this onboarding before looking for a place.
        async with self.database.engine.begin() as db:
            await db.execute(
                delete(bookings).where(
                    _stale_hold(now), or_(_at(pipeline, start), c.onboarding_id == onboarding_id)
                )
            )
        async with self.database.engine.connect() as db:
            if await _live_of(db, onboarding_id) is not None:
                raise AlreadyBookedError(onboarding_id)
            used = await _used_places(db, pipeline, start)
        booking_id = str(uuid.uuid4())
        for place in (p for p in range(capacity) if p not in used):
            row = BookingRow(
                id=booking_id,
                onboarding_id=onboarding_id,
                pipeline=pipeline,
                cycle=cycle,
                starts_at=start,
                ends_at=end,
                place=place,
                status="held",
                sequence=0,
                booked_by=booked_by,
                created_at=now,
                updated_at=now,
            )
            try:
                async with self.database.engine.begin() as db:
                    await db.execute(bookings.insert().values(asdict(row)))
            except IntegrityError:
                # Either someone took this place first (try the next) or the same onboarding
                # booked at the same moment (the other index): tell them apart by reading.
                async with self.database.engine.connect() as db:
                    if await _live_of(db, onboarding_id) is not None:
                        raise AlreadyBookedError(onboarding_id) from None
                continue
            return row
        raise SlotFullError(f"{pipeline} {start.isoformat()}")

    async def confirm(self, booking_id: str, now: datetime) -> BookingRow:
        """held → booked, once the run took the event; a booked one is returned as it is
        (a retried confirm). ``BookingGoneError`` if it was released, reclaimed or cancelled."""
        c = bookings.c
        async with self.database.engine.begin() as db:
            await db.execute(
                update(bookings)
                .where(c.id == booking_id, c.status == "held")
                .values(status="booked", updated_at=_utc(now))
            )
            row = await _get(db, booking_id)
        if row is None or row.status != "booked":
            raise BookingGoneError(booking_id)
        return row

    async def release(self, booking_id: str) -> bool:
        """Give a held place back (the run refused the event); False if it was not held."""
        c = bookings.c
        async with self.database.engine.begin() as db:
            done = await db.execute(delete(bookings).where(c.id == booking_id, c.status == "held"))
        return bool(done.rowcount)

    async def move(
        self, booking_id: str, new_start: datetime, new_end: datetime, capacity: int, now: datetime
    ) -> BookingRow:
        """Reschedule a live booking: same id (the invitation's UID), sequence + 1, a free place
        at the new time. ``SlotFullError`` leaves the booking as it was."""
        new_start, new_end, now = _utc(new_start), _utc(new_end), _utc(now)
        _ordered(new_start, new_end)
        c = bookings.c
        for _ in range(MOVE_ATTEMPTS):
            try:
                # One transaction: the booking is either at its new time with its new sequence,
                # or untouched.
                async with self.database.engine.begin() as db:
                    current = await _get(db, booking_id, for_update=True)
                    if current is None or not current.live:
                        raise BookingGoneError(booking_id)
                    await db.execute(
                        delete(bookings).where(
                            _stale_hold(now), _at(current.pipeline, new_start), c.id != booking_id
                        )
                    )
                    used = await _used_places(db, current.pipeline, new_start, besides=booking_id)
                    place = next((p for p in range(capacity) if p not in used), None)
                    if place is None:
                        raise SlotFullError(f"{current.pipeline} {new_start.isoformat()}")
                    done = await db.execute(
                        update(bookings)
                        .where(c.id == booking_id, c.status != "cancelled")
                        .values(
                            starts_at=new_start,
                            ends_at=new_end,
                            place=place,
                            sequence=c.sequence + 1,
                            updated_at=now,
                        )
                    )
                    if not done.rowcount:  # cancelled meanwhile (SQLite has no FOR UPDATE)
                        raise BookingGoneError(booking_id)
                    moved = await _get(db, booking_id)
            except IntegrityError:
                continue  # another booking took that place between our read and our write
            assert moved is not None
            return moved
        raise SlotFullError(f"{booking_id} → {new_start.isoformat()}")

    async def cancel(self, booking_id: str, now: datetime) -> BookingRow:
        """Cancel a live booking (its place is free at once); sequence + 1 for the CANCEL
        the invitation sends. ``BookingGoneError`` if it is not live."""
        c = bookings.c
        async with self.database.engine.begin() as db:
            done = await db.execute(
                update(bookings)
                .where(c.id == booking_id, c.status != "cancelled")
                .values(status="cancelled", sequence=c.sequence + 1, updated_at=_utc(now))
            )
            row = await _get(db, booking_id)
        if not done.rowcount or row is None:
            raise BookingGoneError(booking_id)
        return row

    async def get(self, booking_id: str) -> BookingRow | None:
        async with self.database.engine.connect() as db:
            return await _get(db, booking_id)

    async def live_for(self, onboarding_id: str) -> BookingRow | None:
        """The onboarding's booking that is not cancelled, if it has one."""
        async with self.database.engine.connect() as db:
            return await _live_of(db, onboarding_id)

    async def taken(
        self, pipeline: str, start: datetime, end: datetime, now: datetime | None = None
    ) -> list[tuple[datetime, datetime]]:
        """(start, end) of the live bookings overlapping [start, end): one place each, for
        ``offered_slots``. Holds older than ``HOLD_TIMEOUT`` at ``now`` (default: the
        clock) are left out: the next hold reclaims them, so their slot must stay offered."""
        c = bookings.c
        query = (
            select(c.starts_at, c.ends_at)
            .where(*_overlapping(pipeline, start, end), c.status != "cancelled")
            .where(~_stale_hold(_utc(now or datetime.now(UTC))))
            .order_by(c.starts_at)
        )
        async with self.database.engine.connect() as db:
            rows = (await db.execute(query)).all()
        return [(utc_aware(row.starts_at), utc_aware(row.ends_at)) for row in rows]

    async def upcoming(
        self, pipeline: str, start: datetime, end: datetime, *, include_cancelled: bool = False
    ) -> list[BookingRow]:
        """The bookings starting in [start, end), earliest first (the board's list)."""
        c = bookings.c
        query = select(bookings).where(
            c.pipeline == pipeline, c.starts_at >= _utc(start), c.starts_at < _utc(end)
        )
        if not include_cancelled:
            query = query.where(c.status != "cancelled")
        async with self.database.engine.connect() as db:
            rows = (await db.execute(query.order_by(c.starts_at, c.place))).mappings().all()
        return [_booking(row) for row in rows]

    async def add_block(
        self, pipeline: str, start: datetime, end: datetime, reason: str, created_by: str, now: datetime
    ) -> int:
        """Block [start, end) for customers' booking; the block's id."""
        start, end = _utc(start), _utc(end)
        _ordered(start, end)
        async with self.database.engine.begin() as db:
            done = await db.execute(
                booking_blocks.insert().values(
                    pipeline=pipeline,
                    starts_at=start,
                    ends_at=end,
                    reason=reason.strip()[:200],
                    created_by=created_by[:320],
                    created_at=_utc(now),
                )
            )
        key = done.inserted_primary_key
        assert key is not None
        return int(key[0])

    async def remove_block(self, block_id: int) -> bool:
        """Lift a block; False if there was none with that id."""
        async with self.database.engine.begin() as db:
            done = await db.execute(delete(booking_blocks).where(booking_blocks.c.id == block_id))
        return bool(done.rowcount)

    async def blocks(self, pipeline: str, start: datetime, end: datetime) -> list[BlockRow]:
        """The blocks overlapping [start, end), earliest first."""
        b = booking_blocks.c
        query = (
            select(booking_blocks)
            .where(b.pipeline == pipeline, b.starts_at < _utc(end), b.ends_at > _utc(start))
            .order_by(b.starts_at, b.id)
        )
        async with self.database.engine.connect() as db:
            rows = (await db.execute(query)).mappings().all()
        return [
            BlockRow(
                id=row["id"],
                pipeline=row["pipeline"],
                starts_at=utc_aware(row["starts_at"]),
                ends_at=utc_aware(row["ends_at"]),
                reason=row["reason"],
                created_by=row["created_by"],
                created_at=utc_aware(row["created_at"]),
            )
            for row in rows
        ]


def _utc(moment: datetime) -> datetime:
    # SQLite stores the wall time and drops the zone: everything written must be in UTC.
    if moment.tzinfo is None:
        raise ValueError("booking times must be timezone-aware")
    return moment.astimezone(UTC)


def _ordered(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValueError("a booking or block ends after it starts")


def _at(pipeline: str, start: datetime) -> ColumnElement[bool]:
    return and_(bookings.c.pipeline == pipeline, bookings.c.starts_at == start)


def _stale_hold(now: datetime) -> ColumnElement[bool]:
    return and_(bookings.c.status == "held", bookings.c.updated_at < now - HOLD_TIMEOUT)


def _overlapping(pipeline: str, start: datetime, end: datetime) -> Sequence[ColumnElement[bool]]:
    c = bookings.c
    return (c.pipeline == pipeline, c.starts_at < _utc(end), c.ends_at > _utc(start))


async def _used_places(
    db: AsyncConnection, pipeline: str, start: datetime, besides: str | None = None
) -> set[int]:
    c = bookings.c
    query = select(c.place).where(_at(pipeline, start), c.status != "cancelled")
    if besides is not None:
        query = query.where(c.id != besides)
    return set((await db.execute(query)).scalars())


async def _get(db: AsyncConnection, booking_id: str, *, for_update: bool = False) -> BookingRow | None:
    query = select(bookings).where(bookings.c.id == booking_id)
    if for_update:
        query = query.with_for_update()  # PostgreSQL: one move of a booking at a time
    row = (await db.execute(query)).mappings().first()
    return _booking(row) if row is not None else None


async def _live_of(db: AsyncConnection, onboarding_id: str) -> BookingRow | None:
    c = bookings.c
    query = select(bookings).where(c.onboarding_id == onboarding_id, c.status != "cancelled")
    row = (await db.execute(query)).mappings().first()
    return _booking(row) if row is not None else None


def _booking(row: RowMapping) -> BookingRow:
    return BookingRow(
        id=row["id"],
        onboarding_id=row["onboarding_id"],
        pipeline=row["pipeline"],
        cycle=row["cycle"],
        starts_at=utc_aware(row["starts_at"]),
        ends_at=utc_aware(row["ends_at"]),
        place=row["place"],
        status=cast(BookingStatus, row["status"]),
        sequence=row["sequence"],
        booked_by=row["booked_by"],
        created_at=utc_aware(row["created_at"]),
        updated_at=utc_aware(row["updated_at"]),
    )
