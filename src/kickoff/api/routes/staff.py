"""Staff accounts, personal API tokens, onboarding owners and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from kickoff.api.deps import Acting, Admin, ApiKey, Context, Reading
from kickoff.api.errors import StrictRoute
from kickoff.api.identity_schemas import (
    AccountChange,
    AccountIn,
    AccountPublic,
    AuditEntryPublic,
    OwnerIn,
    OwnerSet,
    TokenCreated,
    TokenIn,
    TokenPublic,
)
from kickoff.api.responses import not_found
from kickoff.identity import Account, AccountError, AccountStore, Principal
from kickoff.identity.assignments import AssignmentStore
from kickoff.identity.audit import AuditLog, audit
from kickoff.identity.sessions import SessionStore
from kickoff.identity.tokens import TokenInfo, TokenStore
from kickoff.service import ConflictError, NotFoundError, UnprocessableError

router = APIRouter(tags=["staff"], dependencies=[ApiKey], route_class=StrictRoute)


def public(account: Account) -> AccountPublic:
    return AccountPublic(
        id=account.id,
        email=account.email,
        name=account.name,
        role=account.role,
        disabled=account.disabled,
        sso=account.sso,
    )


def is_me(who: Principal, user: str, field: str) -> bool:
    """Whether ``user`` is "me"; 422 for a service key, which is nobody."""
    if user.strip().lower() != "me":
        return False
    if who.account is None:
        raise UnprocessableError(f'{field}: a service key is nobody, so "me" names no one: give an address')
    return True


async def person(context: Context, who: Principal, user: str | None, field: str = "user") -> Account | None:
    """The account ``user`` names: "me", an e-mail address, or None (no one). 422 when it names
    no account that may act (unknown, disabled, or a viewer)."""
    if user is None:
        return None
    if is_me(who, user, field):
        assert who.account is not None
        return who.account
    found = await AccountStore(context.database).by_email(user)
    if found is None:
        raise UnprocessableError(f"{field}: no account has that e-mail address")
    if not found.takes_work:
        raise UnprocessableError(f"{field}: that account cannot take work (disabled, or a viewer)")
    return found


# ---------------------------------------------------------------- who am I


@router.get("/me", response_model=AccountPublic | None)
async def me(who: Reading) -> AccountPublic | None:
    """The account the token belongs to (null for a service key)."""
    return public(who.account) if who.account is not None else None


# ---------------------------------------------------------------- accounts (admin)


@router.get("/accounts", response_model=list[AccountPublic])
async def list_accounts(context: Context, who: Admin) -> list[AccountPublic]:
    return [public(account) for account in await AccountStore(context.database).all()]


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "An account with that address exists"}},
)
async def create_account(body: AccountIn, context: Context, who: Admin, response: Response) -> AccountPublic:
    """A new staff account (with a password, or for single sign-on only)."""
    response.headers["Cache-Control"] = "no-store"
    try:
        account = await AccountStore(context.database).create(body.email, body.role, body.name, body.password)
    except AccountError as err:
        raise (ConflictError if "exists" in str(err) else UnprocessableError)(str(err)) from None
    await audit(context.database, who, "account_created", account=account.id, role=account.role)
    return public(account)


@router.patch("/accounts/{account_id}", responses={404: {"description": "No such account"}})
async def change_account(account_id: str, body: AccountChange, context: Context, who: Admin) -> AccountPublic:
    """Change an account's role, or disable it: its sessions and tokens stop working at once."""
    accounts = AccountStore(context.database)
    if await accounts.get(account_id) is None:
        raise NotFoundError("no such account")
    if body.role is not None:
        await accounts.set_role(account_id, body.role)
    if body.disabled is not None:
        await accounts.set_disabled(account_id, body.disabled)
        if body.disabled:
            await SessionStore(context.database).end_all(account_id)
    changed = await accounts.get(account_id)
    assert changed is not None
    await audit(
        context.database, who, "account_changed", account=account_id, role=body.role, disabled=body.disabled
    )
    return public(changed)


# ---------------------------------------------------------------- personal tokens


def _token(info: TokenInfo) -> TokenPublic:
    return TokenPublic(
        id=info.id,
        name=info.name,
        created_at=info.created_at,
        last_used_at=info.last_used_at,
        revoked=info.revoked,
    )


def _own(who: Principal) -> Account:
    if who.account is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "a service key has no account, so no personal tokens: sign in with an account",
        )
    return who.account


@router.get("/tokens", response_model=list[TokenPublic])
async def list_tokens(context: Context, who: Reading) -> list[TokenPublic]:
    """Your personal API tokens (revoked ones included, with their last use)."""
    return [_token(info) for info in await TokenStore(context.database).of_account(_own(who).id)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
async def create_token(body: TokenIn, context: Context, who: Reading, response: Response) -> TokenCreated:
    """A new personal token acting as you, with your role; the answer is the only time it is shown."""
    # No cache, and no Idempotency-Key replay store (kickoff.api.idempotency), ever holds it.
    response.headers["Cache-Control"] = "no-store"
    try:
        text, info = await TokenStore(context.database).create(_own(who), body.name)
    except AccountError as err:
        raise UnprocessableError(str(err)) from None
    await audit(context.database, who, "token_created", token=info.id)
    return TokenCreated(**_token(info).model_dump(), token=text)


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such token"}},
)
async def revoke_token(token_id: str, context: Context, who: Reading) -> None:
    """Revoke one of your tokens (an admin may revoke anyone's): it stops working at once."""
    owner = None if who.may("admin") else _own(who).id
    if not await TokenStore(context.database).revoke(token_id, owner):
        raise NotFoundError("no such token, or it is revoked already")
    await audit(context.database, who, "token_revoked", token=token_id)


# ---------------------------------------------------------------- owners


@router.put(
    "/onboardings/{onboarding_id}/owner",
    responses={**not_found("No such onboarding"), 422: {"description": "No account may own it"}},
)
async def set_owner(onboarding_id: str, body: OwnerIn, context: Context, who: Acting) -> OwnerSet:
    """Give the onboarding an owner (a person, as a ticket owner), or none."""
    if context.service is not None:
        await context.service.state(onboarding_id)  # 404 for an unknown onboarding
    account = await person(context, who, body.user)
    await AssignmentStore(context.database).set_owner(onboarding_id, account)
    await audit(context.database, who, "owner_set", onboarding_id, owner=account.id if account else None)
    return OwnerSet(id=onboarding_id, owner=account.email if account else None)


# ---------------------------------------------------------------- the audit log


@router.get("/audit", response_model=list[AuditEntryPublic])
async def audit_log(
    context: Context,
    who: Admin,
    onboarding: str | None = None,
    user: Annotated[str | None, Query(description="An account's e-mail address")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditEntryPublic]:
    """Who did what, newest first; by onboarding and/or by account."""
    account_id = None
    if user is not None:
        found = await AccountStore(context.database).by_email(user)
        if found is None:
            return []
        account_id = found.id
    entries = await AuditLog(context.database).entries(
        onboarding_id=onboarding, account_id=account_id, limit=limit
    )
    return [
        AuditEntryPublic(
            id=e.id, at=e.at, actor=e.actor, action=e.action, onboarding_id=e.onboarding_id, detail=e.detail
        )
        for e in entries
    ]
