"""The kick-off invitation as iCalendar (RFC 5545/5546), read back with icalendar: method, UID
and sequence, local times with their zone, the zone's rules, organizer and attendee."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from kickoff.booking import invitation

TZ = "Europe/Stockholm"
STOCKHOLM = ZoneInfo(TZ)
UID = "3f1c2a9e-5b7d-4e0a-9c1f-2d8e6b4a7c10@assist.example"
STAMP = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def ics(start: datetime | None = None, **fields: Any) -> str:
    begin = start or datetime(2027, 3, 29, 9, 0, tzinfo=STOCKHOLM)
    values: dict[str, Any] = {
        "uid": UID,
        "sequence": 0,
        "method": "REQUEST",
        "start": begin,
        "end": begin + timedelta(hours=1),
        "tz_name": TZ,
        "title": "Uppstartsmöte",
        "location": "https://meet.example/kickoff",
        "description": "Vi går igenom planen; ta med frågor, gärna.",
        "organizer_email": "kickoff@assist.example",
        "organizer_name": "Assist Kick-off",
        "attendees": [("kund@firma.se", "Karin Kund")],
        "stamp": STAMP,
    }
    return invitation(**(values | fields))


def parsed(text: str) -> tuple[Any, Any]:
    """The calendar and its one event (typed loosely: icalendar's property union is wide)."""
    calendar = Calendar.from_ical(text)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    return calendar, events[0]


def test_a_request_names_its_method_uid_sequence_and_stamp() -> None:
    """A REQUEST carries METHOD, PRODID, the caller's UID, SEQUENCE, DTSTAMP in UTC and STATUS:CONFIRMED."""
    calendar, event = parsed(ics(sequence=0))
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(calendar["VERSION"]) == "2.0"
    assert "Kickoff" in str(calendar["PRODID"])
    assert str(event["UID"]) == UID
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTAMP") == STAMP
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == "Uppstartsmöte"
    assert str(event["LOCATION"]) == "https://meet.example/kickoff"
    assert str(event["DESCRIPTION"]) == "Vi går igenom planen; ta med frågor, gärna."


@pytest.mark.parametrize(
    ("start", "line", "utc_hour"),
    [
        (datetime(2027, 3, 29, 9, 0, tzinfo=STOCKHOLM), "DTSTART;TZID=Europe/Stockholm:20270329T090000", 7),
        (datetime(2027, 3, 26, 9, 0, tzinfo=STOCKHOLM), "DTSTART;TZID=Europe/Stockholm:20270326T090000", 8),
        (datetime(2027, 3, 26, 8, 0, tzinfo=UTC), "DTSTART;TZID=Europe/Stockholm:20270326T090000", 8),
    ],
    ids=["after-march-switch", "before-march-switch", "given-in-utc"],
)
def test_times_are_local_wall_clock_with_the_zone(start: datetime, line: str, utc_hour: int) -> None:
    """DTSTART is 09:00 with TZID=Europe/Stockholm on both sides of the March switch; the UTC hour differs."""
    text = ics(start)
    assert line in text.splitlines()
    _, event = parsed(text)
    begin, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert event["DTSTART"].params["TZID"] == TZ
    assert begin.astimezone(UTC).hour == utc_hour
    assert end - begin == timedelta(hours=1)
    assert begin == start


def test_the_zone_is_described_by_a_vtimezone() -> None:
    """A VTIMEZONE for Europe/Stockholm with its CET and CEST rules travels with the event."""
    calendar, _ = parsed(ics())
    zones = list(calendar.walk("VTIMEZONE"))
    assert [str(z["TZID"]) for z in zones] == [TZ]
    names = {str(part["TZNAME"]) for part in zones[0].subcomponents}
    assert {"CET", "CEST"} <= names


def test_organizer_and_attendee_are_mailto_addresses_with_names() -> None:
    """ORGANIZER and ATTENDEE are mailto addresses with CN; the attendee is asked to reply."""
    _, event = parsed(
        ics(attendees=[("kund@firma.se", "Karin Kund"), ("ekonomi@firma.se", "Ekonomi, Firma AB")])
    )
    organizer = event["ORGANIZER"]
    assert str(organizer) == "mailto:kickoff@assist.example"
    assert organizer.params["CN"] == "Assist Kick-off"
    attendees = event["ATTENDEE"]
    assert [str(a) for a in attendees] == ["mailto:kund@firma.se", "mailto:ekonomi@firma.se"]
    assert [a.params["CN"] for a in attendees] == ["Karin Kund", "Ekonomi, Firma AB"]
    for attendee in attendees:
        assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert attendee.params["RSVP"] == "TRUE"


def test_an_update_keeps_the_uid_with_a_higher_sequence() -> None:
    """A moved meeting is a REQUEST with the same UID, a higher SEQUENCE and the new time."""
    _, first = parsed(ics(sequence=0))
    moved_to = datetime(2027, 4, 2, 13, 0, tzinfo=STOCKHOLM)
    _, update = parsed(ics(moved_to, sequence=1, stamp=STAMP + timedelta(days=1)))
    assert str(update["UID"]) == str(first["UID"])
    assert int(update["SEQUENCE"]) > int(first["SEQUENCE"])
    assert update.decoded("DTSTART") == moved_to


def test_a_cancellation_has_the_same_uid_and_status_cancelled() -> None:
    """A CANCEL names the same UID, a higher SEQUENCE and STATUS:CANCELLED."""
    calendar, event = parsed(ics(method="CANCEL", sequence=2))
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["UID"]) == UID
    assert int(event["SEQUENCE"]) == 2
    assert str(event["STATUS"]) == "CANCELLED"


def test_no_location_or_description_leaves_them_out() -> None:
    """Without a location or description the event has neither property."""
    _, event = parsed(ics(location=None, description=None))
    assert "LOCATION" not in event
    assert "DESCRIPTION" not in event


def test_the_same_input_gives_the_same_text() -> None:
    """The invitation is a pure function of its input (no random UID or clock inside)."""
    assert ics() == ics()


def test_naive_or_reversed_times_are_refused() -> None:
    """A naive time or an end before the start raises instead of writing a wrong invitation."""
    with pytest.raises(ValueError, match="timezone-aware"):
        ics(datetime(2027, 3, 29, 9, 0))
    with pytest.raises(ValueError, match="ends after"):
        ics(end=datetime(2027, 3, 29, 8, 0, tzinfo=STOCKHOLM))
