"""The customer's page through the real app, worker and SMTP: from the welcome mail's link to a
booked kick-off, and what each bad request gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import icalendar

from kickoff.customer.links import CustomerLinks
from kickoff.db import Database
from tests.api.conftest import Kickoff, templates
from tests.customer_support import csrf_of, slots_of, text_of, token_in
from tests.support import eventually


async def _welcome_token(kickoff: Kickoff, oid: str) -> str:
    mails = [m for m in kickoff.smtp.for_onboarding(oid) if str(m["Subject"]).startswith("Välkommen")]
    assert len(mails) == 1
    return token_in(mails[0])


async def _booking_mails(kickoff: Kickoff, oid: str, prefix: str, count: int = 2) -> list[EmailMessage]:
    def found() -> list[EmailMessage]:
        return [m for m in kickoff.smtp.for_onboarding(oid) if str(m["Subject"]).startswith(prefix)]

    async def probe() -> list[EmailMessage]:
        return found()

    return await eventually(probe, lambda mails: len(mails) >= count)


def _calendar(message: EmailMessage) -> Any:
    """The invitation a mail carries, parsed (typed loosely: icalendar's values are unions)."""
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    payload: Any = part.get_payload(decode=True)
    return icalendar.Calendar.from_ical(payload)


async def test_the_welcome_mail_links_to_a_page_in_the_customers_language(kickoff: Kickoff) -> None:
    """The welcome mail carries the personal link; it opens the plan, contacts and free times in Swedish."""
    oid = await kickoff.start()
    token = await _welcome_token(kickoff, oid)
    page = await kickoff.http.get(f"/c/{token}")
    assert page.status_code == 200
    assert '<html lang="sv">' in page.text
    for words in (
        "Er plan",
        "Välkommen – boka ert uppstartsmöte",
        "Boka ert uppstartsmöte",
        "Onboardingteamet",
    ):
        assert words in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert slots_of(page), "no free times offered"
    # Nothing internal: no staff task titles, no notes.
    assert "Kontrollera huvudanvändare" not in page.text
    assert "Ny kund" not in page.text


async def test_the_customers_booking_closes_the_onboarding_and_mails_invitations(kickoff: Kickoff) -> None:
    """Booking a slot sends the booking event as the customer: the run closes, the team is mailed,
    and the customer and the team each get an invitation."""
    oid = await kickoff.start()
    token = await _welcome_token(kickoff, oid)
    page = await kickoff.http.get(f"/c/{token}")
    start = slots_of(page)[0]
    answer = await kickoff.http.post(f"/c/{token}/booking", data={"start": start, "csrf": csrf_of(page)})
    assert answer.status_code == 303
    state = await kickoff.until(oid, lambda s: s["stage"] == "closed" and "kickoff_booked" in templates(s))
    booked = [e for e in state["timeline"] if e["event"] == "meeting_booked"]
    assert booked
    assert booked[0]["by"] == "customer"
    mails = await _booking_mails(kickoff, oid, "Bokat:")
    customer = str(kickoff.mails(oid, "welcome")[0]["To"])
    assert sorted(str(m["To"]) for m in mails) == sorted([customer, "onboarding-team@assist.example"])
    # The customer's mail links to their page; the team's carries no customer link.
    by_to = {str(m["To"]): m for m in mails}
    assert token_in(by_to[customer]) == token
    assert "/c/" not in text_of(by_to["onboarding-team@assist.example"])
    for mail in mails:
        calendar = _calendar(mail)
        assert calendar["METHOD"] == "REQUEST"
        event = calendar.walk("VEVENT")[0]
        assert event["DTSTART"].dt == datetime.fromisoformat(start)
        assert event["DTSTART"].params["TZID"] == "Europe/Stockholm"
    shown = await kickoff.http.get(f"/c/{token}?done=booked")
    assert "Bokat" in shown.text
    assert 'id="cancel"' in shown.text


async def test_moving_and_cancelling_keep_the_invitations_uid(kickoff: Kickoff) -> None:
    """A moved meeting sends an update with the same UID and a higher SEQUENCE; a cancel sends
    METHOD:CANCEL and restarts onboarding."""
    oid = await kickoff.start()
    token = await _welcome_token(kickoff, oid)
    page = await kickoff.http.get(f"/c/{token}")
    first, second = slots_of(page)[0], slots_of(page)[1]
    await kickoff.http.post(f"/c/{token}/booking", data={"start": first, "csrf": csrf_of(page)})
    await kickoff.until(oid, lambda s: s["awaiting_outcome"])
    booked = _calendar((await _booking_mails(kickoff, oid, "Bokat:"))[0]).walk("VEVENT")[0]
    moved_answer = await kickoff.http.post(
        f"/c/{token}/booking", data={"start": second, "csrf": csrf_of(page)}
    )
    assert moved_answer.status_code == 303
    moved = _calendar((await _booking_mails(kickoff, oid, "Ny tid:"))[0]).walk("VEVENT")[0]
    assert moved["UID"] == booked["UID"]
    assert moved["SEQUENCE"] > booked["SEQUENCE"]
    assert moved["DTSTART"].dt == datetime.fromisoformat(second)
    cancelled_answer = await kickoff.http.post(f"/c/{token}/booking/cancel", data={"csrf": csrf_of(page)})
    assert cancelled_answer.status_code == 303
    cancel_mail = _calendar((await _booking_mails(kickoff, oid, "Avbokat:"))[0])
    assert cancel_mail["METHOD"] == "CANCEL"
    event = cancel_mail.walk("VEVENT")[0]
    assert event["UID"] == booked["UID"]
    assert event["SEQUENCE"] > moved["SEQUENCE"]
    assert event["STATUS"] == "CANCELLED"
    # "Uppstartsmöte av/ombokas": onboarding restarts, and the customer can book again.
    restarted = await kickoff.until(oid, lambda s: s["cycle"] == 2 and s["stage"] == "onboarding")
    assert restarted["status"] == "running"
    again = await kickoff.http.get(f"/c/{token}")
    assert slots_of(again)


async def test_bad_requests_get_clear_answers_and_change_nothing(kickoff: Kickoff) -> None:
    """Unknown link 404, bad form token 403, a time not offered or past 422; the run stays where it was."""
    oid = await kickoff.start()
    token = await _welcome_token(kickoff, oid)
    page = await kickoff.http.get(f"/c/{token}")
    csrf = csrf_of(page)
    unknown = await kickoff.http.get("/c/" + "A" * 43)
    assert unknown.status_code == 404
    assert "Vi känner inte igen" not in unknown.text
    assert (await kickoff.http.get("/c/short")).status_code == 404
    start = slots_of(page)[0]
    forged = await kickoff.http.post(f"/c/{token}/booking", data={"start": start, "csrf": "0" * 64})
    assert forged.status_code == 403
    at_night = datetime.fromisoformat(start).replace(hour=3, minute=7)
    odd = await kickoff.http.post(f"/c/{token}/booking", data={"start": at_night.isoformat(), "csrf": csrf})
    assert odd.status_code == 422
    assert "erbjudna tiderna" in odd.text
    past = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    gone = await kickoff.http.post(f"/c/{token}/booking", data={"start": past, "csrf": csrf})
    assert gone.status_code == 422
    assert "passerat" in gone.text
    garbage = await kickoff.http.post(f"/c/{token}/booking", data={"start": "tomorrow", "csrf": csrf})
    assert garbage.status_code == 422
    item = await kickoff.http.post(f"/c/{token}/items/nope", data={"csrf": csrf})
    assert item.status_code == 404
    state = await kickoff.state(oid)
    assert state["stage"] == "onboarding"
    assert not any(e["event"] == "meeting_booked" for e in state["timeline"])


async def test_a_revoked_link_says_how_to_get_a_new_one(kickoff: Kickoff) -> None:
    """A revoked link answers 410 with the team's address; the next link made works."""
    oid = await kickoff.start()
    token = await _welcome_token(kickoff, oid)
    links = CustomerLinks(Database(kickoff.api.settings.database_url), None)
    assert await links.revoke(oid, "test")
    revoked = await kickoff.http.get(f"/c/{token}")
    assert revoked.status_code == 410
    assert "onboarding-team@assist.example" in revoked.text
    assert "Er plan" not in revoked.text
