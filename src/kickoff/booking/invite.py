"""The kick-off meeting as an RFC 5545 calendar object (iTIP, RFC 5546), for the mail's
``text/calendar`` part.

A booking's id is the event's UID for its whole life: a moved meeting is sent again as a
REQUEST with the same UID and a higher SEQUENCE, a cancelled one as a CANCEL, so the
recipient's calendar updates or removes the event it already has instead of adding another.
Times are written in the pipeline's zone with a VTIMEZONE, so a 09:00 meeting shows as 09:00
in Stockholm whatever side of a daylight-saving switch it falls on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Literal

from icalendar import Calendar, Event, vCalAddress, vText

from kickoff.schedule import zone

PRODID = "-//Kickoff//Kick-off booking//EN"

Method = Literal["REQUEST", "CANCEL"]


def invitation(
    *,
    uid: str,
    sequence: int,
    method: Method,
    start: datetime,
    end: datetime,
    tz_name: str,
    title: str,
    location: str | None,
    description: str | None,
    organizer_email: str,
    organizer_name: str,
    attendees: Sequence[tuple[str, str]],
    stamp: datetime,
) -> str:
    """The invitation (REQUEST) or cancellation (CANCEL) of one meeting, as iCalendar text.

    ``uid`` stays the same for the meeting's life (``<booking id>@<organizer's domain>``);
    ``sequence`` grows with each change; ``attendees`` are (e-mail address, name) pairs;
    ``stamp`` is when this version was made (DTSTAMP)."""
    for moment in (start, end, stamp):
        if moment.tzinfo is None:
            raise ValueError("invitation times must be timezone-aware")
    if end <= start:
        raise ValueError("a meeting ends after it starts")
    tz = zone(tz_name)
    # The long-standing ``add`` API rather than ``Event.new`` (icalendar 7): works from 6.1.
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", start.astimezone(tz))
    event.add("dtend", end.astimezone(tz))
    event.add("summary", title)
    if location:
        event.add("location", location)
    if description:
        event.add("description", description)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("organizer", _address(organizer_email, organizer_name))
    for email, name in attendees:
        attendee = _address(email, name)
        attendee.params.update({"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"})
        event.add("attendee", attendee)
    event.add("transp", "OPAQUE")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(event)
    # The zone's rules for the meeting's years only: a short VTIMEZONE every client reads,
    # rather than every switch since 1970.
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    calendar.add_missing_timezones(
        first_date=date(local_start.year, 1, 1), last_date=date(local_end.year + 1, 1, 1)
    )
    text: bytes = calendar.to_ical()
    return text.decode("utf-8")


def _address(email: str, name: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(name)
    return address
