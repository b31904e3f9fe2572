"""Single sign-on to the board: off to the company's identity provider and back.

``GET /board/sso/start`` keeps the sign-in's state, nonce and PKCE verifier in a short-lived
signed cookie (HttpOnly, SameSite=Lax, sent to ``/board/sso`` only) and sends the browser to
the provider. ``GET /board/sso/callback`` checks the answer's state against that cookie,
exchanges the code with the verifier, validates the ID token (``kickoff.identity.sso``), maps
its claims to a role and signs the account in. Every refusal goes back to the sign-in page
with its reason, and sets no session.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Request, Response, status
from itsdangerous import BadSignature, URLSafeTimedSerializer

from kickoff.board import auth
from kickoff.board.pages import page, redirect, redirect_with_flash
from kickoff.context import Context
from kickoff.identity.accounts import AccountError, AccountStore, SignInRefusedError
from kickoff.identity.audit import AuditLog
from kickoff.identity.sso import (
    PendingSignIn,
    RelyingParty,
    SsoError,
    parse_role_mapping,
    role_for,
    sso_enabled,
)
from kickoff.settings import Settings

__all__ = ["router", "sso_enabled"]

router = APIRouter(include_in_schema=False)
log = structlog.get_logger(__name__)

PENDING_COOKIE = "kickoff_board_sso"
PENDING_PATH = "/board/sso"
PENDING_MAX_AGE = 600
"""Seconds a sign-in may spend at the identity provider before its answer is refused."""

BAD_STATE = (
    "This single sign-on answer does not belong to a sign-in started in this browser, or it "
    "took more than 10 minutes, so nobody was signed in. Please sign in again."
)
PROVIDER_ERRORS = {
    "access_denied": "The identity provider did not let you sign in to Kickoff (access denied).",
    "login_required": "The identity provider needs you to sign in there first.",
    "interaction_required": "The identity provider needs you to finish signing in there first.",
    "consent_required": "Kickoff has not been granted access at the identity provider: ask an admin.",
    "temporarily_unavailable": "The identity provider is unavailable for a moment: please try again.",
    "server_error": "The identity provider failed to sign you in: please try again.",
}


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret.get_secret_value(), salt="kickoff-board-sso")


def relying_party(request: Request, settings: Settings) -> RelyingParty:
    """The app's relying party: made on first use, so its cached discovery document and keys
    serve every sign-in after."""
    party: RelyingParty | None = getattr(request.app.state, "kickoff_sso", None)
    if party is None:
        party = RelyingParty.from_settings(settings)
        request.app.state.kickoff_sso = party
    return party


def _sign_in_page(target: str) -> str:
    return "/board/sign-in" if target == "/board" else f"/board/sign-in?{urlencode({'next': target})}"


def _forget_pending(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        PENDING_COOKIE,
        path=PENDING_PATH,
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="lax",
    )


def _refused(request: Request, settings: Settings, target: str, reason: str) -> Response:
    response = redirect_with_flash(request, _sign_in_page(target), "error", reason)
    _forget_pending(response, settings)
    return response


def _read_pending(request: Request, settings: Settings) -> tuple[PendingSignIn | None, str]:
    """The sign-in this browser started (None when there is none, or it is too old or forged),
    and where it goes afterwards."""
    raw = request.cookies.get(PENDING_COOKIE)
    if not raw:
        return None, "/board"
    try:
        data = _serializer(settings).loads(raw, max_age=PENDING_MAX_AGE)
    except BadSignature:  # also expired
        return None, "/board"
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("s", "n", "v", "x")):
        return None, "/board"
    return PendingSignIn(state=data["s"], nonce=data["n"], code_verifier=data["v"]), auth.safe_next(data["x"])


def _not_set_up(request: Request) -> Response:
    return page(
        request,
        "error.html",
        auth.known_session(request),
        {"title": "Single sign-on is not set up"},
        status.HTTP_404_NOT_FOUND,
        error="This Kickoff has no single sign-on (KICKOFF_OIDC_ISSUER is not set): "
        "sign in on the sign-in page instead.",
    )


@router.get("/board/sso/start")
async def sso_start(request: Request, context: Context, next: str | None = None) -> Response:
    """Leave for the identity provider, remembering this sign-in in a short-lived cookie."""
    settings = context.settings
    if not sso_enabled(settings):
        return _not_set_up(request)
    target = auth.safe_next(next)
    pending = PendingSignIn.new()
    try:
        url = await relying_party(request, settings).authorization_url(pending)
    except SsoError as err:
        log.warning("board.sso_unavailable", reason=str(err))
        return _refused(request, settings, target, str(err))
    response = redirect(url)
    value = {"s": pending.state, "n": pending.nonce, "v": pending.code_verifier, "x": target}
    response.set_cookie(
        PENDING_COOKIE,
        _serializer(settings).dumps(value),
        max_age=PENDING_MAX_AGE,
        path=PENDING_PATH,
        secure=settings.session_cookie_secure,
        httponly=True,
        # Lax: sent on the provider's top-level redirect back to the callback, never on a
        # request another site's page makes in the background.
        samesite="lax",
    )
    return response


@router.get("/board/sso/callback")
async def sso_callback(
    request: Request,
    context: Context,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
    iss: str | None = None,
) -> Response:
    """The identity provider's answer: a code to exchange for an ID token, or an error."""
    settings = context.settings
    if not sso_enabled(settings):
        return _not_set_up(request)
    pending, target = _read_pending(request, settings)
    ours = (
        pending is not None
        and bool(state)
        and hmac.compare_digest((state or "").encode(), pending.state.encode())
    )
    if error:
        reason = PROVIDER_ERRORS.get(error, "The identity provider refused the sign-in.")
        # The provider's own words only for a sign-in started here: anyone can link to this
        # address with any text in it.
        if ours and error_description:
            reason = f"{reason} It said: {error_description[:200]}"
        log.warning("board.sso_refused", reason="provider_error", error=error[:50], ours=ours)
        return _refused(request, settings, target, reason)
    if pending is None or not ours:
        log.warning("board.sso_refused", reason="bad_state", pending=pending is not None)
        return _refused(request, settings, target, BAD_STATE)
    if not code:
        return _refused(request, settings, target, "The identity provider answered without a sign-in code.")
    try:
        identity = await relying_party(request, settings).sign_in(code, pending, iss)
        role = role_for(identity.claims, parse_role_mapping(settings.oidc_roles), settings.oidc_role_claim)
        account = await AccountStore(context.database).sso_sign_in(
            identity.issuer, identity.subject, identity.email, identity.name, role
        )
    except (SsoError, SignInRefusedError, AccountError) as err:
        log.warning("board.sso_refused", reason=str(err))
        return _refused(request, settings, target, str(err))
    response = redirect(target)
    await auth.start_session(response, context, account)
    _forget_pending(response, settings)
    await AuditLog(context.database).record(
        account.email, "sign_in", detail={"method": "sso"}, account_id=account.id
    )
    log.info("board.signed_in", method="sso", account_id=account.id, role=account.role)
    return response
