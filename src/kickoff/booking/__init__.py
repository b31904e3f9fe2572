"""Self-service booking of the kick-off meeting: the slots a customer is offered and the
calendar invitation a booking sends (pure; the bookings themselves live in
``kickoff.db.bookings``)."""

from kickoff.booking.invite import invitation
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
    "invitation",
    "offered_slots",
    "refusal",
    "slot_offered",
    "slot_times",
    "span_after",
]
