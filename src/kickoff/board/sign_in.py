"""Signing in to the board with a staff API key, and out again (see ``kickoff.board.auth``)."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request, Response, status

from kickoff.board import auth
from kickoff.board.auth import Staff
from kickoff.board.pages import page, redirect, redirect_with_flash
from kickoff.board.routes import OptionalForm
from kickoff.context import Context

router = APIRouter(include_in_schema=False)
log = structlog.get_logger(__name__)


@router.get("/")
async def root() -> Response:
    return redirect("/board")


@router.get("/board/sign-in")
async def sign_in_form(request: Request, context: Context, next: str | None = None) -> Response:
    settings = context.settings
    if auth.read_session(request, settings) is not None:
        return redirect(auth.safe_next(next))
    return _sign_in_page(request, context, next)


def _sign_in_page(
    request: Request,
    context: Context,
    next_url: str | None,
    error: str | None = None,
    code: int = 200,
    name: str | None = None,
) -> Response:
    settings = context.settings
    token, new = auth.sign_in_token(request, settings)
    response = page(
        request,
        "sign_in.html",
        None,
        {"sign_in_token": token, "next": auth.safe_next(next_url), "name": name or ""},
        code,
        error=error,
    )
    if new:
        auth.remember_sign_in_token(response, settings, token)
    return response


@router.post("/board/sign-in")
async def sign_in(
    request: Request,
    context: Context,
    api_key: OptionalForm = None,
    name: OptionalForm = None,
    next: OptionalForm = None,
    csrf_token: OptionalForm = None,
) -> Response:
    """Sign in with a staff API key; a wrong key sets no cookie and says so."""
    settings = context.settings
    if not auth.sign_in_token_ok(request, settings, csrf_token):
        return _sign_in_page(
            request,
            context,
            next,
            "The sign-in form had expired or did not come from this site. Please try again.",
            status.HTTP_403_FORBIDDEN,
        )
    if not api_key or not auth.matching_key(settings, api_key):
        log.warning("board.sign_in_refused")
        return _sign_in_page(
            request, context, next, "That API key is not valid.", status.HTTP_401_UNAUTHORIZED, name
        )
    staff_name = (name or "").strip()[:100] or None
    response = redirect(auth.safe_next(next))
    auth.start_session(response, settings, api_key, staff_name)
    # The key's fingerprint, never the key: which key a session used, for the audit trail.
    log.info("board.signed_in", key_id=auth.key_id(settings, api_key)[:8])
    return response


@router.post("/board/sign-out")
async def sign_out(request: Request, context: Context, session: Staff) -> Response:
    response = redirect_with_flash(request, "/board/sign-in", "ok", "You are signed out.")
    auth.end_session(response, context.settings)
    return response
