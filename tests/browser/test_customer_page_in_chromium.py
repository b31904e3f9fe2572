"""The customer's page in a real browser: from the welcome mail's link to a booked kick-off (on a
laptop and a phone), two customers after the last place at one time, and a customer marking
their own to-dos done; what they did then shows on the board.

Every date is computed from now: the runs start with a delivery start a month ago (the welcome
mail goes out at once) and book the first time their page offers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Page, expect

from kickoff.mailcatcher import MailCatcher
from tests.board.support import BoardServer
from tests.browser.conftest import Shots, sign_in
from tests.browser.customer_support import (
    DESKTOP,
    NO_BOOKED_FLASH,
    PHONE,
    customer_browser,
    flash_of,
    link_path,
    mails_of,
    page_width,
    said_date,
    said_moment,
    snap,
)

STOCKHOLM, OSLO = "Europe/Stockholm", "Europe/Oslo"
ASSIST_TEAM = "onboarding-team@assist.example"
SWEDISH_WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
SWEDISH_MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)
SLOT = "#slots button[data-start]"


def board_time(moment: datetime, tz: str) -> str:
    """How the board writes a moment (``2026-03-30 10:00 CEST``)."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


async def start_of(customer: Page) -> datetime:
    """The start of the first free time the customer's page offers, as its button carries it."""
    value = await customer.locator(SLOT).first.get_attribute("data-start")
    assert value, "the slot button carries no start"
    return datetime.fromisoformat(value)


async def start_pakkepilot(board: BoardServer, name: str) -> str:
    return await board.start(pipeline="pakkepilot-no", language="nb", customer={"name": name})


async def test_an_assist_customer_books_the_kickoff_from_the_welcome_mail(
    page: Page, shot: Shots, browser: Browser, browser_board: BoardServer, smtp: MailCatcher
) -> None:
    """The welcome mail's link opens the plan in Swedish on a laptop and a phone; the first time
    booked there closes the onboarding, mails the team and both invitations, and shows on the board."""
    oid = await browser_board.start(customer={"name": "Bokar Själv AB"})
    path = await link_path(smtp, oid, "Välkommen till Assist")
    state = await browser_board.state(oid)
    entered = datetime.fromisoformat(state["stage_entered_at"])
    entered_day = said_date(entered, STOCKHOLM, "sv")
    assert entered_day.split()[0] in SWEDISH_WEEKDAYS, entered_day
    assert any(month in entered_day for month in SWEDISH_MONTHS), entered_day

    async with customer_browser(browser, browser_board.base_url, DESKTOP) as desktop:
        await desktop.goto(path)
        await expect(desktop.locator("html")).to_have_attribute("lang", "sv")
        await expect(desktop.get_by_role("heading", name="Er onboarding", level=1)).to_be_visible()
        now_row = desktop.locator("#plan li.now")
        await expect(now_row).to_have_count(1)
        await expect(now_row.locator(".label")).to_have_text("Välkommen – boka ert uppstartsmöte")
        await expect(now_row).to_contain_text("· Nu")
        await expect(now_row.locator(".when")).to_have_text(said_moment(entered, STOCKHOLM, "sv"))
        await expect(now_row.locator(".when")).to_contain_text(entered_day)
        await expect(desktop.locator("#plan li.done")).to_contain_text("Avtal signerat")
        ahead = desktop.locator("#plan li.ahead")
        await expect(ahead).to_contain_text("Uppstartsmöte bokat")
        await expect(ahead).to_contain_text("Datum kommer")  # reached by the booking, not a date
        await expect(desktop.locator("#contacts")).to_contain_text("Onboardingteamet")
        await expect(desktop.locator(SLOT).first).to_be_visible()
        await snap(shot, desktop, "customer-desktop")

        async with customer_browser(browser, browser_board.base_url, PHONE) as phone:
            await phone.goto(path)
            await expect(phone.locator("#plan li.now")).to_contain_text(entered_day)
            await expect(phone.locator(SLOT).first).to_be_visible()
            assert await page_width(phone) <= 390, "the page scrolls sideways on a phone"
            await snap(shot, phone, "customer-phone")

        start = await start_of(desktop)
        # One business day's notice: never today (Stockholm's date).
        assert said_date(start, STOCKHOLM, "sv") != said_date(datetime.now(UTC), STOCKHOLM, "sv")
        await desktop.locator(SLOT).first.click()
        at = said_moment(start, STOCKHOLM, "sv")
        await expect(desktop.locator("#booked")).to_contain_text(f"Bokat {at}")
        await expect(desktop.locator("#cancel")).to_be_visible()
        flash, landed = await flash_of(desktop), desktop.url
        await snap(shot, desktop, "customer-booked")

    closed = await browser_board.until(oid, lambda s: s["stage"] == "closed", within=30)
    booked = [e for e in closed["timeline"] if e["event"] == "meeting_booked"]
    assert [e["by"] for e in booked] == ["customer"], closed["timeline"]
    [team] = await mails_of(smtp, oid, "Uppstartsmöte bokat")
    assert str(team["To"]) == ASSIST_TEAM
    invitations = await mails_of(smtp, oid, "Bokat:", count=2)
    customer_address = closed["main_user"]["email"]
    assert sorted(str(m["To"]) for m in invitations) == sorted([customer_address, ASSIST_TEAM])
    assert all(at in str(m["Subject"]) for m in invitations)

    await sign_in(page, f"/board/onboardings/{oid}")
    timeline = page.locator("ol.timeline li")
    event = timeline.filter(has=page.get_by_text("Uppstartsmöte bokat", exact=True))
    await expect(event).to_contain_text("by customer")
    action = timeline.filter(has_text="kick-off booked on the customer page")
    await expect(action).to_contain_text(f"{board_time(start, STOCKHOLM)} by customer")
    booking = page.locator('#customer-side li[data-booking-status="booked"]')
    await expect(booking).to_contain_text(board_time(start, STOCKHOLM))
    await expect(booking).to_contain_text("booked by the customer")
    await page.locator("ol.timeline").scroll_into_view_if_needed()
    await shot("board-onboarding")

    expected = f"Ert möte är bokat {at}. En inbjudan kommer med e-post."
    assert flash == [expected], f"{NO_BOOKED_FLASH} (landed on {landed}, flash {flash})"


async def test_two_customers_after_the_last_place_at_one_time(
    page: Page, shot: Shots, browser: Browser, browser_board: BoardServer, smtp: MailCatcher
) -> None:
    """PakkePilot takes one meeting per time: A books it, B (whose page showed it free) is refused
    in Norwegian with a 409 and has nothing booked."""
    first = await start_pakkepilot(browser_board, "Først Ute AS")
    second = await start_pakkepilot(browser_board, "Like Bak AS")
    first_path = await link_path(smtp, first, "Velkommen til PakkePilot")
    second_path = await link_path(smtp, second, "Velkommen til PakkePilot")
    base = browser_board.base_url
    async with (
        customer_browser(browser, base, DESKTOP) as customer_a,
        customer_browser(browser, base, PHONE) as customer_b,
    ):
        await customer_b.goto(second_path)  # B looks first, and waits
        await expect(customer_b.locator("html")).to_have_attribute("lang", "nb")
        await customer_a.goto(first_path)
        start = await start_of(customer_a)
        iso = start.isoformat()
        on_b = customer_b.locator(f'{SLOT}[data-start="{iso}"]')
        await expect(on_b).to_have_count(1)  # B was offered the same time

        await customer_a.locator(SLOT).first.click()
        at = said_moment(start, OSLO, "nb")
        await expect(customer_a.locator("#booked")).to_contain_text(f"Booket {at}")
        flash, landed = await flash_of(customer_a), customer_a.url
        await snap(shot, customer_a, "a-booked")

        async with customer_b.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/booking")
        ) as answered:
            await on_b.click()
        assert (await answered.value).status == 409
        await expect(customer_b.locator("#error")).to_have_text(
            "Noen andre booket nettopp den tiden. Velg en annen."
        )
        await expect(customer_b.locator("#booked")).to_have_count(0)
        await expect(customer_b.locator(f'{SLOT}[data-start="{iso}"]')).to_have_count(0)
        await expect(customer_b.locator(SLOT).first).to_be_visible()  # other times still offered
        await snap(shot, customer_b, "b-refused")

    winner = await browser_board.until(
        first, lambda s: any(e["event"] == "kickoff_booked" for e in s["timeline"]), within=30
    )
    assert [e["by"] for e in winner["timeline"] if e["event"] == "kickoff_booked"] == ["customer"]
    loser = await browser_board.state(second)
    assert not [e for e in loser["timeline"] if e["event"] == "kickoff_booked"], loser["timeline"]
    await mails_of(smtp, first, "Booket:", count=2)
    assert not [m for m in smtp.for_onboarding(second) if str(m["Subject"]).startswith("Booket:")]

    await sign_in(page, f"/board/onboardings/{second}")
    await expect(page.locator("#customer-side")).to_contain_text("Nothing booked on the customer page.")
    await shot("board-b-nothing-booked")

    expected = f"Møtet er booket {at}. En invitasjon kommer på e-post."
    assert flash == [expected], f"{NO_BOOKED_FLASH} (landed on {landed}, flash {flash})"


async def test_a_customer_marks_their_own_items_done_on_a_phone(
    page: Page, shot: Shots, browser: Browser, browser_board: BoardServer, smtp: MailCatcher
) -> None:
    """On a phone the customer marks one of their tasks and one checklist item done: the page,
    the run's state and the board say the customer did it."""
    oid = await start_pakkepilot(browser_board, "Ferdig Selv AS")
    path = await link_path(smtp, oid, "Velkommen til PakkePilot")
    state = await browser_board.state(oid)
    task = next(t for t in state["tasks"] if t["owner"] == "customer" and t["status"] == "open")
    item = next(i for i in state["checklist"] if i["owner"] == "customer" and i["ticked_at"] is None)

    async with customer_browser(browser, browser_board.base_url, PHONE) as phone:
        await phone.goto(path)
        row = phone.locator(f'#items li[data-item="{task["id"]}"]')
        await expect(row).to_have_class("open")
        await expect(row.locator(".label")).to_have_text(task["title"])
        await expect(row).to_contain_text("innen")  # its due date
        assert await page_width(phone) <= 390, "the page scrolls sideways on a phone"
        await snap(shot, phone, "items-open")
        await row.get_by_role("button", name="Merk som ferdig").tap()
        await expect(phone.locator("#flash")).to_have_text("Takk, merket som ferdig.")
        await expect(row).to_have_class("done")
        await expect(row.get_by_role("button")).to_have_count(0)
        await expect(row).to_contain_text(re.compile(r"Ferdig \w+ \d{1,2}\. \w+ \d{4}"))

        checklist_row = phone.locator(f'#items li[data-item="{item["id"]}"]')
        await checklist_row.get_by_role("button", name="Merk som ferdig").tap()
        await expect(phone.locator("#flash")).to_have_text("Takk, merket som ferdig.")
        await expect(checklist_row).to_have_class("done")
        await snap(shot, phone, "items-done")

    after = await browser_board.until(
        oid,
        lambda s: (
            any(t["id"] == task["id"] and t["status"] == "done" for t in s["tasks"])
            and any(i["id"] == item["id"] and i["ticked_at"] for i in s["checklist"])
        ),
    )
    [done] = [t for t in after["tasks"] if t["id"] == task["id"]]
    assert done["done_at"]
    # GET /onboardings/{id} does not say how a task was resolved: its timeline says who did it.
    assert {"event": "task_done", "detail": task["title"], "by": "customer"}.items() <= next(
        e for e in after["timeline"] if e["event"] == "task_done" and e["detail"] == task["title"]
    ).items()
    [ticked] = [i for i in after["checklist"] if i["id"] == item["id"]]
    assert ticked["ticked_by"] == "customer"

    await sign_in(page, f"/board/onboardings/{oid}")
    done_list = page.locator("details", has=page.locator("ul.task-list.done"))
    await done_list.locator("summary").click()
    done_task = done_list.locator("li", has_text=task["title"])
    await expect(done_task).to_contain_text("done by the customer")
    await expect(page.locator(f'ul.checklist li[data-item="{item["id"]}"]')).to_contain_text("by customer")
    await expect(page.locator("ol.timeline li", has_text="marked done on the customer page")).to_have_count(2)
    await done_list.scroll_into_view_if_needed()
    await shot("board-done-by-customer")
