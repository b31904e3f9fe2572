"""The board's session cookie, checked without a server: what it carries and when it stops counting."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import Request, Response
from pydantic import SecretStr

from kickoff.board import auth
from kickoff.settings import Settings


def _settings(*keys: str, signed_with: str = "s3cret") -> Settings:
    return Settings(api_keys=[SecretStr(k) for k in keys], session_secret=SecretStr(signed_with))


def _issued(settings: Settings, key: str) -> str:
    """The session cookie value a sign-in with ``key`` sets."""
    response = Response()
    auth.start_session(response, settings, key, "Anna")
    [cookie] = [v for k, v in response.raw_headers if k == b"set-cookie" and v.startswith(b"kickoff_board=")]
    return cookie.decode().split(";")[0].split("=", 1)[1]


def _request(cookie: str | None) -> Request:
    headers = [(b"cookie", f"{auth.SESSION_COOKIE}={cookie}".encode())] if cookie else []
    return Request(
        {"type": "http", "method": "GET", "path": "/board", "headers": headers, "query_string": b""}
    )


def test_the_session_cookie_does_not_carry_the_api_key() -> None:
    """The cookie is signed, not encrypted: it names the key by a keyed fingerprint only."""
    settings = _settings("the-real-key")
    value = _issued(settings, "the-real-key")
    assert "the-real-key" not in value
    session = auth.read_session(_request(value), settings)
    assert session is not None
    assert session.name == "Anna"
    assert len(session.csrf) >= 32


def test_a_session_ends_when_its_key_is_removed() -> None:
    """Removing a key from KICKOFF_API_KEYS signs out everyone who signed in with it."""
    value = _issued(_settings("old-key", "other-key"), "old-key")
    assert auth.read_session(_request(value), _settings("other-key")) is None


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"), id="tampered-signature"),
        pytest.param(lambda v: "x" + v, id="tampered-payload"),
        pytest.param(lambda v: "", id="empty"),
    ],
)
def test_a_tampered_cookie_is_no_session(mangle: Callable[[str], str]) -> None:
    """Only a cookie this server signed counts."""
    settings = _settings("k")
    value = _issued(settings, "k")
    assert auth.read_session(_request(mangle(value)), settings) is None


def test_a_cookie_signed_with_another_secret_is_no_session() -> None:
    """Rotating KICKOFF_SESSION_SECRET ends every session."""
    value = _issued(_settings("k", signed_with="old"), "k")
    assert auth.read_session(_request(value), _settings("k", signed_with="new")) is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/board/tasks?owner_role=staff", "/board/tasks?owner_role=staff"),
        ("/board/onboardings/SE-C-1", "/board/onboardings/SE-C-1"),
        ("https://evil.example/board", "/board"),
        ("//evil.example/board", "/board"),
        ("/\\evil.example", "/board"),
        ("/docs", "/board"),
        ("/board\r\nSet-Cookie: x=1", "/board"),
        (None, "/board"),
    ],
)
def test_next_after_sign_in_stays_on_the_board(target: str | None, expected: str) -> None:
    """A crafted ``next`` cannot send a freshly signed-in user to another site."""
    assert auth.safe_next(target) == expected
