"""Signing in to the board with an account's e-mail address and password, and out again (see
``kickoff.board.auth``; single sign-on is ``kickoff.board.sso``)."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request, Response, status

from kickoff.board import auth
from kickoff.board.auth import SignedInForm
from kickoff.board.pages import page, redirect, redirect_with_flash
from kickoff.board.routes import OptionalForm
from kickoff.context import Context
from kickoff.identity import AccountStore, SignInRefusedError
from kickoff.identity.audit import AuditLog
from kickoff.identity.throttle import client_address

router = APIRouter(include_in_schema=False)
log = structlog.get_logger(__name__)
SIGN_IN_FAILURES = "sign-in"


def _sso_enabled(context: Context) -> bool:
    return bool(getattr(context.settings, "oidc_issuer", ""))


@router.get("/")
async def root() -> Response:
    return redirect("/board")


@router.get("/board/sign-in")
async def sign_in_form(request: Request, context: Context, next: str | None = None) -> Response:
    if await auth.read_session(request, context) is not None:
        return redirect(auth.safe_next(next))
    return _sign_in_page(request, context, next)


def _sign_in_page(
    request: Request,
    context: Context,
    next_url: str | None,
    error: str | None = None,
    code: int = 200,
    email: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    settings = context.settings
    token, new = auth.sign_in_token(request, settings)
    response = page(
        request,
        "sign_in.html",
        None,
        {
            "sign_in_token": token,
            "next": auth.safe_next(next_url),
            "email": email or "",
            "sso_enabled": _sso_enabled(context),
        },
        code,
        error=error,
    )
    response.headers.update(headers or {})
    if new:
        auth.remember_sign_in_token(response, settings, token)
    return response


@router.post("/board/sign-in")
async def sign_in(
    request: Request,
    context: Context,
    email: OptionalForm = None,
    password: OptionalForm = None,
    next: OptionalForm = None,
    csrf_token: OptionalForm = None,
) -> Response:
    """Sign in with an account's address and password; a refusal sets no cookie and says why."""
    settings = context.settings
    if not auth.sign_in_token_ok(request, settings, csrf_token):
        return _sign_in_page(
            request,
            context,
            next,
            "The sign-in form had expired or did not come from this site. Please try again.",
            status.HTTP_403_FORBIDDEN,
        )
    address = client_address(request)
    wait = context.throttle.retry_after(SIGN_IN_FAILURES, address)
    if wait is not None:
        return _sign_in_page(
            request,
            context,
            next,
            f"Too many failed sign-ins from your address: try again in {wait} seconds.",
            status.HTTP_429_TOO_MANY_REQUESTS,
            email,
            {"Retry-After": str(wait)},
        )
    try:
        account = await AccountStore(context.database).password_sign_in(email or "", password or "")
    except SignInRefusedError as refused:
        context.throttle.failed(SIGN_IN_FAILURES, address)
        log.warning("board.sign_in_refused", locked=refused.retry_after is not None)
        if refused.retry_after is not None:
            return _sign_in_page(
                request,
                context,
                next,
                str(refused),
                status.HTTP_429_TOO_MANY_REQUESTS,
                email,
                {"Retry-After": str(refused.retry_after)},
            )
        return _sign_in_page(request, context, next, str(refused), status.HTTP_401_UNAUTHORIZED, email)
    response = redirect(auth.safe_next(next))
    await auth.start_session(response, context, account)
    await AuditLog(context.database).record(
        account.email, "sign_in", detail={"method": "password"}, account_id=account.id
    )
    log.info("board.signed_in", account=account.id[:8])
    return response


@router.post("/board/sign-out")
async def sign_out(request: Request, context: Context, session: SignedInForm) -> Response:
    response = redirect_with_flash(request, "/board/sign-in", "ok", "You are signed out.")
    await auth.end_session(request, response, context)
    return response
