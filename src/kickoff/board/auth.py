"""The board's sign-in session, CSRF tokens and flash messages, all in signed cookies.

The session cookie is scoped to ``/board`` so the JSON API (Bearer keys, no cookies) never
sees it. It is signed, not encrypted, so it holds no secret: instead of the API key it
carries a keyed fingerprint of it, and a session ends as soon as its key is removed from
KICKOFF_API_KEYS. Its lifetime is absolute: it is signed once, at sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Form, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from kickoff.context import Context
from kickoff.settings import Settings

COOKIE_PATH = "/board"
SESSION_COOKIE = "kickoff_board"
SIGN_IN_COOKIE = "kickoff_board_sign_in"
FLASH_COOKIE = "kickoff_board_flash"
SIGN_IN_MAX_AGE = 3600
"""How long a sign-in form stays valid (its CSRF token lives in a cookie of its own)."""
FLASH_MAX_AGE = 60
CSRF_FIELD = "csrf_token"

FlashLevel = Literal["ok", "error"]


class SignInRequiredError(Exception):
    """No valid session: the board answers with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRejectedError(Exception):
    """A POST whose CSRF token is missing or wrong: 403, nothing is done."""


@dataclass(frozen=True)
class Session:
    key_id: str
    csrf: str
    name: str | None


@dataclass(frozen=True)
class Flash:
    level: FlashLevel
    text: str


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    # One salt per cookie: a signed flash can never pass as a session, and so on.
    return URLSafeTimedSerializer(settings.session_secret.get_secret_value(), salt=f"kickoff-board-{purpose}")


def key_id(settings: Settings, key: str) -> str:
    """A keyed fingerprint of an API key: names the key in a cookie without revealing it."""
    secret = settings.session_secret.get_secret_value().encode()
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:32]


def matching_key(settings: Settings, offered: str) -> bool:
    """Whether ``offered`` is one of the staff API keys (constant time, every key compared)."""
    matches = [
        hmac.compare_digest(offered.encode(), key.get_secret_value().encode()) for key in settings.api_keys
    ]
    return any(matches)


def _set(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="lax",
    )


def _delete(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, secure=settings.session_cookie_secure, httponly=True, samesite="lax"
    )


# ---------------------------------------------------------------- session


def read_session(request: Request, settings: Settings) -> Session | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(settings, "session").loads(raw, max_age=settings.session_max_age_seconds)
    except BadSignature:  # also expired (SignatureExpired is a BadSignature)
        return None
    if not isinstance(data, dict):
        return None
    kid, csrf, name = data.get("k"), data.get("c"), data.get("n")
    if not isinstance(kid, str) or not isinstance(csrf, str) or not csrf:
        return None
    # A key removed from KICKOFF_API_KEYS ends every session signed in with it.
    if not any(hmac.compare_digest(kid, key_id(settings, k.get_secret_value())) for k in settings.api_keys):
        return None
    return Session(key_id=kid, csrf=csrf, name=name if isinstance(name, str) and name else None)


def start_session(response: Response, settings: Settings, key: str, name: str | None) -> None:
    data = {"k": key_id(settings, key), "c": secrets.token_urlsafe(32), "n": name}
    value = _serializer(settings, "session").dumps(data)
    _set(response, settings, SESSION_COOKIE, value, settings.session_max_age_seconds)
    _delete(response, settings, SIGN_IN_COOKIE)


def end_session(response: Response, settings: Settings) -> None:
    _delete(response, settings, SESSION_COOKIE)


def require_session(request: Request, context: Context) -> Session:
    """The signed-in session, or a redirect to the sign-in page (that comes back here after)."""
    session = read_session(request, context.settings)
    if session is None:
        target = request.url.path
        if request.method == "GET" and request.url.query:
            target += f"?{request.url.query}"
        raise SignInRequiredError(target if request.method == "GET" else "/board")
    return session


SignedIn = Annotated[Session, Depends(require_session)]


def require_csrf(
    session: SignedIn, csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None
) -> Session:
    """Every POST form carries the session's token: a page on another site cannot forge one."""
    if not csrf_token or not hmac.compare_digest(csrf_token.encode(), session.csrf.encode()):
        raise CsrfRejectedError
    return session


Staff = Annotated[Session, Depends(require_csrf)]
"""A signed-in session whose POST carried its CSRF token: what every board action needs."""


# ---------------------------------------------------------------- sign-in form


def sign_in_token(request: Request, settings: Settings) -> tuple[str, bool]:
    """The sign-in form's CSRF token, and whether it is new (and must be set as a cookie).

    There is no session yet, so the token is a double-submit one: a signed cookie and the
    same value in the form. A foreign page can make a browser post the form, but it cannot
    read or set the cookie, so it cannot sign a victim in with the attacker's key."""
    raw = request.cookies.get(SIGN_IN_COOKIE)
    if raw:
        try:
            token = _serializer(settings, "sign-in").loads(raw, max_age=SIGN_IN_MAX_AGE)
        except BadSignature:
            token = None
        if isinstance(token, str) and token:
            return token, False
    return secrets.token_urlsafe(32), True


def remember_sign_in_token(response: Response, settings: Settings, token: str) -> None:
    _set(response, settings, SIGN_IN_COOKIE, _serializer(settings, "sign-in").dumps(token), SIGN_IN_MAX_AGE)


def sign_in_token_ok(request: Request, settings: Settings, offered: str | None) -> bool:
    token, new = sign_in_token(request, settings)
    return not new and bool(offered) and hmac.compare_digest((offered or "").encode(), token.encode())


# ---------------------------------------------------------------- flash messages


def flash(response: Response, settings: Settings, level: FlashLevel, text: str) -> None:
    """A message for the page the redirect leads to (shown once)."""
    value = _serializer(settings, "flash").dumps({"l": level, "t": text[:500]})
    _set(response, settings, FLASH_COOKIE, value, FLASH_MAX_AGE)


def read_flash(request: Request, settings: Settings) -> Flash | None:
    """The pending flash message, if any (``clear_flash`` makes it show once)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(settings, "flash").loads(raw, max_age=FLASH_MAX_AGE)
    except BadSignature:
        return None
    level, text = (data.get("l"), data.get("t")) if isinstance(data, dict) else (None, None)
    if level not in ("ok", "error") or not isinstance(text, str):
        return None
    return Flash(level="ok" if level == "ok" else "error", text=text)


def clear_flash(request: Request, response: Response, settings: Settings) -> None:
    if FLASH_COOKIE in request.cookies:
        _delete(response, settings, FLASH_COOKIE)


def safe_next(target: str | None, default: str = "/board") -> str:
    """Only a path inside the board: a crafted ``next`` must not send staff to another site."""
    if not target or not target.startswith("/board") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(char) < 0x20 for char in target):
        return default
    return target
