"""Who is calling (a personal API token or a service key) and what their role lets them do;
the app context and the service come from ``kickoff.context``."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kickoff.context import AppContext, Context, Service, get_context
from kickoff.identity import Principal, Role
from kickoff.identity.throttle import client_address
from kickoff.identity.tokens import TokenStore
from kickoff.settings import Settings

__all__ = [
    "Acting",
    "Admin",
    "ApiKey",
    "AppContext",
    "Context",
    "Reading",
    "Service",
    "authenticate",
    "get_context",
]

_bearer = HTTPBearer(
    auto_error=False,
    description="A personal API token (kt_…, made on the board or with kickoff-admin create-token) "
    "or a service key from KICKOFF_API_KEYS",
)
BEARER_FAILURES = "bearer"


def service_key_id(settings: Settings, offered: str) -> str | None:
    """The fingerprint of the service key ``offered`` is, None when it is none of them (every
    key compared in constant time, so timing reveals nothing)."""
    found = None
    for key in settings.api_keys:
        if hmac.compare_digest(offered.encode(), key.get_secret_value().encode()):
            secret = settings.session_secret.get_secret_value().encode()
            found = hmac.new(secret, offered.encode(), hashlib.sha256).hexdigest()[:8]
    return found


async def authenticate(
    request: Request,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """401 unless ``Authorization: Bearer`` carries a live personal token or a service key;
    429 with Retry-After for a client address that sent too many wrong ones lately."""
    address = client_address(request)
    wait = context.throttle.retry_after(BEARER_FAILURES, address)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed authentications from this address: retry in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "missing or unknown API key or token: send Authorization: Bearer <personal token or service key>",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    offered = credentials.credentials
    key = service_key_id(context.settings, offered)
    if key is not None:
        return Principal(account=None, service_key=key)
    account = await TokenStore(context.database).authenticate(offered)
    if account is None:
        context.throttle.failed(BEARER_FAILURES, address)
        raise unauthorized
    return Principal(account=account)


def _requires(role: Role) -> object:
    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.may(role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs the {role} role; your account is {principal.role}"
            )
        return principal

    return Depends(check)


ApiKey = Depends(authenticate)
"""Any authenticated caller (the routers' dependency; the name is kept from service keys)."""
Reading = Annotated[Principal, _requires("viewer")]
Acting = Annotated[Principal, _requires("staff")]
"""A caller who may act on onboardings and tasks."""
Admin = Annotated[Principal, _requires("admin")]
"""A caller who may manage accounts and tokens, erase personal data and read the audit log."""
