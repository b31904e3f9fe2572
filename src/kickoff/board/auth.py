"""The board's sign-in session, CSRF tokens and flash messages.

The session lives in Kickoff's database (``kickoff.identity.sessions``); its cookie, scoped to
``/board`` so the JSON API (Bearer tokens, no cookies) never sees it, carries only a random
token. Signing out, disabling the account or an admin ending its sessions takes effect on the
next request. Flash messages and the sign-in form's CSRF token are short-lived signed cookies.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Depends, Form, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from kickoff.context import AppContext, Context
from kickoff.identity import Account, Principal, Role
from kickoff.identity.sessions import SessionStore
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


class RoleRequiredError(Exception):
    """Signed in, but the account's role does not allow this: 403, nothing is done."""

    def __init__(self, needed: Role, has: Role) -> None:
        super().__init__(f"This needs the {needed} role; your account is {has}. Ask an admin.")


@dataclass(frozen=True)
class Session:
    account: Account
    csrf: str

    @property
    def name(self) -> str:
        """Who is signed in, as the page header shows it."""
        return self.account.label

    @property
    def by(self) -> str:
        """Who acted, as the onboarding's timeline records it: the account's e-mail address."""
        return self.account.email

    @property
    def principal(self) -> Principal:
        return Principal(account=self.account)


@dataclass(frozen=True)
class Flash:
    level: FlashLevel
    text: str


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    # One salt per cookie: a signed flash can never pass as a session, and so on.
    return URLSafeTimedSerializer(settings.session_secret.get_secret_value(), salt=f"kickoff-board-{purpose}")


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


async def read_session(request: Request, context: AppContext) -> Session | None:
    """The live session of the request's cookie, if any (read once per request)."""
    if hasattr(request.state, "board_session"):
        known: Session | None = request.state.board_session
        return known
    token = request.cookies.get(SESSION_COOKIE)
    found = await SessionStore(context.database).resolve(token) if token else None
    session = Session(account=found.account, csrf=found.csrf) if found is not None else None
    request.state.board_session = session
    return session


def known_session(request: Request) -> Session | None:
    """The session this request has already read (for pages rendered where nothing can be
    awaited, e.g. an error handler), None when it has not."""
    known: Session | None = getattr(request.state, "board_session", None)
    return known


async def start_session(response: Response, context: AppContext, account: Account) -> None:
    """Sign ``account`` in: a new server-side session, its token in the cookie."""
    settings = context.settings
    lifetime = timedelta(seconds=settings.session_max_age_seconds)
    token = await SessionStore(context.database).start(account, lifetime)
    _set(response, settings, SESSION_COOKIE, token, settings.session_max_age_seconds)
    _delete(response, settings, SIGN_IN_COOKIE)


async def end_session(request: Request, response: Response, context: AppContext) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await SessionStore(context.database).end(token)
    _delete(response, context.settings, SESSION_COOKIE)


async def require_session(request: Request, context: Context) -> Session:
    """The signed-in session, or a redirect to the sign-in page (that comes back here after)."""
    session = await read_session(request, context)
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


def require_staff(session: Annotated[Session, Depends(require_csrf)]) -> Session:
    if not session.principal.may("staff"):
        raise RoleRequiredError("staff", session.account.role)
    return session


def require_admin(session: Annotated[Session, Depends(require_csrf)]) -> Session:
    if not session.principal.may("admin"):
        raise RoleRequiredError("admin", session.account.role)
    return session


def admin_viewing(session: SignedIn) -> Session:
    """A signed-in admin, for the pages only admins see (GET: no CSRF token)."""
    if not session.principal.may("admin"):
        raise RoleRequiredError("admin", session.account.role)
    return session


Staff = Annotated[Session, Depends(require_staff)]
"""A signed-in staff member (or admin) whose POST carried its CSRF token: what acting needs."""
SignedInForm = Annotated[Session, Depends(require_csrf)]
"""Any signed-in account whose POST carried its CSRF token (signing out, one's own tokens)."""
AdminForm = Annotated[Session, Depends(require_admin)]
AdminPage = Annotated[Session, Depends(admin_viewing)]


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
