"""Booking, moving and cancelling the kick-off from the customer's page.

A booking takes a place in Kickoff's database first (the unique index is what stops two
customers taking the last one), then sends the pipeline's booking event exactly as staff would
(``booked_by: customer``); a refused event gives the place back. Only then is it confirmed and
its mails (with the calendar invitation) handed to a workflow of their own, so an SMTP outage
delays them and loses none. A rescheduled meeting keeps its UID and raises its sequence; a
cancelled one sends METHOD:CANCEL and, where the pipeline says so (``cancel_outcome``), records
the kick-off's outcome as staff would (assist-se: onboarding restarts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from kickoff.booking import slots as booking_slots
from kickoff.booking.invite import invitation
from kickoff.customer.access import CustomerAccess, Opened
from kickoff.customer.mail_out import hand_over
from kickoff.customer.texts import local_datetime, local_time
from kickoff.db.bookings import AlreadyBookedError, BookingRow, SlotFullError
from kickoff.domain import CUSTOMER, CalendarInvite, EventInput, OutcomeInput, SendMailInput
from kickoff.engine import plan as engine_plan
from kickoff.engine.messages import Work, describe_mail
from kickoff.pipelines.customer import Booking, localized
from kickoff.pipelines.model import Action, MailSpec, Pipeline
from kickoff.service import ConflictError, NotFoundError, ServiceError, UnprocessableError
from kickoff.workflows.booking_mail import booking_mail_id

MailKind = Literal["confirmed", "updated", "cancelled"]
BookingReason = booking_slots.RefusalReason | Literal["same", "started", "closed"]
"""Why the customer's page refused a booking, a move or a cancellation: the slot's own reasons,
the meeting already at that time, the meeting under way, or nothing more to book here. The page
words each in the customer's language (``refused_<reason>`` in ``kickoff.customer.texts``)."""


class BookingRefusedError(UnprocessableError):
    """The start is not a time on offer (past, too soon or late, not a slot time, the same time)."""

    def __init__(self, reason: BookingReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BookingConflictError(ConflictError):
    """The time is full or blocked (another customer was quicker, or staff blocked it), or the
    booking can no longer change here (the meeting started, the onboarding takes no booking)."""

    def __init__(self, reason: BookingReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Done:
    kind: MailKind
    booking: BookingRow


def booking_of(pipeline: Pipeline) -> Booking:
    if pipeline.booking is None:
        raise NotFoundError(f"pipeline {pipeline.id} offers no booking on the customer's page")
    return pipeline.booking


async def offered(access: CustomerAccess, pipeline: Pipeline, now: datetime) -> list[booking_slots.Slot]:
    """The slots open for booking now, less bookings and blocked times."""
    booking = booking_of(pipeline)
    closed = engine_plan.closed_days(pipeline)
    earliest, latest = booking_slots.booking_window(booking, pipeline.timezone, closed, now)
    window_end = latest + timedelta(minutes=booking.duration)
    taken = await access.bookings.taken(pipeline.id, earliest, window_end, now)
    blocks = await access.bookings.blocks(pipeline.id, earliest, window_end)
    blocked = [(b.starts_at, b.ends_at) for b in blocks]
    return booking_slots.offered_slots(booking, pipeline.timezone, closed, now, taken, blocked)


async def _checked_slot(
    access: CustomerAccess, pipeline: Pipeline, start: datetime, now: datetime
) -> booking_slots.Slot:
    booking = booking_of(pipeline)
    closed = engine_plan.closed_days(pipeline)
    end = start + timedelta(minutes=booking.duration)
    taken = await access.bookings.taken(pipeline.id, start, end, now)
    blocks = [(b.starts_at, b.ends_at) for b in await access.bookings.blocks(pipeline.id, start, end)]
    found = booking_slots.refusal(booking, pipeline.timezone, closed, now, taken, blocks, start)
    if found is None:
        slot = booking_slots.slot_offered(booking, pipeline.timezone, closed, now, taken, blocks, start)
        assert slot is not None
        return slot
    if found.reason in ("full", "blocked"):
        raise BookingConflictError(found.reason, found.message)
    raise BookingRefusedError(found.reason, found.message)


def can_book(opened: Opened) -> bool:
    """Whether the run takes the booking event now (running, in a stage that allows it)."""
    pipeline, state = opened.pipeline, opened.state
    if pipeline.booking is None or state.status != "running":
        return False
    event = pipeline.events.get(pipeline.booking.event)
    return event is not None and state.stage in pipeline.event_allowed_in(event)


def _event(pipeline: Pipeline, start: datetime) -> EventInput:
    booking = booking_of(pipeline)
    payload: dict[str, str | int | float | bool | None] = {booking.field: start.isoformat()}
    if booking.by_field is not None:
        payload[booking.by_field] = CUSTOMER
    return EventInput(name=booking.event, payload=payload, by=CUSTOMER)


async def book(access: CustomerAccess, opened: Opened, start: datetime, now: datetime) -> Done:
    """Book ``start`` (or move the live booking there)."""
    if opened.booking is not None:
        return await move(access, opened, start, now)
    pipeline, state = opened.pipeline, opened.state
    if not can_book(opened):
        raise BookingConflictError(
            "closed", "this onboarding no longer takes bookings on the customer's page"
        )
    slot = await _checked_slot(access, pipeline, start, now)
    booking = booking_of(pipeline)
    try:
        held = await access.bookings.hold(
            state.id, pipeline.id, state.cycle, slot.start, slot.end, booking.slots_per_time, CUSTOMER, now
        )
    except SlotFullError:
        raise BookingConflictError("full", "that time has just been booked by someone else") from None
    except AlreadyBookedError:
        raise BookingConflictError("closed", "a meeting is already booked for this onboarding") from None
    try:
        # Keyed by the booking: a retry after a lost answer is the same event, applied once.
        await access.service.apply_event(state.id, _event(pipeline, slot.start), f"booking-{held.id}")
    except (ServiceError, OSError):
        await access.bookings.release(held.id)
        raise
    confirmed = await access.bookings.confirm(held.id, now)
    await send_mails(access, opened, confirmed, "confirmed", now)
    await access.record(opened, "customer_booked", booking=confirmed.id, start=slot.start.isoformat())
    return Done("confirmed", confirmed)


async def move(access: CustomerAccess, opened: Opened, start: datetime, now: datetime) -> Done:
    """Move the live booking to ``start``: same invitation UID, a higher sequence."""
    current = opened.booking
    assert current is not None
    pipeline = opened.pipeline
    if current.starts_at <= now:
        raise BookingConflictError("started", "the meeting has started: it can no longer be moved here")
    if opened.state.kickoff_outcome is not None:
        raise BookingConflictError(
            "closed", "the kick-off's outcome is recorded: the meeting can no longer be moved here"
        )
    if current.starts_at == start:
        raise BookingRefusedError("same", "the meeting is already booked at that time")
    slot = await _checked_slot(access, pipeline, start, now)
    try:
        moved = await access.bookings.move(
            current.id, slot.start, slot.end, booking_of(pipeline).slots_per_time, now
        )
    except SlotFullError:
        raise BookingConflictError("full", "that time has just been booked by someone else") from None
    if can_book(opened):
        # The run still waits for the meeting (its anchor counts tasks from it): tell it the
        # new time as the booking event again, keyed by the new sequence.
        event = _event(pipeline, slot.start)
        await access.service.apply_event(opened.state.id, event, f"booking-{moved.id}-{moved.sequence}")
    await send_mails(access, opened, moved, "updated", now)
    await access.record(opened, "customer_rescheduled", booking=moved.id, start=slot.start.isoformat())
    return Done("updated", moved)


async def cancel(access: CustomerAccess, opened: Opened, now: datetime) -> Done:
    """Cancel the live booking; the pipeline's ``cancel_outcome`` then applies."""
    current = opened.booking
    if current is None:
        raise BookingConflictError("closed", "no meeting is booked")
    if current.starts_at <= now:
        raise BookingConflictError("started", "the meeting has started: it can no longer be cancelled here")
    if opened.state.kickoff_outcome is not None:
        raise BookingConflictError(
            "closed", "the kick-off's outcome is recorded: the meeting can no longer be cancelled"
        )
    cancelled = await access.bookings.cancel(current.id, now)
    await send_mails(access, opened, cancelled, "cancelled", now)
    await access.record(opened, "customer_cancelled", booking=cancelled.id)
    outcome = booking_of(opened.pipeline).cancel_outcome
    if outcome is not None and opened.state.awaiting_outcome:
        # As staff would record "Uppstartsmöte av/ombokas": onboarding restarts, with its
        # reminders and a call task to find a new time.
        await access.service.record_outcome(opened.state.id, OutcomeInput(outcome=outcome, by=CUSTOMER))
    return Done("cancelled", cancelled)


# ---------------------------------------------------------------- mails


def _mail_input(opened: Opened, row: BookingRow, kind: MailKind, to_team: bool, ics: str) -> SendMailInput:
    pipeline, state = opened.pipeline, opened.state
    booking = booking_of(pipeline)
    template = getattr(booking.templates, kind)
    action = Action(mail=MailSpec(template=template, to="team" if to_team else "main_user"))
    work = Work(
        action=action, visit=(state.stage, 0), key=f"booking-{row.id}-{row.sequence}", at=row.updated_at
    )
    mail = describe_mail(state, pipeline, work).input
    language = opened.language if not to_team else pipeline.default_language
    context = dict(mail.context)
    context["booking"] = {
        "title": localized(booking.title, language, pipeline.default_language),
        "starts": local_datetime(row.starts_at, pipeline.timezone, language),
        "ends": local_time(row.ends_at, pipeline.timezone, language),
        "location": localized(booking.location, language, pipeline.default_language),
        "status": row.status,
    }
    domain = pipeline.team.email.rsplit("@", 1)[1]
    recipient = "team" if to_team else "customer"
    return mail.model_copy(
        update={
            "message_id": f"<{state.id}.booking.{row.id}.{row.sequence}.{recipient}@{domain}>",
            "context": context,
            "calendar": CalendarInvite(method="CANCEL" if kind == "cancelled" else "REQUEST", ics=ics),
        }
    )


def invitation_text(opened: Opened, row: BookingRow, kind: MailKind, now: datetime) -> str:
    pipeline, state = opened.pipeline, opened.state
    booking = booking_of(pipeline)
    language = opened.language
    domain = pipeline.team.email.rsplit("@", 1)[1]
    customer = state.contract.customer.name
    return invitation(
        uid=f"{row.id}@{domain}",
        sequence=row.sequence,
        method="CANCEL" if kind == "cancelled" else "REQUEST",
        start=row.starts_at,
        end=row.ends_at,
        tz_name=pipeline.timezone,
        title=f"{localized(booking.title, language, pipeline.default_language)} – {customer}",
        location=localized(booking.location, language, pipeline.default_language),
        description=f"{pipeline.name} ({state.id})",
        organizer_email=pipeline.team.email,
        organizer_name=pipeline.team.name or pipeline.name,
        attendees=[(state.contract.main_user.email, state.contract.main_user.name)],
        stamp=now,
    )


async def send_mails(
    access: CustomerAccess, opened: Opened, row: BookingRow, kind: MailKind, now: datetime
) -> None:
    """Hand the customer's and the team's mail to their workflow (started once per sequence)."""
    ics = invitation_text(opened, row, kind, now)
    mails = [_mail_input(opened, row, kind, to_team, ics) for to_team in (False, True)]
    await hand_over(
        access.service,
        opened.state.id,
        mails,
        booking_mail_id(opened.state.id, row.id, row.sequence),
        f"{kind} kick-off booking mail",
    )
