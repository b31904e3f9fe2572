"""One board server for the module tests here (plain HTTP, so the cookie goes without Secure)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client

from kickoff.mailcatcher import MailCatcher
from tests.board.support import BoardServer, served_board, signed_in_client


@pytest.fixture(scope="session")
async def board(
    dev_server: Client, smtp: MailCatcher, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BoardServer]:
    """The app and a worker on a task queue of their own, for the whole session; httpx over
    plain HTTP would not send a Secure cookie back, so this one is sent without the flag
    (``test_session_cookie_is_secure_and_http_only`` checks the flag where it is on)."""
    async with served_board(
        dev_server, smtp, tmp_path_factory.mktemp("board"), session_cookie_secure=False
    ) as server:
        yield server


@pytest.fixture
async def staff(board: BoardServer) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in staff member's HTTP client (cookies kept, redirects not followed)."""
    async with signed_in_client(board.base_url) as http:
        yield http
