"""Erasing an onboarding's personal data from its page, in a real browser."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.accounts import ADMIN
from tests.board.support import BoardServer
from tests.browser.conftest import Shots, sign_in


async def test_erasing_from_the_onboarding_page_shows_what_is_kept(
    page: Page, shot: Shots, browser_board: BoardServer
) -> None:
    """The form needs the confirmation ticked (the browser refuses without it); once erased the
    page says so, keeps the stages, and shows neither the customer nor any action."""
    oid = await browser_board.start(customer={"name": "Raderas Snart AB"})
    await sign_in(page, f"/board/onboardings/{oid}", ADMIN)  # erasure is an admin's
    form = page.locator("#erase")
    await form.get_by_label("Reason").select_option("request")
    await form.scroll_into_view_if_needed()
    await shot("erase-form")
    await form.get_by_role("button", name="Erase personal data").click()
    await expect(page.get_by_role("heading", name=re.compile("Raderas Snart AB"), level=1)).to_be_visible()

    await form.get_by_label(re.compile("I confirm: erase the personal data")).check()
    await form.get_by_role("button", name="Erase personal data").click()

    await expect(page.get_by_role("status")).to_have_text("Personal data erased.")
    await expect(
        page.get_by_role("heading", name=re.compile(f"{oid} personal data erased"), level=1)
    ).to_be_visible()
    await expect(page.locator("main")).not_to_contain_text("Raderas Snart AB")
    await expect(page.locator("main form")).to_have_count(0)
    await expect(page.locator("main")).to_contain_text("Onboarding – Pågår")
    await shot("erased")
