"""Signing in to the board with an account's e-mail address and password, over real HTTP:
refusals, lockout, throttling, server-side sessions that end at once."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from kickoff.db import Database
from kickoff.identity import AccountStore
from kickoff.identity.sessions import SessionStore
from kickoff.mailcatcher import MailCatcher
from tests.accounts import ADMIN, PASSWORD, STAFF, VIEWER
from tests.board.support import BoardServer, alert, csrf_token, served_board, signed_in_client

PAGES = ["/board", "/board?pipeline=pakkepilot-no", "/board/tasks", "/board/onboardings/SE-C-anything"]


def _session_cookies(response: httpx.Response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith("kickoff_board=")]


async def _sign_in(http: httpx.AsyncClient, email: str, password: str, **extra: str) -> httpx.Response:
    form = await http.get("/board/sign-in")
    assert form.status_code == 200
    return await http.post(
        "/board/sign-in",
        data={"csrf_token": csrf_token(form.text), "email": email, "password": password, **extra},
    )


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param(STAFF.email, "not the password", id="wrong-password"),
        pytest.param("nobody@assist.example", PASSWORD, id="unknown-address"),
        pytest.param("", "", id="empty"),
    ],
)
async def test_a_wrong_address_or_password_is_refused_with_a_message_and_no_cookie(
    dev_server: Client, smtp: MailCatcher, tmp_path: Path, email: str, password: str
) -> None:
    """401, the form again with the same reason whichever was wrong, no session, board closed."""
    async with (
        served_board(dev_server, smtp, tmp_path, session_cookie_secure=False) as srv,
        httpx.AsyncClient(base_url=srv.base_url) as http,
    ):
        response = await _sign_in(http, email, password)
        assert response.status_code == 401
        assert alert(response.text) == "That e-mail address and password do not match an account."
        assert 'name="password"' in response.text
        assert _session_cookies(response) == []
        assert (await http.get("/board")).status_code == 303


async def test_repeated_wrong_passwords_lock_the_account_then_throttle_the_address(
    dev_server: Client, smtp: MailCatcher, tmp_path: Path
) -> None:
    """Five wrong passwords in a row lock the account: the sixth attempt, even with the right
    password, gets 429 with Retry-After and no session. Ten failures from one address within a
    minute throttle that address whatever account it tries."""
    async with (
        served_board(
            dev_server, smtp, tmp_path, session_cookie_secure=False, auth_failures_per_minute=10
        ) as srv,
        httpx.AsyncClient(base_url=srv.base_url) as http,
    ):
        for _ in range(5):
            assert (await _sign_in(http, STAFF.email, "wrong password")).status_code == 401
        locked = await _sign_in(http, STAFF.email, PASSWORD)
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["retry-after"]) <= 60
        assert "Too many failed sign-ins" in (alert(locked.text) or "")
        assert _session_cookies(locked) == []
        # Another account is not locked, but the address has now failed six times.
        for _ in range(4):
            assert (await _sign_in(http, VIEWER.email, "wrong password")).status_code == 401
        throttled = await _sign_in(http, ADMIN.email, PASSWORD)
        assert throttled.status_code == 429
        assert "from your address" in (alert(throttled.text) or "")
        assert _session_cookies(throttled) == []


@pytest.mark.parametrize("path", PAGES)
async def test_pages_redirect_to_sign_in_when_signed_out(board: BoardServer, path: str) -> None:
    """Every board page sends a visitor without a session to the sign-in page, and back after it."""
    async with httpx.AsyncClient(base_url=board.base_url) as http:
        response = await http.get(path)
        assert response.status_code == 303
        location = response.headers["location"]
        assert location.startswith("/board/sign-in")
        if path != "/board":
            assert httpx.URL(location).params["next"] == path
            signed_in = await _sign_in(http, STAFF.email, PASSWORD, next=path)
            assert signed_in.headers["location"] == path


async def test_root_leads_to_the_board(board: BoardServer) -> None:
    """``/`` redirects to the board (which asks a visitor to sign in)."""
    async with httpx.AsyncClient(base_url=board.base_url) as http:
        response = await http.get("/")
        assert (response.status_code, response.headers["location"]) == (303, "/board")


async def test_an_account_signs_in_and_its_name_is_shown(board: BoardServer) -> None:
    """The right address (in any case) and password open the board; the header names the account."""
    async with httpx.AsyncClient(base_url=board.base_url) as http:
        response = await _sign_in(http, ADMIN.email.upper(), PASSWORD)
        assert response.status_code == 303
        page = await http.get("/board")
        assert page.status_code == 200
        assert f"Signed in as {ADMIN.name}" in page.text


async def test_the_sign_in_form_needs_its_own_token(board: BoardServer) -> None:
    """Login CSRF: a sign-in post without the form's token (a foreign page) signs nobody in."""
    async with httpx.AsyncClient(base_url=board.base_url) as http:
        credentials = {"email": STAFF.email, "password": PASSWORD}
        response = await http.post("/board/sign-in", data=credentials)
        assert response.status_code == 403
        assert _session_cookies(response) == []
        await http.get("/board/sign-in")  # now the browser holds the cookie half, but not the form half
        response = await http.post("/board/sign-in", data={**credentials, "csrf_token": "guessed"})
        assert response.status_code == 403
        assert _session_cookies(response) == []


async def test_sign_out_ends_the_session_on_the_server(board: BoardServer) -> None:
    """After signing out the old cookie, sent again as it was, opens nothing: the session is
    ended in the database, not just forgotten by this browser."""
    async with signed_in_client(board.base_url) as http:
        page = await http.get("/board")
        cookie = http.cookies["kickoff_board"]
        response = await http.post("/board/sign-out", data={"csrf_token": csrf_token(page.text)})
        assert (response.status_code, response.headers["location"]) == (303, "/board/sign-in")
        assert (await http.get("/board")).status_code == 303
        signed_out = await http.get("/board/sign-in")
        assert "You are signed out." in signed_out.text
    async with httpx.AsyncClient(base_url=board.base_url, cookies={"kickoff_board": cookie}) as replay:
        assert (await replay.get("/board")).status_code == 303


async def test_disabling_an_account_ends_its_sessions_at_once(board: BoardServer) -> None:
    """An admin disables an account: its next request is signed out; enabled again, it must sign
    in anew only if its sessions were ended."""
    database = Database(board.api.settings.database_url)
    accounts = AccountStore(database)
    advisor = await accounts.create("temp.staff@assist.example", "staff", "Tillfällig", PASSWORD)
    try:
        async with httpx.AsyncClient(base_url=board.base_url) as http:
            assert (await _sign_in(http, advisor.email, PASSWORD)).status_code == 303
            assert (await http.get("/board")).status_code == 200
            await accounts.set_disabled(advisor.id, True)
            assert (await http.get("/board")).status_code == 303
            refused = await _sign_in(http, advisor.email, PASSWORD)
            assert refused.status_code == 401
            assert alert(refused.text) == "This account is disabled: ask an admin."
            await accounts.set_disabled(advisor.id, False)
            assert await SessionStore(database).end_all(advisor.id) == 1
            assert (await http.get("/board")).status_code == 303
            assert (await _sign_in(http, advisor.email, PASSWORD)).status_code == 303
            assert (await http.get("/board")).status_code == 200
    finally:
        await database.dispose()


async def test_the_session_cookie_is_secure_http_only_and_same_site(
    dev_server: Client, smtp: MailCatcher, tmp_path: Path
) -> None:
    """With the production setting the cookie is Secure, HttpOnly, SameSite=Lax, scoped to /board,
    and lives KICKOFF_SESSION_MAX_AGE_SECONDS."""
    async with (
        served_board(
            dev_server, smtp, tmp_path, session_cookie_secure=True, session_max_age_seconds=1800
        ) as srv,
        httpx.AsyncClient(base_url=srv.base_url) as http,
    ):
        form = await http.get("/board/sign-in")
        # httpx keeps Secure cookies for https only: hand the sign-in form's cookie back by hand.
        [sign_in_cookie] = [
            c for c in form.headers.get_list("set-cookie") if c.startswith("kickoff_board_sign_in=")
        ]
        assert "Secure" in sign_in_cookie
        response = await http.post(
            "/board/sign-in",
            data={"csrf_token": csrf_token(form.text), "email": STAFF.email, "password": PASSWORD},
            headers={"Cookie": sign_in_cookie.split(";")[0]},
        )
        assert response.status_code == 303
        [cookie] = _session_cookies(response)
        attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite", "path", "max-age"} <= attributes.keys()
        assert attributes["samesite"].lower() == "samesite=lax"
        assert attributes["path"] == "Path=/board"
        assert attributes["max-age"] == "Max-Age=1800"


async def test_board_pages_are_neither_cached_nor_framed(staff: httpx.AsyncClient) -> None:
    """Pages with customers' data are not stored by caches, cannot be framed, and run no script."""
    response = await staff.get("/board/tasks")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # no script source at all
    stylesheet = await staff.get("/board/static/board.css")
    assert stylesheet.status_code == 200
    assert stylesheet.headers["content-type"].startswith("text/css")
