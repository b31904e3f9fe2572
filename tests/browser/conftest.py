"""A real browser on the board: Debian's chromium driven by Playwright (never a downloaded browser).

One browser and one board server for the session; each test gets a fresh browser context
(its own cookies), so tests do not share a sign-in. Screenshots of every step are kept under
test-artifacts/browser/ at the repository root.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from temporalio.client import Client

from kickoff.mailcatcher import MailCatcher
from tests.accounts import PASSWORD, STAFF, StaffAccount
from tests.board.support import BoardServer, served_board
from tests.support import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
# Board pages read every run's state from Temporal: allow for a busy machine.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
async def browser_board(
    dev_server: Client, smtp: MailCatcher, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BoardServer]:
    """The board with its production cookie settings: Secure is kept, since Chromium treats
    http://127.0.0.1 as a secure context and sends Secure cookies back to it."""
    async with served_board(dev_server, smtp, tmp_path_factory.mktemp("browser-board")) as server:
        yield server


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (no browser is downloaded)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@dataclass
class Shots:
    """Numbered full-page screenshots of one test's steps."""

    page: Page
    prefix: str
    taken: int = 0

    async def __call__(self, step: str) -> Path:
        self.taken += 1
        path = ARTIFACTS / f"{self.prefix}-{self.taken:02d}-{step}.png"
        await self.page.screenshot(path=path, full_page=True)
        return path


@pytest.fixture
async def page(browser: Browser, browser_board: BoardServer) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) on the board's address, laptop-sized."""
    context = await browser.new_context(
        base_url=browser_board.base_url, viewport={"width": 1440, "height": 900}
    )
    new_page = await context.new_page()
    yield new_page
    await context.close()


@pytest.fixture
def shot(page: Page, request: pytest.FixtureRequest) -> Shots:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = re.sub(r"[^a-z0-9_-]+", "-", request.node.name.lower()).strip("-")
    for old in ARTIFACTS.glob(f"{prefix}-*.png"):
        old.unlink()
    return Shots(page, prefix)


async def sign_in(page: Page, next_path: str = "/board", account: StaffAccount = STAFF) -> None:
    """Sign in through the form as ``account``, the way staff do, and land on ``next_path``."""
    await page.goto(next_path)
    await expect(page.get_by_role("heading", name="Sign in to the Kickoff board")).to_be_visible()
    await page.get_by_label("E-mail address").fill(account.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
