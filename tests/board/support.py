"""The board served over real HTTP with its own worker, and helpers to start onboardings and read pages.

Shared by tests/board (httpx) and tests/browser (Playwright).
"""

from __future__ import annotations

import contextlib
import html
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from kickoff.api import create_app
from kickoff.mailcatcher import MailCatcher
from kickoff.worker import create_worker
from tests.accounts import PASSWORD, STAFF, StaffAccount
from tests.conftest import Api, api_settings, serve_app
from tests.support import contract_payload, eventually, local_today

# A month before today, so a run moves to `onboarding` (welcome mail, welcome call task) at once.
PAST_DELIVERY = (local_today() - timedelta(days=30)).isoformat()
# Half a year ahead, so a run waits in `new` (the only stage where the delivery start can be amended).
FUTURE_DELIVERY = (local_today() + timedelta(days=180)).isoformat()
# A month later still: where an amendment moves that delivery start.
LATER_DELIVERY = (local_today() + timedelta(days=210)).isoformat()

State = dict[str, Any]


@dataclass
class BoardServer:
    """The app (API + board) on loopback, a worker on its own task queue, and the runs started."""

    api: Api
    base_url: str
    started: list[str] = field(default_factory=list)

    async def start(self, *, delivery_start: str = PAST_DELIVERY, **overrides: Any) -> str:
        """POST a signed contract; wait until the run has done what entering its stage does
        (an assist-se run with a past delivery start: onboarding begun, welcome mail sent)."""
        response = await self.api.post_contract(contract_payload(delivery_start=delivery_start, **overrides))
        assert response.status_code == 202, response.text
        oid: str = response.json()["id"]
        self.started.append(oid)
        if overrides.get("pipeline", "assist-se") != "assist-se":
            await self.until(oid, lambda s: bool(s["emails"]) and bool(s["tasks"]))
        elif delivery_start == PAST_DELIVERY:
            await self.until(oid, lambda s: s["stage"] == "onboarding" and bool(s["emails"]))
        else:
            await self.until(oid, lambda s: len(s["tasks"]) >= 2)
        return oid

    async def state(self, oid: str) -> State:
        return await self.api.onboarding(oid)

    async def until(self, oid: str, check: Callable[[State], bool], within: float = 15) -> State:
        return await eventually(lambda: self.state(oid), check, within=within)

    async def terminate_started(self) -> None:
        for oid in self.started:
            with contextlib.suppress(RPCError):  # completed already
                await self.api.client.get_workflow_handle(oid).terminate(reason="test finished")
        self.started.clear()


@asynccontextmanager
async def served_board(
    client: Client, smtp: MailCatcher, tmp_path: Path, **overrides: Any
) -> AsyncIterator[BoardServer]:
    """Like ``shared_api`` in tests/api, on a task queue of its own (so the board shows only
    this server's onboardings); ``overrides`` go to the settings (e.g. the cookie's Secure flag)."""
    settings = api_settings(f"board-{uuid.uuid4().hex}", tmp_path, smtp, **overrides)
    async with (
        create_worker(client, settings),
        serve_app(create_app(client=client, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        server = BoardServer(Api(http=http, settings=settings, client=client), base_url)
        try:
            yield server
        finally:
            await server.terminate_started()


# ---------------------------------------------------------------- reading pages

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_token(page: str) -> str:
    """The CSRF token in a page's forms (every form of a page carries the same one)."""
    found = _CSRF.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def text_of(page: str) -> str:
    """The page's text without tags, entities decoded, whitespace collapsed: what a reader sees."""
    without_tags = re.sub(r"<[^>]+>", " ", page)
    return " ".join(html.unescape(without_tags).split())


def alert(page: str) -> str | None:
    """The text of the page's alert (an error shown to the user), if any."""
    found = re.search(r'role="alert">(.*?)</div>', page, re.S)
    return html.unescape(found.group(1)).strip() if found else None


def column_counts(page: str) -> dict[str, int]:
    """Board columns: stage id -> the count the column shows."""
    return {
        stage: int(count)
        for stage, count in re.findall(
            r'<section class="column" data-stage="([^"]+)" data-count="(\d+)"', page
        )
    }


def column_cards(page: str, stage: str) -> list[str]:
    """The onboarding ids of the cards in one column."""
    found = re.search(rf'data-stage="{re.escape(stage)}".*?</section>', page, re.S)
    assert found, f"no column {stage}"
    return re.findall(r'<li class="card[^"]*" data-id="([^"]+)"', found.group(0))


@asynccontextmanager
async def signed_in_client(base_url: str, account: StaffAccount = STAFF) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with a board session of ``account`` (one of tests/accounts.py): cookies
    kept, redirects not followed."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        await sign_in(http, account)
        yield http


async def sign_in(
    http: httpx.AsyncClient, account: StaffAccount = STAFF, password: str = PASSWORD
) -> httpx.Response:
    """Post the sign-in form as ``account``; asserts it worked (303 to the board)."""
    form = await http.get("/board/sign-in")
    response = await http.post(
        "/board/sign-in",
        data={"csrf_token": csrf_token(form.text), "email": account.email, "password": password},
    )
    assert response.status_code == 303, response.text
    return response
