"""Rendering board pages and redirects, with the headers every board response carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request, Response, status
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from kickoff.board import auth
from kickoff.board.auth import Session
from kickoff.service import (
    ConflictError,
    ErasedOnboardingError,
    NotFoundError,
    UnavailableError,
    UnprocessableError,
)
from kickoff.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def server_templates(folder: Path) -> Jinja2Templates:
    """The HTML templates in ``folder``, as every server-rendered page (board, customer page) has them."""
    return Jinja2Templates(
        env=jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder),
            autoescape=jinja2.select_autoescape(["html"]),
            # A misspelt variable is a template bug: fail the render (and the tests), never show "".
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    )


templates = server_templates(TEMPLATES)

SECURITY_HEADERS = {
    # Pages show customers' personal data: no shared or back-button caches.
    "Cache-Control": "no-store",
    # No script at all; inline styles only because the report charts carry a style attribute.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

STATUS_OF: dict[type[Exception], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    ErasedOnboardingError: status.HTTP_409_CONFLICT,
    UnprocessableError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    UnavailableError: status.HTTP_503_SERVICE_UNAVAILABLE,
}
SERVICE_ERRORS = (NotFoundError, ConflictError, UnprocessableError, UnavailableError)


def status_of(err: Exception, default: int) -> int:
    """The status a service error answers with: its own kind's, else the nearest kind it
    refines (a slot already taken is a conflict), else ``default``."""
    return next((STATUS_OF[kind] for kind in type(err).__mro__ if kind in STATUS_OF), default)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.kickoff.settings
    return settings


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def page(
    request: Request,
    name: str,
    session: Session | None,
    context: dict[str, Any] | None = None,
    status_code: int = status.HTTP_200_OK,
    error: str | None = None,
) -> Response:
    """A full page; a pending flash message is shown on it (once), ``error`` above everything."""
    settings = settings_of(request)
    values: dict[str, Any] = {
        "session": session,
        "csrf_field": auth.CSRF_FIELD,
        "csrf": session.csrf if session else "",
        "flash": auth.read_flash(request, settings),
        "error": error,
        "path": request.url.path,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, values, status_code=status_code)
    auth.clear_flash(request, response, settings)
    return secured(response)


def redirect(url: str) -> Response:
    """303: the browser follows a form POST with a GET, so reloading never posts twice."""
    return secured(RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER))


def redirect_with_flash(request: Request, url: str, level: auth.FlashLevel, text: str) -> Response:
    response = redirect(url)
    auth.flash(response, settings_of(request), level, text)
    return response


def error_page(request: Request, session: Session | None, err: Exception, title: str = "") -> Response:
    """A page for a service error (404 unknown onboarding, 503 no worker, …) with its reason."""
    code = status_of(err, status.HTTP_500_INTERNAL_SERVER_ERROR)
    return page(
        request, "error.html", session, {"title": title or "Something went wrong"}, code, error=str(err)
    )
