"""Self-service booking of the kick-off meeting: the slots a customer is offered (pure; the
bookings themselves live in ``kickoff.db.bookings``)."""

from kickoff.booking.slots import (
    Interval,
    Refusal,
    RefusalReason,
    Slot,
    booking_window,
    find_slot,
    offered_slots,
    refusal,
    slot_offered,
    slot_times,
    span_after,
)

__all__ = [
    "Interval",
    "Refusal",
    "RefusalReason",
    "Slot",
    "booking_window",
    "find_slot",
    "offered_slots",
    "refusal",
    "slot_offered",
    "slot_times",
    "span_after",
]
