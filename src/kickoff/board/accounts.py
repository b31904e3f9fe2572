"""The board's account pages: your personal API tokens, and (admins) the staff accounts."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from kickoff.board.auth import AdminForm, AdminPage, Session, SignedIn, SignedInForm
from kickoff.board.pages import page, redirect_with_flash
from kickoff.board.routes import OptionalForm
from kickoff.context import Context
from kickoff.identity import AccountError, AccountStore
from kickoff.identity.audit import audit
from kickoff.identity.roles import ROLES, parse_role
from kickoff.identity.sessions import SessionStore
from kickoff.identity.tokens import TokenStore

router = APIRouter(include_in_schema=False)
ACCOUNT_PAGE = "/board/account"
ACCOUNTS_PAGE = "/board/admin/accounts"


# ---------------------------------------------------------------- your tokens


@router.get(ACCOUNT_PAGE)
async def account_page(request: Request, context: Context, session: SignedIn) -> Response:
    return await _account_page(request, context, session)


async def _account_page(
    request: Request, context: Context, session: Session, new_token: str | None = None, code: int = 200
) -> Response:
    tokens = await TokenStore(context.database).of_account(session.account.id)
    return page(
        request,
        "account.html",
        session,
        {"tokens": tokens, "new_token": new_token, "account": session.account},
        code,
    )


@router.post(f"{ACCOUNT_PAGE}/tokens")
async def create_token(
    request: Request, context: Context, session: SignedInForm, name: OptionalForm = None
) -> Response:
    """A new personal token, shown on the answer page once (never in a redirect or a cookie)."""
    try:
        text, info = await TokenStore(context.database).create(session.account, name or "")
    except AccountError as err:
        return redirect_with_flash(request, ACCOUNT_PAGE, "error", f"Not created: {err}.")
    await audit(context.database, session.principal, "token_created", token=info.id)
    return await _account_page(request, context, session, new_token=text, code=status.HTTP_201_CREATED)


@router.post(f"{ACCOUNT_PAGE}/tokens/{{token_id}}/revoke")
async def revoke_token(request: Request, context: Context, session: SignedInForm, token_id: str) -> Response:
    if not await TokenStore(context.database).revoke(token_id, session.account.id):
        return redirect_with_flash(request, ACCOUNT_PAGE, "error", "No such token, or it is revoked already.")
    await audit(context.database, session.principal, "token_revoked", token=token_id)
    return redirect_with_flash(request, ACCOUNT_PAGE, "ok", "Token revoked: it no longer works.")


# ---------------------------------------------------------------- accounts (admins)


@router.get(ACCOUNTS_PAGE)
async def accounts_page(request: Request, context: Context, session: AdminPage) -> Response:
    accounts = await AccountStore(context.database).all()
    return page(request, "accounts.html", session, {"accounts": accounts, "roles": ROLES})


@router.post(ACCOUNTS_PAGE)
async def create_account(
    request: Request,
    context: Context,
    session: AdminForm,
    email: OptionalForm = None,
    role: OptionalForm = None,
    name: OptionalForm = None,
    password: OptionalForm = None,
) -> Response:
    try:
        made = await AccountStore(context.database).create(
            email or "", parse_role(role or ""), name or "", password or None
        )
    except (AccountError, ValueError) as err:
        return redirect_with_flash(request, ACCOUNTS_PAGE, "error", f"Not created: {err}.")
    await audit(context.database, session.principal, "account_created", account=made.id, role=made.role)
    return redirect_with_flash(request, ACCOUNTS_PAGE, "ok", f"Account {made.email} created ({made.role}).")


@router.post(f"{ACCOUNTS_PAGE}/{{account_id}}")
async def change_account(
    request: Request,
    context: Context,
    session: AdminForm,
    account_id: str,
    role: OptionalForm = None,
    disabled: OptionalForm = None,
) -> Response:
    """Change a role, or disable / enable an account (disabling ends its sessions at once)."""
    accounts = AccountStore(context.database)
    target = await accounts.get(account_id)
    if target is None:
        return redirect_with_flash(request, ACCOUNTS_PAGE, "error", "No such account.")
    if target.id == session.account.id and (disabled == "true" or (role and role != "admin")):
        return redirect_with_flash(
            request, ACCOUNTS_PAGE, "error", "You cannot disable or demote yourself: ask another admin."
        )
    try:
        if role:
            await accounts.set_role(account_id, parse_role(role))
        if disabled in ("true", "false"):
            await accounts.set_disabled(account_id, disabled == "true")
            if disabled == "true":
                await SessionStore(context.database).end_all(account_id)
    except ValueError as err:
        return redirect_with_flash(request, ACCOUNTS_PAGE, "error", f"Not changed: {err}.")
    await audit(
        context.database,
        session.principal,
        "account_changed",
        account=account_id,
        role=role,
        disabled=disabled,
    )
    return redirect_with_flash(request, ACCOUNTS_PAGE, "ok", f"Account {target.email} changed.")
