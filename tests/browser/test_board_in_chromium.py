"""The board in a real browser: sign-in, the board with a card, actions, the task inbox, errors."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.accounts import STAFF
from tests.board.support import PAST_DELIVERY, BoardServer
from tests.browser.conftest import Shots, sign_in
from tests.support import days_ahead

NO_ANSWER = "Inget svar – försök till kontakt för onboarding"


async def test_a_wrong_password_is_refused_then_the_right_one_opens_the_board(
    page: Page, shot: Shots
) -> None:
    """The board sends a visitor to sign in; a wrong password is refused with a message, the
    right one opens it."""
    await page.goto("/board/tasks")
    await expect(page).to_have_url(re.compile(r"/board/sign-in\?next=%2Fboard%2Ftasks$"))
    await shot("sign-in-form")
    await page.get_by_label("E-mail address").fill(STAFF.email)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "That e-mail address and password do not match an account."
    )
    await shot("wrong-password")
    cookies = await page.context.cookies()
    assert "kickoff_board" not in {c["name"] for c in cookies}

    await sign_in(page, "/board/tasks")
    await expect(page.get_by_role("heading", name="Task inbox", level=1)).to_be_visible()
    [session] = [c for c in await page.context.cookies() if c["name"] == "kickoff_board"]
    assert (session["httpOnly"], session["secure"], session["sameSite"]) == (True, True, "Lax")
    await shot("signed-in")


async def test_the_board_shows_a_card_that_opens_its_onboarding(
    page: Page, shot: Shots, browser_board: BoardServer
) -> None:
    """A new onboarding appears as a card in its stage's column, with its count; the card opens it."""
    oid = await browser_board.start(customer={"name": "Kortet Testar AB"})
    await sign_in(page)
    column = page.locator('section.column[data-stage="onboarding"]')
    await expect(column.get_by_role("heading", name=re.compile("Onboarding – Pågår"))).to_be_visible()
    card = column.locator(f'li.card[data-id="{oid}"]')
    await expect(card).to_contain_text("Kortet Testar AB")
    await expect(card).to_contain_text("open tasks")
    await expect(card).to_contain_text("Next: day 3 call task")
    await expect(page.locator('figure[data-chart="funnel"]')).to_be_visible()
    await shot("board")
    await card.get_by_role("link", name="Kortet Testar AB").click()
    await expect(page).to_have_url(re.compile(f"/board/onboardings/{oid}$"))
    await expect(page.get_by_role("heading", name=re.compile("Kortet Testar AB"), level=1)).to_be_visible()
    await shot("onboarding")


async def test_logging_a_call_from_the_onboarding_page(
    page: Page, shot: Shots, browser_board: BoardServer
) -> None:
    """Fill in the call form, submit: a flash confirms it and the timeline shows the call."""
    oid = await browser_board.start()
    await sign_in(page, f"/board/onboardings/{oid}")
    form = page.locator("#event-call_logged")
    await form.get_by_label("Outcome").select_option("no_answer")
    await form.get_by_label("Note").fill("Röstbrevlåda, ringer igen i morgon")
    await shot("call-form-filled")
    await form.get_by_role("button", name="Samtal loggat").click()
    await expect(page.get_by_role("status")).to_have_text("Samtal loggat: done. Stage: Onboarding – Pågår.")
    call = page.locator("ol.timeline li", has_text="Samtal loggat")
    await expect(call).to_contain_text(NO_ANSWER)
    await expect(call).to_contain_text("Röstbrevlåda, ringer igen i morgon")
    await shot("call-logged")


async def test_booking_the_meeting_then_recording_the_outcome(
    page: Page, shot: Shots, browser_board: BoardServer
) -> None:
    """Book the kick-off with a local date and time; the page then asks for the outcome, which is recorded."""
    oid = await browser_board.start()
    await sign_in(page, f"/board/onboardings/{oid}")
    booking = page.locator("#event-meeting_booked")
    await booking.get_by_label("Meeting at").fill(days_ahead(3, 10).strftime("%Y-%m-%dT%H:%M"))
    await booking.get_by_label("Booked by").fill("Anna")
    await booking.get_by_role("button", name="Uppstartsmöte bokat").click()
    await expect(page.get_by_role("status")).to_have_text("Uppstartsmöte bokat: done. Stage: Avslutad.")
    await browser_board.until(oid, lambda s: s["stage"] == "closed" and bool(s["tasks"]))
    await page.reload()
    outcome = page.locator("#outcome")
    await expect(outcome.get_by_role("heading", name="Kick-off held: record the outcome")).to_be_visible()
    await shot("awaiting-outcome")
    await outcome.get_by_label("Customer segment").select_option("A")
    await outcome.get_by_label("Responsible advisor").select_option("Sara Lind")
    await outcome.get_by_role("button", name="Record completed kick-off").click()
    await expect(page.get_by_role("status")).to_have_text("Kick-off outcome recorded: Completed.")
    await expect(page.get_by_role("heading", name="Kick-off outcome")).to_be_visible()
    await expect(page.locator("p.outcome")).to_have_text("Completed · A-kund")
    await shot("outcome-recorded")


async def test_an_action_the_engine_refuses_shows_its_reason(
    page: Page, shot: Shots, browser_board: BoardServer
) -> None:
    """Parking until a day that has passed: the page shows the engine's reason and keeps the input."""
    oid = await browser_board.start()
    await sign_in(page, f"/board/onboardings/{oid}")
    park = page.locator("#event-park")
    await park.get_by_label("Reason").fill("Semester")
    await park.get_by_label("Until").fill(PAST_DELIVERY)
    await park.get_by_role("button", name="Parkerad för manuell uppföljning").click()
    await expect(page.get_by_role("alert")).to_contain_text(f"Not done: until {PAST_DELIVERY} is too early")
    await expect(page.locator("#event-park").get_by_label("Reason")).to_have_value("Semester")
    await shot("refused")
    assert (await browser_board.state(oid))["stage"] == "onboarding"


async def test_marking_a_task_done_in_the_inbox(page: Page, shot: Shots, browser_board: BoardServer) -> None:
    """The inbox lists the onboarding's open tasks; Mark done confirms and takes the task off the list."""
    oid = await browser_board.start()
    task = next(t for t in (await browser_board.state(oid))["tasks"] if t["kind"] == "call")
    await sign_in(page, "/board/tasks?owner_role=staff")
    row = page.locator(f'tr[data-task="{task["id"]}"]')
    await expect(row).to_contain_text(task["title"])
    await shot("inbox")
    await row.get_by_role("button", name=re.compile("^Mark done")).click()
    await expect(page.get_by_role("status")).to_have_text(f"Task done ({oid}).")
    await expect(page.locator(f'tr[data-task="{task["id"]}"]')).to_have_count(0)
    await expect(page.get_by_label("Owner role")).to_have_value("staff")
    await shot("task-done")
