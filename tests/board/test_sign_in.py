"""Signing in to the board with a staff API key, over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from kickoff.mailcatcher import MailCatcher
from tests.board.support import BoardServer, alert, csrf_token, served_board, signed_in_client
from tests.conftest import API_KEY

PAGES = ["/board", "/board?pipeline=pakkepilot-no", "/board/tasks", "/board/onboardings/SE-C-anything"]


def _session_cookies(response: httpx.Response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith("kickoff_board=")]


async def _sign_in(http: httpx.AsyncClient, key: str, **extra: str) -> httpx.Response:
    form = await http.get("/board/sign-in")
    assert form.status_code == 200
    return await http.post(
        "/board/sign-in", data={"csrf_token": csrf_token(form.text), "api_key": key, **extra}
    )


async def test_a_wrong_key_is_refused_with_a_message_and_no_cookie(board: BoardServer) -> None:
    """A wrong key re-renders the form (401) saying so, sets no session, and the board stays closed."""
    async with httpx.AsyncClient(base_url=board.base_url) as http:
        response = await _sign_in(http, "not-a-key")
        assert response.status_code == 401
        assert alert(response.text) == "That API key is not valid."
        assert 'name="api_key"' in response.text
        assert _session_cookies(response) == []
        assert (await http.get("/board")).status_code == 303


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
            signed_in = await _sign_in(http, API_KEY, next=path)
            assert signed_in.headers["location"] == path


async def test_root_leads_to_the_board(board: BoardServer) -> None:
    """``/`` redirects to the board (which asks a visitor to sign in)."""
    async with httpx.AsyncClient(base_url=board.base_url) as http:
        response = await http.get("/")
        assert (response.status_code, response.headers["location"]) == (303, "/board")


async def test_any_staff_key_signs_in_and_the_name_is_shown(board: BoardServer) -> None:
    """Each key of KICKOFF_API_KEYS opens the board; the optional name appears in the header."""
    async with signed_in_client(board.base_url, key="second-key", name="Sara Lind") as http:
        page = await http.get("/board")
        assert page.status_code == 200
        assert "Signed in as Sara Lind" in page.text


async def test_the_sign_in_form_needs_its_own_token(board: BoardServer) -> None:
    """Login CSRF: a sign-in post without the form's token (a foreign page) signs nobody in."""
    async with httpx.AsyncClient(base_url=board.base_url) as http:
        response = await http.post("/board/sign-in", data={"api_key": API_KEY})
        assert response.status_code == 403
        assert _session_cookies(response) == []
        await http.get("/board/sign-in")  # now the browser holds the cookie half, but not the form half
        response = await http.post("/board/sign-in", data={"api_key": API_KEY, "csrf_token": "guessed"})
        assert response.status_code == 403
        assert _session_cookies(response) == []


async def test_sign_out_ends_the_session(board: BoardServer) -> None:
    """After signing out (a POST with the CSRF token) the board asks for the key again."""
    async with signed_in_client(board.base_url) as http:
        page = await http.get("/board")
        response = await http.post("/board/sign-out", data={"csrf_token": csrf_token(page.text)})
        assert (response.status_code, response.headers["location"]) == (303, "/board/sign-in")
        assert (await http.get("/board")).status_code == 303
        signed_out = await http.get("/board/sign-in")
        assert "You are signed out." in signed_out.text


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
            data={"csrf_token": csrf_token(form.text), "api_key": API_KEY},
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
